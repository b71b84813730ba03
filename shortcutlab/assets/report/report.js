// shortcutlab report: the example browser. Reads the JSON block #report-data
// ({sets: [{label, models, proxy, rows, highlight, notes, ...}], images: {id: data URI}})
// and renders one page of rows at a time. Every text from the data goes into the DOM as
// text (textContent, text nodes), never as markup.
(function () {
  "use strict";
  var PAGE = 25;
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var sets = data.sets || [];
  var $ = function (id) { return document.getElementById(id); };
  var state = { set: 0, page: 0, ids: null };

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }

  function option(select, value, label) {
    var o = el("option", null, label);
    o.value = value;
    select.appendChild(o);
  }

  function fmt(x) { return x === null || x === undefined ? "" : (x >= 0 ? "+" : "") + x.toFixed(2); }

  function escapeRe(s) { return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); }

  // text with the set's shortcut features marked (<mark> elements holding text nodes)
  function marked(text, terms) {
    var span = el("span");
    text = text || "";
    if (!terms || !terms.length) { span.textContent = text; return span; }
    var re = new RegExp("\\b(" + terms.map(escapeRe).join("|") + ")\\b", "gi");
    var last = 0, m;
    while ((m = re.exec(text)) !== null) {
      if (m[0].length === 0) { re.lastIndex++; continue; }
      span.appendChild(document.createTextNode(text.slice(last, m.index)));
      span.appendChild(el("mark", null, m[0]));
      last = m.index + m[0].length;
    }
    span.appendChild(document.createTextNode(text.slice(last)));
    return span;
  }

  function fillSets() {
    var s = $("f-set");
    sets.forEach(function (set, i) {
      option(s, i, set.label + " (" + set.n_shown + " of " + set.n_pairs + " pairs)");
    });
  }

  function fillSet() {
    var set = sets[state.set], m = $("f-model"), g = $("f-group");
    m.textContent = ""; g.textContent = "";
    set.models.forEach(function (name) { option(m, name, name); });
    if (!set.models.length) { option(m, "", "(no model: proxy only)"); }
    option(g, "", "all");
    var groups = {};
    set.rows.forEach(function (r) { if (r.group !== undefined) { groups[r.group] = 1; } });
    Object.keys(groups).sort().forEach(function (k) { option(g, k, k); });
    g.disabled = Object.keys(groups).length === 0;
    var info = set.n_shown + " of " + set.n_pairs + " pairs shown" +
      (set.n_shown < set.n_pairs ? " (a seeded sample)" : "") +
      (set.proxy ? "; proxy: " + set.proxy : "; no proxy table: no subsets") +
      (set.group_by ? "; grouped by " + set.group_by : "");
    $("set-info").textContent = info;
    var notes = $("set-notes");
    notes.textContent = "";
    (set.notes || []).forEach(function (n) { notes.appendChild(el("li", null, n)); });
  }

  function visible() {
    var set = sets[state.set], model = $("f-model").value, subset = $("f-subset").value;
    var group = $("f-group").value, wrong = $("f-wrong").checked;
    var q = $("f-query").value.trim().toLowerCase(), sort = $("f-sort").value;
    var rows = set.rows.filter(function (r) {
      if (subset && r.subset !== subset) { return false; }
      if (group && r.group !== group) { return false; }
      if (wrong && !(model && r.margins[model] !== null && r.margins[model] <= 0)) { return false; }
      if (state.ids && state.ids.indexOf(r.id) < 0 && !q) { return false; }
      if (q) {
        var hay = [r.id, r.prompt, r.better, r.worse].join("\n").toLowerCase();
        var byId = state.ids && state.ids.indexOf(r.id) >= 0;
        if (hay.indexOf(q) < 0 && !byId) { return false; }
      }
      return true;
    });
    var key = sort.indexOf("proxy") === 0 ? function (r) { return r.proxy_margin; }
      : function (r) { return model ? r.margins[model] : r.proxy_margin; };
    if (sort) {
      var dir = sort.slice(-4) === "desc" ? -1 : 1;
      rows = rows.slice().sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === null || x === undefined) { return 1; }
        if (y === null || y === undefined) { return -1; }
        return dir * (x - y);
      });
    }
    return rows;
  }

  function imageCell(r) {
    var td = el("td", "thumb");
    if (r.img && data.images[r.img]) {
      var img = el("img");
      img.alt = "image of " + r.id;
      img.src = data.images[r.img];
      td.appendChild(img);
    } else if (r.img_missing) {
      td.appendChild(el("div", "placeholder", "image missing: " + r.img_missing));
    } else {
      td.appendChild(el("div", "placeholder", "no image"));
    }
    return td;
  }

  function marginsCell(r, set, model) {
    var td = el("td", "margins");
    if (model) {
      var v = r.margins[model];
      td.appendChild(el("div", "sel" + (v !== null && v <= 0 ? " wrong" : ""), fmt(v)));
    }
    if (set.models.length > 1) {
      var wrong = set.models.filter(function (n) { return r.margins[n] !== null && r.margins[n] <= 0; });
      var all = el("details");
      all.appendChild(el("summary", null, wrong.length + " of " + set.models.length + " models wrong"));
      set.models.forEach(function (name) {
        var x = r.margins[name];
        all.appendChild(el("div", x !== null && x <= 0 ? "wrong" : null, name + ": " + fmt(x)));
      });
      td.appendChild(all);
    }
    return td;
  }

  function row(r, set, model) {
    var tr = el("tr", r.subset === "shortcut_fail" ? "fail" : null);
    tr.appendChild(imageCell(r));
    tr.appendChild(el("td", "id", r.id + " [" + r.pair.join(" > ") + "]"));
    tr.appendChild(el("td", "text", r.prompt === undefined ? "(text not available)" : r.prompt));
    var b = el("td", "text better"), w = el("td", "text worse");
    b.appendChild(marked(r.better, set.highlight));
    w.appendChild(marked(r.worse, set.highlight));
    tr.appendChild(b); tr.appendChild(w);
    tr.appendChild(marginsCell(r, set, model));
    tr.appendChild(el("td", "num", fmt(r.proxy_margin)));
    var sub = el("td", "subset", (r.subset || "").replace("_", "-"));
    if (r.planted) { sub.appendChild(el("div", "planted", "planted: " + r.planted)); }
    tr.appendChild(sub);
    tr.appendChild(el("td", null, r.group === undefined ? "" : r.group));
    return tr;
  }

  function render() {
    var set = sets[state.set], model = $("f-model").value, body = $("ex-rows");
    var rows = visible(), pages = Math.max(1, Math.ceil(rows.length / PAGE));
    state.page = Math.min(state.page, pages - 1);
    body.textContent = "";
    rows.slice(state.page * PAGE, (state.page + 1) * PAGE).forEach(function (r) {
      body.appendChild(row(r, set, model));
    });
    $("p-info").textContent = rows.length + " rows; page " + (state.page + 1) + " of " + pages;
    $("p-prev").disabled = state.page === 0;
    $("p-next").disabled = state.page >= pages - 1;
  }

  function rerender() { state.page = 0; render(); }

  function showLinked(a) {
    var section = Number(a.getAttribute("data-section"));
    var i = sets.findIndex(function (s) { return s.section === section; });
    if (i < 0) { return; }
    state.set = i; $("f-set").value = String(i); fillSet();
    var ids = (a.getAttribute("data-ids") || "").split(" ").filter(Boolean);
    state.ids = ids.length ? ids : null;
    $("f-query").value = a.getAttribute("data-term") || "";
    $("f-subset").value = ""; $("f-wrong").checked = false;
    rerender();
  }

  if (!sets.length) {
    $("set-info").textContent = "No test set with score tables in these folders.";
    $("controls").hidden = true; $("pager").hidden = true;
    return;
  }
  fillSets(); fillSet();
  $("f-set").addEventListener("change", function () {
    state.set = Number(this.value); state.ids = null; fillSet(); rerender();
  });
  ["f-model", "f-subset", "f-group", "f-wrong", "f-sort"].forEach(function (id) {
    $(id).addEventListener("change", rerender);
  });
  $("f-query").addEventListener("input", function () { state.ids = null; rerender(); });
  $("p-prev").addEventListener("click", function () { state.page--; render(); });
  $("p-next").addEventListener("click", function () { state.page++; render(); });
  Array.prototype.forEach.call(document.querySelectorAll("a.ex-link"), function (a) {
    a.addEventListener("click", function () { showLinked(a); });
  });
  render();
})();
