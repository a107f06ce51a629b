// The invoice editor, made quicker: a line's reference fills it from its article, and the
// totals add up while one types. Without this script the editor still works: the server
// fills lines from their reference and adds up on each save (it alone decides the amounts).
(() => {
  const editor = document.getElementById("editor");
  if (!editor) return;
  const articles = JSON.parse(document.getElementById("article-data").textContent);
  const byReference = new Map(articles.map((a) => [a.reference, a]));
  const franchise = editor.dataset.franchise === "1";

  // French numbers as typed: "1 234,5" -> 1234.5 (NaN when not a number).
  const number = (text) => {
    const cleaned = String(text || "").replace(/[\s\u00a0\u202f]/g, "").replace(",", ".");
    return cleaned === "" ? NaN : Number(cleaned);
  };
  // Half up to the cent, in integer cents to avoid binary fractions.
  const cents = (value) => Math.sign(value) * Math.round(Math.abs(value) * 100 + 1e-7);
  const euros = (c) => {
    const sign = c < 0 ? "-" : "";
    const whole = Math.floor(Math.abs(c) / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, "\u202f");
    return `${sign}${whole},${String(Math.abs(c) % 100).padStart(2, "0")}\u00a0€`;
  };
  const field = (row, name) => row.querySelector(`[name$="-${name}"]`);

  const fill = (row) => {
    const article = byReference.get(field(row, "reference").value.trim());
    if (!article) return;
    const designation = field(row, "designation");
    if (designation.value.trim() && field(row, "article_id").value === article.id) return;
    designation.value = article.designation;
    field(row, "unit").value = article.unit;
    field(row, "unit_price").value = article.unit_price;
    if (!franchise) field(row, "vat_rate").value = article.vat_rate;
    field(row, "vat_exemption").value = article.vat_exemption;
    field(row, "nature").value = article.nature;
    field(row, "article_id").value = article.id;
    if (!field(row, "quantity").value.trim()) field(row, "quantity").value = "1";
  };

  const addUp = () => {
    const groups = new Map();
    let ht = 0;
    for (const row of editor.querySelectorAll("tr.line")) {
      const cell = row.querySelector(".net");
      const quantity = number(field(row, "quantity").value || "1");
      const price = number(field(row, "unit_price").value);
      const discount = number(field(row, "discount").value || "0");
      const rate = number(field(row, "vat_rate").value);
      if (!field(row, "designation").value.trim() || [quantity, price, discount, rate].some(Number.isNaN)) {
        cell.textContent = "";
        continue;
      }
      const net = cents(quantity * price * (1 - discount / 100));
      cell.textContent = euros(net);
      ht += net;
      groups.set(rate, (groups.get(rate) || 0) + net);
    }
    let vat = 0;
    const body = document.querySelector("#vat-table tbody");
    body.replaceChildren();
    for (const [rate, base] of [...groups].sort((a, b) => b[0] - a[0])) {
      const amount = cents((base * rate) / 100 / 100);
      vat += amount;
      const tr = body.insertRow();
      for (const text of [`${String(rate).replace(".", ",")} %`, euros(base), euros(amount)]) {
        tr.insertCell().textContent = text;
      }
      tr.cells[1].className = tr.cells[2].className = "num";
    }
    document.getElementById("total-ht").textContent = euros(ht);
    document.getElementById("total-vat").textContent = euros(vat);
    document.getElementById("total-ttc").replaceChildren(Object.assign(document.createElement("strong"), { textContent: euros(ht + vat) }));
  };

  editor.addEventListener("change", (event) => {
    const row = event.target.closest("tr.line");
    if (row && event.target.name.endsWith("-reference")) fill(row);
    addUp();
  });
  editor.addEventListener("input", addUp);
  addUp();
})();
