// The rights matrix, several cells at once (seed 004): a row's or a column's box ticks its
// cells; Maj+clic ticks every cell between the last one clicked and this one; the count of
// ticked cells is said. The row and column boxes only tick cells here: on sending, they
// are left out, so that a cell unticked afterwards stays out (without JavaScript the server
// expands the rows and columns itself).
(function () {
  var form = document.querySelector("table.matrix") && document.querySelector("table.matrix").closest("form");
  if (!form) { return; }
  var picks = Array.prototype.slice.call(form.querySelectorAll("input.pick"));
  var count = document.getElementById("pick-count");
  var last = null;

  function say() {
    var n = picks.filter(function (box) { return box.checked; }).length;
    if (count) { count.textContent = n ? n + (n > 1 ? " cases cochées" : " case cochée") : ""; }
  }

  function tick(boxes, checked) {
    boxes.forEach(function (box) { box.checked = checked; });
    say();
  }

  form.querySelectorAll("input.pick-row").forEach(function (all) {
    all.addEventListener("change", function () {
      tick(Array.prototype.slice.call(all.closest("tr").querySelectorAll("input.pick")), all.checked);
    });
  });
  form.querySelectorAll("input.pick-column").forEach(function (all) {
    all.addEventListener("change", function () {
      tick(picks.filter(function (box) { return box.dataset.column === all.dataset.column; }), all.checked);
    });
  });
  picks.forEach(function (box) {
    box.addEventListener("click", function (event) {
      if (event.shiftKey && last !== null && last !== box) {
        var from = picks.indexOf(last), to = picks.indexOf(box);
        tick(picks.slice(Math.min(from, to), Math.max(from, to) + 1), box.checked);
      }
      last = box;
      say();
    });
  });
  form.addEventListener("submit", function () {
    form.querySelectorAll("input.pick-row, input.pick-column").forEach(function (all) { all.disabled = true; });
  });
  window.addEventListener("pageshow", function () {  // back to the page: boxes usable again
    form.querySelectorAll("input.pick-row, input.pick-column").forEach(function (all) { all.disabled = false; });
  });
  say();
})();
