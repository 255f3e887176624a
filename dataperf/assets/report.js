// Sorting and filtering of dataperf's HTML report tables (inlined by dataperf/_html.py).
"use strict";
document.querySelectorAll(".table-box").forEach(function (box) {
  var table = box.querySelector("table"), body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var text = box.querySelector("input.filter"), select = box.querySelector("select.category");
  var count = box.querySelector(".count"), label = box.getAttribute("data-label");
  var haystack = rows.map(function (r) { return r.textContent.toLowerCase(); });
  function apply() {
    var terms = text.value.toLowerCase().split(/\s+/).filter(Boolean);
    var cat = select ? select.value : "", shown = 0;
    rows.forEach(function (row, i) {
      var ok = (!cat || row.getAttribute("data-cat") === cat) &&
        terms.every(function (t) { return haystack[i].indexOf(t) >= 0; });
      row.hidden = !ok;
      if (ok) { shown += 1; }
    });
    count.textContent = shown + " of " + rows.length + " " + label;
  }
  text.addEventListener("input", apply);
  if (select) { select.addEventListener("change", apply); }
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  heads.forEach(function (th, col) {
    if (!th.classList.contains("sortable")) { return; }
    th.addEventListener("click", function () {
      var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
      heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
      var numeric = th.getAttribute("data-type") === "number";
      var keyed = rows.map(function (row, i) {
        var cell = row.cells[col], key;
        if (numeric) {
          key = parseFloat(cell.getAttribute("data-value"));
          if (isNaN(key)) { key = null; }
        } else { key = cell.textContent.trim(); }
        return {row: row, key: key, i: i};
      });
      keyed.sort(function (a, b) {
        if (a.key === null || b.key === null) {
          return a.key === b.key ? a.i - b.i : (a.key === null ? 1 : -1);
        }
        var c = numeric ? a.key - b.key :
          a.key.localeCompare(b.key, undefined, {numeric: true, sensitivity: "base"});
        return c !== 0 ? dir * c : a.i - b.i;
      });
      keyed.forEach(function (k) { body.appendChild(k.row); });
    });
  });
});
