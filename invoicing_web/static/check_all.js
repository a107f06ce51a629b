// A "check all" box checks every box of its form (the companies list).
document.querySelectorAll("[data-check-all]").forEach(function (all) {
  all.addEventListener("change", function () {
    all.form.querySelectorAll('input[name="ids"]').forEach(function (box) { box.checked = all.checked; });
  });
});
