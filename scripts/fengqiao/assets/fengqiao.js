/* fengqiao: filters for the long lists, and a hint when a table is wider
   than its box.

   A plain script (no module, no request of any kind), so it works when the
   site is opened from file:// as well as from a server. It reads the tables
   the pages already hold: a list marks the columns it can be filtered by
   with <th data-fq-filter="村">, and a cell may carry the value it is
   filtered by in data-fq (问题清单's "逾期 12 天" is filtered as "已逾期").
   Without JavaScript nothing is hidden: the whole table shows. Printing
   always shows the whole table (fengqiao.css). Material for MkDocs calls
   document$ after every page load (and after an instant navigation); where
   it is missing, the script runs once when the page has loaded. */
(function () {
  "use strict";

  var HINT = "← 左右滑动查看更多列 →";
  var ALL = "全部";
  var MISSING = "—";

  function each(list, fn) {
    Array.prototype.forEach.call(list, fn);
  }

  function valueOf(cell) {
    if (!cell) {
      return MISSING;
    }
    var given = cell.getAttribute("data-fq");
    return (given !== null ? given : cell.textContent).trim() || MISSING;
  }

  /* villages in Chinese order, numbers as numbers, "—" last */
  function compare(a, b) {
    if (a === MISSING || b === MISSING) {
      return (a === MISSING) - (b === MISSING);
    }
    return a.localeCompare(b, "zh-Hans-CN", { numeric: true });
  }

  /* the box that scrolls sideways: our own .fq-scroll, else the table
     itself when it scrolls (Material's Markdown tables and fq-table do),
     else Material's wrapper around it */
  function scroller(table) {
    var overflow = window.getComputedStyle(table).overflowX;
    return table.closest(".fq-scroll")
      || (overflow === "auto" || overflow === "scroll" ? table : null)
      || table.closest(".md-typeset__scrollwrap") || table;
  }

  function hint(box) {
    var before = box.previousElementSibling;
    if (!before || !before.classList.contains("fq-hint")) {
      before = document.createElement("div");
      before.className = "fq-hint";
      before.setAttribute("aria-hidden", "true");
      before.textContent = HINT;
      box.parentNode.insertBefore(before, box);
    }
    before.hidden = box.scrollWidth <= box.clientWidth + 1;
  }

  function hints() {
    each(document.querySelectorAll(".md-typeset table"), function (table) {
      hint(scroller(table));
    });
  }

  function filters(table) {
    if (table.hasAttribute("data-fq-ready")) {
      return;
    }
    table.setAttribute("data-fq-ready", "");
    var rows = Array.prototype.slice.call(table.tBodies.length ? table.tBodies[0].rows : []);
    var marked = [];
    each(table.querySelectorAll("thead th"), function (th, index) {
      var label = th.getAttribute("data-fq-filter");
      if (label) {
        marked.push({ label: label, index: index });
      }
    });
    if (!marked.length || rows.length < 2) {
      return;
    }
    var bar = document.createElement("div");
    bar.className = "fq-filters";
    bar.setAttribute("role", "group");
    bar.setAttribute("aria-label", "筛选");
    var count = document.createElement("span");
    count.className = "fq-count";
    count.setAttribute("aria-live", "polite");

    function apply() {
      var shown = 0;
      each(rows, function (row) {
        var keep = marked.every(function (m) {
          return !m.select.value || valueOf(row.cells[m.index]) === m.select.value;
        });
        row.hidden = !keep;
        shown += keep ? 1 : 0;
      });
      count.textContent = "显示 " + shown + " / " + rows.length + " 条";
      hints();
    }

    marked.forEach(function (m) {
      var seen = {};
      each(rows, function (row) {
        seen[valueOf(row.cells[m.index])] = true;
      });
      var label = document.createElement("label");
      label.appendChild(document.createTextNode(m.label + "："));
      m.select = document.createElement("select");
      m.select.appendChild(new Option(ALL, ""));
      Object.keys(seen).sort(compare).forEach(function (value) {
        m.select.appendChild(new Option(value, value));
      });
      m.select.addEventListener("change", apply);
      label.appendChild(m.select);
      bar.appendChild(label);
    });
    bar.appendChild(count);
    var box = scroller(table);
    box.parentNode.insertBefore(bar, box);
    apply();
  }

  var resizing = false;

  function setup() {
    each(document.querySelectorAll(".md-typeset table"), function (table) {
      if (table.querySelector("th[data-fq-filter]")) {
        filters(table);
      }
    });
    hints();
    if (!resizing) {
      resizing = true;
      window.addEventListener("resize", hints);
    }
  }

  if (window.document$ && typeof window.document$.subscribe === "function") {
    window.document$.subscribe(setup);
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setup);
  } else {
    setup();
  }
})();
