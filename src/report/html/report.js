// report.html's script: builds the tables and charts from the JSON block #report-data.
// Values from the data are only ever shown with textContent or setAttribute, never as
// markup. Charts are Vega-Lite specs drawn by vega-embed with the SVG renderer and the
// expression interpreter (`ast: true`), so the page runs under a policy without eval.
(function () {
  "use strict";

  var log = window.__report || { errors: [], warnings: [] };
  var data;
  try {
    data = JSON.parse(document.getElementById("report-data").textContent);
  } catch (e) {
    log.errors.push("cannot read the page's data: " + e);
    data = null;
  }

  var PAGE = 100;
  var SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json";
  var STATUSES = ["done", "failed", "running", "pending", "damaged", "conflict", "pruned"];
  var charts = []; // { name, el, promise }

  // ---- DOM helpers -------------------------------------------------------------------

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (attrs[k] !== undefined && attrs[k] !== null && attrs[k] !== false) {
          node.setAttribute(k, attrs[k] === true ? "" : String(attrs[k]));
        }
      });
    }
    (children || []).forEach(function (c) {
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  function section(id) {
    return document.querySelector("#" + id + " .body");
  }

  function note(parent, text) {
    parent.appendChild(el("p", { class: "note" }, [text]));
  }

  function plural(n, word) {
    return n + " " + word + (n === 1 ? "" : "s");
  }

  // ---- Numbers -------------------------------------------------------------------------

  function isNumber(cell) {
    return cell !== "" && cell !== null && cell !== undefined && isFinite(Number(cell));
  }

  // A cell for reading: long decimals cut to five significant digits; the CSV's text
  // stays in the cell's title.
  function show(cell) {
    if (!isNumber(cell) || String(cell).indexOf(".") < 0) return String(cell);
    var digits = String(cell).replace(/^-?0*\.?0*/, "").replace(".", "").length;
    return digits > 5 ? Number(cell).toPrecision(5) : String(cell);
  }

  function fmt(x) {
    return x === null || x === undefined || !isFinite(x) ? "–" : Number(x).toPrecision(5);
  }

  // ---- Tables: sortable, filterable, paged ---------------------------------------------

  // columns: names; rows: arrays of text cells. Columns with one value in every row are
  // listed above the table instead (unless "all columns" is ticked), except `keep`.
  function table(parent, columns, rows, options) {
    options = options || {};
    var keep = options.keep || [];
    var numeric = columns.map(function (_, c) {
      var any = false;
      for (var r = 0; r < rows.length; r++) {
        var v = rows[r][c];
        if (v === "" || v === undefined) continue;
        if (!isNumber(v)) return false;
        any = true;
      }
      return any;
    });
    var constant = columns.map(function (name, c) {
      if (rows.length < 2 || keep.indexOf(name) >= 0) return false;
      for (var r = 1; r < rows.length; r++) if (rows[r][c] !== rows[0][c]) return false;
      return true;
    });
    var statusColumn = columns.indexOf("status");
    var errorColumn = columns.indexOf("error");
    var state = { sort: -1, desc: false, filter: "", page: 0, all: false, view: null };

    var filter = el("input", { type: "search", placeholder: "filter: text in any column", "aria-label": "filter rows" });
    var allColumns = el("input", { type: "checkbox" });
    var first = el("button", { type: "button", title: "first page" }, ["«"]);
    var prev = el("button", { type: "button", title: "previous page" }, ["‹"]);
    var next = el("button", { type: "button", title: "next page" }, ["›"]);
    var last = el("button", { type: "button", title: "last page" }, ["»"]);
    var pager = el("span", { class: "pager" });
    var controls = el("div", { class: "controls" }, [
      filter,
      el("label", {}, [allColumns, " all columns"]),
      el("span", {}, [first, prev, next, last]),
      pager,
    ]);
    var constantLine = el("p", { class: "constant" });
    var thead = el("thead");
    var tbody = el("tbody");
    var tableEl = el("table", { "data-table": options.name || "" }, [thead, tbody]);
    parent.appendChild(controls);
    parent.appendChild(constantLine);
    parent.appendChild(el("div", { class: "table-wrap" }, [tableEl]));

    function shown() {
      var out = [];
      columns.forEach(function (_, c) {
        if (state.all || !constant[c]) out.push(c);
      });
      return out;
    }

    function view() {
      if (state.view) return state.view;
      var needle = state.filter.toLowerCase();
      var idx = [];
      for (var r = 0; r < rows.length; r++) {
        if (!needle || rows[r].join("\u0001").toLowerCase().indexOf(needle) >= 0) idx.push(r);
      }
      var c = state.sort;
      if (c >= 0) {
        var dir = state.desc ? -1 : 1;
        idx.sort(function (a, b) {
          var x = rows[a][c], y = rows[b][c];
          var ex = x === "" || x === undefined, ey = y === "" || y === undefined;
          if (ex || ey) return ex === ey ? a - b : ex ? 1 : -1; // empty cells last
          var d = numeric[c] ? Number(x) - Number(y) : String(x).localeCompare(String(y));
          return d !== 0 ? dir * d : a - b;
        });
      }
      state.view = idx;
      return idx;
    }

    function header() {
      thead.textContent = "";
      var tr = el("tr");
      shown().forEach(function (c) {
        var th = el("th", { scope: "col", title: "sort by " + columns[c] }, [columns[c]]);
        if (state.sort === c) th.setAttribute("aria-sort", state.desc ? "descending" : "ascending");
        th.addEventListener("click", function () {
          state.desc = state.sort === c ? !state.desc : false;
          state.sort = c;
          state.view = null;
          render();
        });
        tr.appendChild(th);
      });
      thead.appendChild(tr);
      var same = [];
      columns.forEach(function (name, c) {
        if (constant[c]) same.push(name + " = " + (rows[0][c] === "" ? "(empty)" : rows[0][c]));
      });
      constantLine.textContent = same.length && !state.all ? "Same in every row: " + same.join(", ") : "";
    }

    function cell(row, c) {
      var v = row[c] === undefined ? "" : row[c];
      var td = el("td");
      if (c === statusColumn && v !== "") {
        var span = el("span", { class: "status st-" + (STATUSES.indexOf(v) >= 0 ? v : "other") }, [v]);
        if (errorColumn >= 0 && row[errorColumn]) span.setAttribute("title", row[errorColumn]);
        td.appendChild(span);
      } else {
        td.textContent = show(v);
        if (numeric[c]) td.className = "num";
        if (td.textContent !== v || v.length > 40) td.setAttribute("title", v);
        if (v.length > 40) td.className = "long";
      }
      return td;
    }

    function render() {
      header();
      var idx = view();
      var pages = Math.max(1, Math.ceil(idx.length / PAGE));
      state.page = Math.min(Math.max(state.page, 0), pages - 1);
      var start = state.page * PAGE, end = Math.min(idx.length, start + PAGE);
      var cols = shown();
      var frag = document.createDocumentFragment();
      for (var i = start; i < end; i++) {
        var tr = el("tr");
        for (var k = 0; k < cols.length; k++) tr.appendChild(cell(rows[idx[i]], cols[k]));
        frag.appendChild(tr);
      }
      tbody.textContent = "";
      tbody.appendChild(frag);
      var text = idx.length ? "rows " + (start + 1) + "–" + end + " of " + idx.length : "no rows";
      if (idx.length !== rows.length) text += " (filtered from " + rows.length + ")";
      pager.textContent = text;
      first.disabled = prev.disabled = state.page === 0;
      next.disabled = last.disabled = state.page >= pages - 1;
    }

    var timer = null;
    filter.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        state.filter = filter.value;
        state.view = null;
        state.page = 0;
        render();
      }, 150);
    });
    allColumns.addEventListener("change", function () {
      state.all = allColumns.checked;
      render();
    });
    first.addEventListener("click", function () { state.page = 0; render(); });
    prev.addEventListener("click", function () { state.page -= 1; render(); });
    next.addEventListener("click", function () { state.page += 1; render(); });
    last.addEventListener("click", function () { state.page = 1e9; render(); });
    render();

    return {
      rows: rows.length,
      domRows: function () { return tbody.rows.length; },
      // Every page in turn, counting the rows each puts in the DOM; back to the first.
      walk: function () {
        var total = 0;
        var pages = Math.max(1, Math.ceil(view().length / PAGE));
        for (var p = 0; p < pages; p++) {
          state.page = p;
          render();
          total += tbody.rows.length;
        }
        state.page = 0;
        render();
        return total;
      },
    };
  }

  function csvTable(parent, t, name, options) {
    if (t.error) note(parent, name + " could not be read: " + t.error);
    if (!t.rows.length) {
      note(parent, "No rows in " + name + ".");
      return null;
    }
    return table(parent, t.columns, t.rows, Object.assign({ name: name }, options || {}));
  }

  // ---- Charts ----------------------------------------------------------------------------

  function chart(parent, name, spec) {
    var div = el("div", { class: "chart", "data-chart": name });
    parent.appendChild(div);
    var entry = { name: name, el: div, view: null };
    entry.promise = embed(entry, spec);
    charts.push(entry);
    return entry;
  }

  function embed(entry, spec) {
    if (entry.view) entry.view.finalize();
    entry.el.textContent = "";
    spec.$schema = SCHEMA;
    if (typeof vegaEmbed !== "function") {
      log.errors.push("the chart library did not load");
      return Promise.resolve();
    }
    return vegaEmbed(entry.el, spec, {
      renderer: "svg",
      ast: true,
      actions: { export: true, source: true, compiled: true, editor: false },
      tooltip: true,
    }).then(
      function (result) { entry.view = result.view; },
      function (e) { log.errors.push("chart " + entry.name + ": " + (e && e.stack ? e.stack : e)); }
    );
  }

  // Marks drawn in a chart's SVG: elements of its data marks (not axes or legends).
  function marks(entry) {
    var n = 0;
    entry.el.querySelectorAll("svg .role-mark > *").forEach(function (m) {
      if (m.tagName.toLowerCase() !== "path" || (m.getAttribute("d") || "").length > 0) n += 1;
    });
    return n;
  }

  function colours(n) {
    return n <= 10 ? "tableau10" : "tableau20";
  }

  // ---- Sections --------------------------------------------------------------------------

  function runs() {
    var body = section("runs");
    var t = data.summary;
    note(body, "One row per run, as summary.csv has it (costs are mean squared errors). " +
      "Hover a failed, damaged or conflicting status for its reason.");
    return csvTable(body, t, "summary.csv", { keep: ["run_id", "status"] });
  }

  function curveRows(c) {
    var out = [];
    var b = c.band;
    for (var i = 0; i < b.epoch.length; i++) {
      out.push({
        configuration: c.configurations[b.configuration[i]],
        cost: c.costs[b.cost[i]],
        epoch: b.epoch[i],
        mean: b.mean[i],
        low: b.low[i],
        high: b.high[i],
        n: b.n[i],
      });
    }
    return out;
  }

  function seedRows(c) {
    var out = [];
    var s = c.seeds;
    for (var i = 0; i < s.epoch.length; i++) {
      out.push({
        run: s.runs[s.run[i]],
        configuration: c.configurations[s.configuration[i]],
        cost: c.costs[s.cost[i]],
        epoch: s.epoch[i],
        value: s.value[i],
      });
    }
    return out;
  }

  function curveSpec(c, cost, band, seeds, options) {
    var log = options.log;
    var title = cost.replace(/_/g, " ");
    var x = { field: "epoch", type: "quantitative", axis: { tickMinStep: 1, format: "d" }, scale: { nice: false } };
    var y = function (field) {
      return {
        field: field,
        type: "quantitative",
        title: title + (options.seeds ? "" : " (mean over seeds)"),
        scale: log ? { type: "log" } : { type: "linear", zero: false },
      };
    };
    var color = {
      field: "configuration",
      type: "nominal",
      scale: { domain: c.configurations, scheme: colours(c.configurations.length) },
      // Lines, not the faint bands, as the legend's symbols.
      legend: {
        orient: "bottom", columns: 2, labelLimit: 360, title: null,
        symbolType: "stroke", symbolStrokeWidth: 2.5, symbolOpacity: 1,
      },
    };
    var mine = function (rows) { return rows.filter(function (r) { return r.cost === cost; }); };
    var layers = [
      {
        data: { values: mine(band) },
        transform: [{ filter: log ? "isValid(datum.low) && datum.low > 0" : "isValid(datum.low)" }],
        mark: { type: "area", opacity: 0.2 },
        encoding: { x: x, y: y("low"), y2: { field: "high" }, color: color },
      },
    ];
    if (options.seeds) {
      layers.push({
        data: { values: mine(seeds) },
        mark: { type: "line", strokeWidth: 0.8, opacity: 0.45 },
        encoding: {
          x: x, y: y("value"), color: color, detail: { field: "run", type: "nominal" },
          tooltip: [{ field: "run" }, { field: "epoch" }, { field: "value", title: title, format: ".5g" }],
        },
      });
    }
    layers.push({
      data: { values: mine(band) },
      mark: { type: "line", strokeWidth: 2.2, point: { size: 18 } },
      encoding: {
        x: x, y: y("mean"), color: color,
        tooltip: [
          { field: "configuration" }, { field: "epoch" },
          { field: "mean", title: "mean " + title, format: ".5g" },
          { field: "low", title: "95% CI low", format: ".5g" },
          { field: "high", title: "95% CI high", format: ".5g" },
          { field: "n", title: "seeds" },
        ],
      },
    });
    return { title: title, width: 480, height: 280, layer: layers };
  }

  function curves() {
    var body = section("curves");
    var c = data.curves;
    if (!c.configurations.length) {
      note(body, "No run has finished yet, so there are no curves.");
      return;
    }
    var text = "Per configuration, the mean cost over its finished seeds at each epoch; the " +
      "band is the 95% t interval of that mean (as stats.csv computes it; none for one seed).";
    if (c.configurations.length < c.finished_configurations) {
      text += " Drawn: the " + c.configurations.length + " configurations with the lowest mean " +
        "final test cost, of " + c.finished_configurations + " with a finished run; the tables have all.";
    }
    if (c.finished_configurations < c.all_configurations) {
      text += " " + plural(c.all_configurations - c.finished_configurations, "configuration") +
        " without a finished run " + (c.all_configurations - c.finished_configurations === 1 ? "is" : "are") + " not drawn.";
    }
    note(body, text);
    var band = curveRows(c), seeds = seedRows(c);
    var options = { seeds: false, log: false };
    var seedBox = el("input", { type: "checkbox", disabled: seeds.length === 0 });
    var linear = el("input", { type: "radio", name: "scale", checked: true });
    var logRadio = el("input", { type: "radio", name: "scale" });
    var seedLabel = c.seeds_left_out
      ? " single seeds (" + c.seeds.runs.length + " runs; " + c.seeds_left_out + " more not embedded)"
      : " single seeds";
    body.appendChild(el("div", { class: "controls" }, [
      el("label", {}, [seedBox, seedLabel]),
      el("span", {}, ["scale: "]),
      el("label", {}, [linear, " linear"]),
      el("label", {}, [logRadio, " log"]),
    ]));
    var holder = el("div", { class: "charts" });
    body.appendChild(holder);
    var entries = c.costs.map(function (cost) {
      return chart(holder, "curves-" + cost, curveSpec(c, cost, band, seeds, options));
    });
    function redraw() {
      options.seeds = seedBox.checked;
      options.log = logRadio.checked;
      entries.forEach(function (entry, i) {
        entry.promise = embed(entry, curveSpec(c, c.costs[i], band, seeds, options));
      });
    }
    [seedBox, linear, logRadio].forEach(function (input) { input.addEventListener("change", redraw); });
    // For the browser test (#check): the curves again with single seeds on a log scale.
    return function () {
      seedBox.checked = !seedBox.disabled;
      logRadio.checked = true;
      redraw();
      return Promise.all(entries.map(function (entry) { return entry.promise; }));
    };
  }

  function statistics() {
    var body = section("statistics");
    note(body, "stats.csv: per configuration (the runs that differ only in their seed), each " +
      "cost's mean over finished runs, sample sd, se = sd/√n, the 95% t interval of the mean, " +
      "min and max; empty where a figure needs more runs.");
    csvTable(body, data.stats, "stats.csv", { keep: ["configuration"] });
  }

  function comparisons() {
    var body = section("comparisons");
    var text = "comparisons.csv. " + data.comparisons_explanation;
    if (data.comparisons.rows.length < data.comparisons_all) {
      text += " Embedded: " + data.comparisons.rows.length + " of its " + data.comparisons_all +
        " rows, those with a configuration drawn in the curves first; the file has all.";
    }
    note(body, text);
    csvTable(body, data.comparisons, "comparisons.csv", { keep: ["configuration_a", "configuration_b"] });
  }

  function reconstructions() {
    var body = section("reconstructions");
    var images = data.images;
    if (!images.shown.length) {
      note(body, images.left_out ? "No picture could be read." : "No run has finished yet.");
      return;
    }
    var text = "reconstruction.png of each configuration's first finished seed: rows are the " +
      "clean test images, the noisy inputs and the reconstructions.";
    if (images.left_out) {
      text += " " + plural(images.left_out, "configuration") + " with a finished run " +
        (images.left_out === 1 ? "is" : "are") + " left out to keep the page small; their pictures are in the run folders.";
    }
    note(body, text);
    var holder = el("div", { class: "figures" });
    images.shown.forEach(function (image) {
      holder.appendChild(el("figure", {}, [
        el("img", { src: "data:image/png;base64," + image.png_base64, alt: "reconstructions of " + image.run_id }),
        el("figcaption", {}, [image.configuration + " (" + image.run_id + ")"]),
      ]));
    });
    body.appendChild(holder);
  }

  // ---- Search ----------------------------------------------------------------------------

  function trialValue(trial, name) {
    for (var i = 0; i < trial.values.length; i++) if (trial.values[i][0] === name) return trial.values[i][1];
    return null;
  }

  // Each trial with a metric as a flat record; per parameter its value, and for the
  // parallel coordinates a number (log10 of a log-scale value, the index of a text).
  function trialRecords(s) {
    var categories = {};
    s.params.forEach(function (p) {
      var seen = [];
      s.trials.forEach(function (t) {
        var v = trialValue(t, p.name);
        if (typeof v === "string" && seen.indexOf(v) < 0) seen.push(v);
      });
      categories[p.name] = seen.sort();
    });
    var records = s.trials.filter(function (t) { return t.metric !== null && isFinite(t.metric); }).map(function (t) {
      var r = { trial: t.trial, status: t.status, metric: t.metric, best: t.trial === s.best };
      s.params.forEach(function (p, i) {
        var v = trialValue(t, p.name);
        r["v" + i] = v;
        r["d" + i] = typeof v === "string" ? categories[p.name].indexOf(v)
          : v === null ? null : p.log_scale && v > 0 ? Math.log(v) / Math.LN10 : v;
      });
      r["d" + s.params.length] = t.metric;
      return r;
    });
    return { records: records, categories: categories };
  }

  // Labels at the ends of each axis (every choice for a text parameter).
  function parallelLabels(s, records, categories) {
    var labels = [];
    var dims = s.params.map(function (p) { return p; }).concat([{ name: s.metric, log_scale: false, metric: true }]);
    dims.forEach(function (p, i) {
      var key = "d" + i;
      var values = records.map(function (r) { return r[key]; }).filter(function (v) { return v !== null; });
      if (!values.length) return;
      var lo = Math.min.apply(null, values), hi = Math.max.apply(null, values);
      var pos = function (v) { return hi > lo ? (v - lo) / (hi - lo) : 0.5; };
      var cats = categories[p.name];
      if (!p.metric && cats && cats.length) {
        cats.forEach(function (c, k) { labels.push({ dimension: p.name, position: pos(k), label: c }); });
      } else {
        var shown = function (v) { return fmt(p.log_scale ? Math.pow(10, v) : v); };
        labels.push({ dimension: p.name, position: pos(lo), label: shown(lo) });
        if (hi > lo) labels.push({ dimension: p.name, position: pos(hi), label: shown(hi) });
      }
    });
    return labels;
  }

  function parallelSpec(s, records, labels) {
    var names = s.params.map(function (p) { return p.name; }).concat([s.metric]);
    var fold = names.map(function (_, i) { return "d" + i; });
    // key "d1" → its dimension's name: a chain of tests, the last name as the default.
    var dimensionExpr = JSON.stringify(names[names.length - 1]);
    for (var i = names.length - 2; i >= 0; i--) {
      dimensionExpr = "datum.key === 'd" + i + "' ? " + JSON.stringify(names[i]) + " : (" + dimensionExpr + ")";
    }
    // Dimension names below the plot, clear of the labels at each axis' ends.
    var x = {
      field: "dimension", type: "nominal", sort: names, title: null,
      axis: { orient: "bottom", labelAngle: 0, domain: false, ticks: false, labelPadding: 20, labelFontWeight: "bold" },
    };
    var folded = [
      { fold: fold, as: ["key", "raw"] },
      { filter: "isValid(datum.raw)" },
      { calculate: dimensionExpr, as: "dimension" },
      { joinaggregate: [{ op: "min", field: "raw", as: "lo" }, { op: "max", field: "raw", as: "hi" }], groupby: ["key"] },
      { calculate: "datum.hi > datum.lo ? (datum.raw - datum.lo) / (datum.hi - datum.lo) : 0.5", as: "position" },
    ];
    return {
      title: "Sampled values against " + s.metric,
      width: Math.max(360, 150 * names.length),
      height: 280,
      layer: [
        {
          data: { values: records },
          transform: folded,
          mark: { type: "rule", color: "#9aa5b1" },
          encoding: { x: x, detail: { aggregate: "count" } },
        },
        {
          data: { values: records },
          transform: folded,
          mark: { type: "line", strokeWidth: 1.4, opacity: 0.75 },
          encoding: {
            x: x,
            y: { field: "position", type: "quantitative", axis: null, scale: { domain: [0, 1] } },
            detail: { field: "trial", type: "nominal" },
            color: { field: "metric", type: "quantitative", title: s.metric, scale: { scheme: "viridis", reverse: true } },
            strokeDash: { field: "status", type: "nominal", title: "status", scale: { domain: ["done", "pruned"], range: [[1, 0], [4, 3]] } },
            tooltip: [{ field: "trial" }, { field: "status" }, { field: "metric", format: ".5g" }],
          },
        },
        {
          data: { values: labels },
          mark: { type: "text", align: "left", dx: 5, fontSize: 11, color: "#333", baseline: { expr: "datum.position > 0.5 ? 'top' : 'bottom'" } },
          encoding: {
            x: x,
            y: { field: "position", type: "quantitative", axis: null, scale: { domain: [0, 1] } },
            text: { field: "label" },
          },
        },
      ],
    };
  }

  function scatterSpec(s, p, i, records) {
    var numeric = records.some(function (r) { return typeof r["v" + i] === "number"; });
    var values = records.filter(function (r) { return r["v" + i] !== null && (!p.log_scale || r["v" + i] > 0); });
    return {
      title: p.name,
      width: 260,
      height: 200,
      data: { values: values },
      mark: { type: "point", filled: true, size: 46, opacity: 0.85 },
      encoding: {
        x: {
          field: "v" + i,
          type: numeric ? "quantitative" : "nominal",
          title: p.name + (p.log_scale ? " (log scale)" : ""),
          scale: !numeric ? undefined : p.log_scale ? { type: "log" } : { type: "linear", zero: false },
        },
        y: { field: "metric", type: "quantitative", title: s.metric, scale: { zero: false } },
        color: {
          field: "status", type: "nominal", title: "status",
          scale: { domain: ["done", "pruned", "failed", "running", "pending"], range: ["#2b7bba", "#e39b2d", "#c0392b", "#7f8c8d", "#bdc3c7"] },
        },
        shape: { field: "best", type: "nominal", title: "best", scale: { domain: [false, true], range: ["circle", "diamond"] } },
        tooltip: [{ field: "trial" }, { field: "status" }, { field: "v" + i, title: p.name }, { field: "metric", format: ".5g" }],
      },
    };
  }

  function rungSpec(s) {
    var values = [];
    s.rungs.forEach(function (r) {
      var label = "bracket " + r.bracket + ", rung " + r.rung + " (" + plural(r.epochs, "epoch") + ")";
      values.push({ rung: label, order: r.bracket * 1000 + r.rung, kind: "kept", trials: r.kept });
      values.push({ rung: label, order: r.bracket * 1000 + r.rung, kind: "pruned", trials: Math.max(0, r.trials - r.kept) });
    });
    return {
      title: "Trials per rung: kept and pruned",
      width: Math.max(260, 70 * s.rungs.length),
      height: 220,
      data: { values: values },
      mark: { type: "bar" },
      encoding: {
        x: { field: "rung", type: "ordinal", sort: { field: "order" }, title: null, axis: { labelAngle: -30, labelLimit: 200 } },
        y: { field: "trials", type: "quantitative", title: "trials", stack: "zero" },
        color: { field: "kind", type: "nominal", title: null, scale: { domain: ["kept", "pruned"], range: ["#2b7bba", "#e39b2d"] } },
        tooltip: [{ field: "rung" }, { field: "kind" }, { field: "trials" }],
      },
    };
  }

  function search() {
    var s = data.search;
    if (!s) return null;
    document.getElementById("search").hidden = false;
    document.getElementById("nav-search").hidden = false;
    var body = section("search");
    var spent = s.epochs_full ? " (" + Math.round((100 * s.epochs_spent) / s.epochs_full) + "%)" : "";
    note(body, "Method: " + s.method + "; trials ranked by " + s.metric + " (lower is better). Epochs trained: " +
      s.epochs_spent + " of the " + s.epochs_full + " a full search would take" + spent + ".");
    var best = s.trials.filter(function (t) { return t.trial === s.best; })[0];
    if (best) {
      // A whole number (a batch size) as itself, not 123.00.
      var value = function (x) { return Number.isInteger(x) ? String(x) : fmt(x); };
      var parts = best.values.map(function (v) { return v[0] + " = " + (typeof v[1] === "number" ? value(v[1]) : v[1]); });
      body.appendChild(el("p", { class: "best" }, [
        "Best trial: #" + best.trial + ", " + s.metric + " " + fmt(best.metric) + " after " +
        plural(best.epochs_done, "epoch") + (parts.length ? "; " + parts.join(", ") : ""),
      ]));
    } else {
      note(body, "No trial has finished yet.");
    }
    var prepared = trialRecords(s);
    var records = prepared.records;
    if (records.length) {
      body.appendChild(el("h3", {}, ["Parallel coordinates"]));
      note(body, "One line per trial with a metric, through its sampled values (log scale for log-sampled " +
        "settings) and the metric; colour by the metric, dashed when pruned.");
      chart(body, "search-parallel", parallelSpec(s, records, parallelLabels(s, records, prepared.categories)));
      body.appendChild(el("h3", {}, ["Metric against each setting"]));
      var holder = el("div", { class: "charts" });
      body.appendChild(holder);
      s.params.forEach(function (p, i) { chart(holder, "search-scatter-" + p.name, scatterSpec(s, p, i, records)); });
    }
    if (s.rungs.length) {
      body.appendChild(el("h3", {}, ["Rungs"]));
      chart(body, "search-rungs", rungSpec(s));
      table(body, ["bracket", "rung", "epochs", "trials", "kept", "pruned"], s.rungs.map(function (r) {
        return [r.bracket, r.rung, r.epochs, r.trials, r.kept, Math.max(0, r.trials - r.kept)].map(String);
      }), { name: "rungs", keep: ["bracket", "rung", "epochs", "trials", "kept", "pruned"] });
    }
    body.appendChild(el("h3", {}, ["Trials"]));
    var columns = ["trial", "status", s.metric, "rung", "epochs_done", "bracket"].concat(s.params.map(function (p) { return p.name; }));
    return table(body, columns, s.trials.map(function (t) {
      return [t.trial, t.status, t.metric === null ? "" : t.metric, t.rung, t.epochs_done, t.bracket]
        .concat(s.params.map(function (p) { var v = trialValue(t, p.name); return v === null ? "" : v; }))
        .map(String);
    }), { name: "trials", keep: ["trial", "status"] });
  }

  // ---- Status for the reader and the browser test -----------------------------------------

  function guarded(name, f) {
    try {
      return f();
    } catch (e) {
      log.errors.push(name + ": " + (e && e.stack ? e.stack : e));
      return null;
    }
  }

  function finish(runTable, trialTable) {
    var status = document.getElementById("status");
    var rendered = 0, total = 0;
    charts.forEach(function (entry) {
      var n = marks(entry);
      total += n;
      if (n > 0) rendered += 1;
      entry.el.setAttribute("data-marks", String(n));
    });
    if (location.hash === "#check" && runTable) status.setAttribute("data-rows-walked", String(runTable.walk()));
    status.setAttribute("data-charts", String(charts.length));
    status.setAttribute("data-rendered", String(rendered));
    status.setAttribute("data-marks", String(total));
    status.setAttribute("data-rows", String(runTable ? runTable.rows : 0));
    status.setAttribute("data-dom-rows", String(runTable ? runTable.domRows() : 0));
    status.setAttribute("data-trials", String(trialTable ? trialTable.rows : 0));
    status.setAttribute("data-errors", String(log.errors.length));
    status.setAttribute("data-warnings", String(log.warnings.length));
    // The browser test's canary: its experiment's description tries to set this.
    status.setAttribute("data-injected", String("__pwned" in window));
    status.setAttribute("data-state", "done");
    var problems = log.errors.concat(log.warnings);
    if (problems.length) {
      var pre = document.getElementById("problems");
      pre.hidden = false;
      pre.textContent = "Problems while building this page:\n" + problems.join("\n");
    }
  }

  function versions() {
    var v = document.getElementById("versions");
    if (window.vegaLite && window.vega && window.vegaEmbed) {
      v.textContent = "Vega-Lite " + vegaLite.version + ", Vega " + vega.version + " and vega-embed " + vegaEmbed.version;
    }
  }

  if (!data) {
    finish(null, null);
    return;
  }
  guarded("versions", versions);
  var trialTable = guarded("search", search);
  var runTable = guarded("runs", runs);
  var toggleCurves = guarded("curves", curves);
  guarded("statistics", statistics);
  guarded("comparisons", comparisons);
  guarded("reconstructions", reconstructions);
  Promise.all(charts.map(function (c) { return c.promise; }))
    .then(function () {
      if (location.hash === "#check" && toggleCurves) return toggleCurves();
    })
    .then(function () {
      finish(runTable, trialTable);
    });
})();
