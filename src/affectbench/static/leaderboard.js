/* affectbench leaderboard: sort and filter tables in place. Plain JS, no dependencies,
   nothing fetched: the page works opened from disk. Sorting reads each cell's data-sort once
   and re-appends rows in one DocumentFragment, so 500 rows sort in a few milliseconds. */
(function () {
  "use strict";

  // Sort keys are read from the cells once per column and kept: later clicks only sort.
  function keysFor(table, col, numeric) {
    table._keys = table._keys || {};
    if (!table._keys[col]) {
      table._keys[col] = Array.prototype.map.call(table.tBodies[0].rows, function (r, i) {
        var c = r.cells[col];
        var v = c.getAttribute("data-sort");
        if (v === null) v = c.textContent.trim().toLowerCase();
        if (numeric) { v = parseFloat(v); if (isNaN(v)) v = -Infinity; }
        return { r: r, v: v, i: i };
      });
    }
    return table._keys[col];
  }

  function sortTable(table, col, th) {
    var numeric = th.getAttribute("data-type") !== "text";
    var current = th.getAttribute("aria-sort");
    // first click: numbers best-first (descending), text A to Z; then toggle
    var dir = current ? (current === "descending" ? 1 : -1) : (numeric ? -1 : 1);
    var keyed = keysFor(table, col, numeric).slice();
    keyed.sort(function (a, b) {
      if (a.v < b.v) return -dir;
      if (a.v > b.v) return dir;
      return a.i - b.i;
    });
    var frag = document.createDocumentFragment();
    for (var i = 0; i < keyed.length; i++) frag.appendChild(keyed[i].r);
    table.tBodies[0].appendChild(frag);
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
  }

  function applyFilters() {
    var corpus = document.getElementById("corpus-filter").value;
    var text = document.getElementById("text-filter").value.trim().toLowerCase();
    var shown = 0;
    document.querySelectorAll("section.board").forEach(function (sec) {
      var okCorpus = !corpus || sec.getAttribute("data-corpus") === corpus;
      var rows = sec.querySelectorAll("tbody tr");
      if (!rows.length) { sec.hidden = !!corpus; return; }  // the across-corpora panel
      var visible = 0;
      rows.forEach(function (tr) {
        var ok = okCorpus && (!text || tr.getAttribute("data-search").indexOf(text) >= 0);
        tr.classList.toggle("hidden", !ok);
        if (ok) visible++;
      });
      sec.hidden = !okCorpus || visible === 0;
      shown += visible;
    });
    var count = document.getElementById("row-count");
    if (count) count.textContent = shown + " run(s) shown";
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("table.sortable").forEach(function (table) {
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
        if (!th.classList.contains("sortable")) return;
        th.tabIndex = 0;  // sortable from the keyboard too
        th.addEventListener("click", function () { sortTable(table, col, th); });
        th.addEventListener("keydown", function (e) {
          if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortTable(table, col, th); }
        });
      });
    });
    var c = document.getElementById("corpus-filter");
    var t = document.getElementById("text-filter");
    if (c) c.addEventListener("change", applyFilters);
    if (t) t.addEventListener("input", applyFilters);
    if (c) applyFilters();
  });
})();
