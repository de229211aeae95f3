// The Command Center: draws GET /api/v1/map as SVG and keeps it live by polling.
// No framework, no build step. Every text from the server is set with textContent or
// setAttribute; nothing is ever parsed as markup.
(function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";
  var POLL_MS = 4000;
  var COL_W = 150, ROW_H = 30, PAD = 18, HEAD = 46, MAX_COLS = 8, GROUP_GAP = 40, WORLD_W = 2600;
  var RADIUS = { node: 10, instance: 7, job: 5, workflow: 7, connection: 6 };
  var BAD = { offline: 1, stale: 1, missing: 1, unhealthy: 1, failed: 1, error: 1, blocked: 1 };

  var root = document.getElementById("cc");
  if (!root) return;
  var svg = document.getElementById("cc-svg");
  var stage = document.getElementById("cc-stage");
  var layer = document.getElementById("cc-layer");
  var viewport = document.getElementById("cc-viewport");
  var layerGroups = document.getElementById("cc-groups");
  var layerEdges = document.getElementById("cc-edges");
  var layerObjects = document.getElementById("cc-objects");
  var hover = document.getElementById("cc-hover");
  var canvas = document.getElementById("cc-canvas");
  var COLOURS = { node: "#2f6f73", instance: "#6b8fb3", job: "#8d7bb5", workflow: "#4f8a5b", connection: "#a08048" };

  var state = {
    map: null, raw: "", byId: {}, pos: {}, groupBox: {}, els: {}, edgeEls: [],
    view: { x: 20, y: 20, k: 1 }, selected: null, focus: false,
    kinds: { node: true, instance: true, job: true, workflow: true, connection: true },
    status: "", collapsed: {}, renders: 0, firstRenderMs: null, fitted: false, pending: false
  };

  // ---- The person's layout, kept on the server (GET/PUT /api/v1/me/layout): which side
  // the roster is on, where the activity strip is, the panels' sizes, and the
  // organizations collapsed on the map.
  var DEFAULT_LAYOUT = { roster_side: "left", activity: "bottom", roster_width: 288, inspector_width: 352, activity_height: 152, collapsed_groups: [] };
  var BOUNDS = { roster_width: [160, 640], inspector_width: [200, 720], activity_height: [60, 600] };
  var layoutState = copyLayout(DEFAULT_LAYOUT), saveTimer = 0, saves = 0;

  function copyLayout(l) {
    var out = {};
    Object.keys(DEFAULT_LAYOUT).forEach(function (k) { out[k] = l && l[k] !== undefined ? l[k] : DEFAULT_LAYOUT[k]; });
    out.collapsed_groups = (out.collapsed_groups || []).slice();
    return out;
  }
  function clamp(field, v) { var b = BOUNDS[field]; return Math.round(Math.max(b[0], Math.min(b[1], v))); }

  function applyLayout() {
    var l = layoutState, right = l.roster_side === "right";
    root.classList.toggle("roster-right", right);
    root.classList.toggle("activity-top", l.activity === "top");
    root.classList.toggle("activity-hidden", l.activity === "hidden");
    root.style.setProperty("--cc-left-w", (right ? l.inspector_width : l.roster_width) + "px");
    root.style.setProperty("--cc-right-w", (right ? l.roster_width : l.inspector_width) + "px");
    root.style.setProperty("--cc-activity-h", l.activity_height + "px");
    root.setAttribute("data-roster-side", l.roster_side);
    root.setAttribute("data-activity", l.activity);
    document.getElementById("cc-activity-place").value = l.activity;
    state.collapsed = {};
    l.collapsed_groups.forEach(function (g) { state.collapsed[g] = true; });
  }

  function saveLayout() {
    clearTimeout(saveTimer);
    saveTimer = setTimeout(function () {
      fetch(root.getAttribute("data-layout-url"), {
        method: "PUT", credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": root.getAttribute("data-csrf") || "" },
        body: JSON.stringify(layoutState)
      })
        .then(function (r) { if (!r.ok) throw new Error(String(r.status)); saves += 1; root.setAttribute("data-layout-saved", String(saves)); })
        .catch(function () {
          document.getElementById("cc-updated").textContent = "· the layout could not be saved; it is kept for this page only";
        });
    }, 250);
  }

  function changeLayout(field, value) {
    layoutState[field] = value;
    applyLayout();
    saveLayout();
    if (state.map) applyView();
  }

  function remember() {
    layoutState.collapsed_groups = Object.keys(state.collapsed).sort();
    saveLayout();
  }

  document.getElementById("cc-swap").addEventListener("click", function () {
    changeLayout("roster_side", layoutState.roster_side === "left" ? "right" : "left");
  });
  document.getElementById("cc-activity-place").addEventListener("change", function (ev) { changeLayout("activity", ev.target.value); });
  document.getElementById("cc-layout-reset").addEventListener("click", function () {
    var collapsed = layoutState.collapsed_groups;
    layoutState = copyLayout(DEFAULT_LAYOUT);
    layoutState.collapsed_groups = collapsed;
    applyLayout();
    saveLayout();
    if (state.map) applyView();
  });
  // Resizing: drag a grip between two panels.
  Array.prototype.forEach.call(document.querySelectorAll(".cc-grip"), function (grip) {
    var which = grip.getAttribute("data-grip"), moving = false;
    grip.addEventListener("pointerdown", function (ev) {
      moving = true; grip.classList.add("dragging"); ev.preventDefault();
      try { grip.setPointerCapture(ev.pointerId); } catch (e) { /* a pointer the page cannot capture: moves still arrive while over the grip */ }
    });
    grip.addEventListener("pointermove", function (ev) {
      if (!moving) return;
      var r = root.getBoundingClientRect();
      if (which === "activity") {
        var h = layoutState.activity === "top" ? ev.clientY - r.top : r.bottom - ev.clientY;
        layoutState.activity_height = clamp("activity_height", h);
      } else {
        var field = which === "roster" ? "roster_width" : "inspector_width";
        var onLeft = (which === "roster") === (layoutState.roster_side === "left");
        layoutState[field] = clamp(field, onLeft ? ev.clientX - r.left : r.right - ev.clientX);
      }
      applyLayout();
    });
    grip.addEventListener("pointerup", function () {
      if (!moving) return;
      moving = false; grip.classList.remove("dragging");
      saveLayout();
      if (state.map) applyView();
    });
  });

  function el(ns, name, attrs, text) {
    var e = ns ? document.createElementNS(ns, name) : document.createElement(name);
    if (attrs) for (var k in attrs) if (Object.prototype.hasOwnProperty.call(attrs, k)) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function safeLink(href) { return typeof href === "string" && href.charAt(0) === "/" && href.charAt(1) !== "/" ? href : "/"; }

  function attention(n) { return n.hotspot || BAD[n.status] === 1; }

  function visible(n) {
    if (n.kind === "organization") return false;
    if (!state.kinds[n.kind]) return false;
    if (state.status === "attention" && !attention(n)) return false;
    if (state.status === "fine" && attention(n)) return false;
    return true;
  }

  // ---- Layout: groups flow left to right; inside a group, one column per machine
  // (the node, its instances, its jobs), then columns of the rest.
  function layout(map) {
    var pos = {}, boxes = {};
    var members = {};
    map.groups.forEach(function (g) { members[g.id] = { machines: [], loose: [], workflows: [], connections: [] }; });
    var children = {};
    map.nodes.forEach(function (n) {
      if (n.parent) (children[n.parent] = children[n.parent] || []).push(n);
    });
    map.nodes.forEach(function (n) {
      var m = members[n.group];
      if (!m) return;
      if (n.kind === "node") m.machines.push(n);
      else if (n.kind === "workflow") m.workflows.push(n);
      else if (n.kind === "connection") m.connections.push(n);
      else if (!n.parent && n.kind !== "organization") m.loose.push(n);
    });
    var byLabel = function (a, b) { return a.label < b.label ? -1 : a.label > b.label ? 1 : 0; };
    var x = 0, y = 0, rowH = 0;
    var groups = map.groups.slice().sort(function (a, b) {
      if (a.id === "org:msp") return -1;
      if (b.id === "org:msp") return 1;
      return a.label.toLowerCase() < b.label.toLowerCase() ? -1 : 1;
    });
    groups.forEach(function (g) {
      var m = members[g.id];
      var columns = [];
      m.machines.sort(byLabel).forEach(function (node) {
        var kids = (children[node.id] || []).slice().sort(function (a, b) {
          return (a.kind === b.kind ? 0 : a.kind === "instance" ? -1 : 1) || byLabel(a, b);
        });
        columns.push([node].concat(kids));
      });
      [m.loose, m.workflows, m.connections].forEach(function (list) {
        list.sort(byLabel);
        for (var i = 0; i < list.length; i += 12) columns.push(list.slice(i, i + 12));
      });
      var collapsed = !!state.collapsed[g.id];
      var cols = Math.max(1, Math.min(MAX_COLS, columns.length));
      var minW = Math.min(600, 120 + g.label.length * 8.5);
      var w = collapsed ? Math.max(260, minW) : Math.max(260, minW, cols * COL_W + PAD * 2);
      var h = HEAD + PAD;
      if (!collapsed) {
        var cy = HEAD, bandH = 0;
        columns.forEach(function (col, i) {
          var c = i % MAX_COLS;
          if (c === 0 && i > 0) { cy += bandH + ROW_H; bandH = 0; }
          col.forEach(function (n, j) {
            pos[n.id] = { x: PAD + c * COL_W + 14 + (j === 0 || n.kind !== "instance" && n.kind !== "job" ? 0 : 14), y: cy + 14 + j * ROW_H };
          });
          bandH = Math.max(bandH, col.length * ROW_H);
        });
        h = cy + bandH + PAD;
      }
      if (x > 0 && x + w > WORLD_W) { x = 0; y += rowH + GROUP_GAP; rowH = 0; }
      boxes[g.id] = { x: x, y: y, w: w, h: Math.max(h, HEAD + 24) };
      Object.keys(pos).forEach(function (id) {
        var p = pos[id];
        if (!p.abs && state.byId[id] && state.byId[id].group === g.id) { p.x += x; p.y += y; p.abs = true; }
      });
      x += w + GROUP_GAP;
      rowH = Math.max(rowH, boxes[g.id].h);
    });
    return { pos: pos, boxes: boxes };
  }

  // ---- Drawing.
  function draw() {
    var map = state.map;
    state.byId = {};
    map.nodes.forEach(function (n) { state.byId[n.id] = n; });
    var l = layout(map);
    state.pos = l.pos; state.groupBox = l.boxes; state.els = {}; state.edgeEls = [];
    clear(layerGroups); clear(layerEdges); clear(layerObjects);
    var fragG = document.createDocumentFragment(), fragE = document.createDocumentFragment(), fragO = document.createDocumentFragment();
    map.groups.forEach(function (g) {
      var b = l.boxes[g.id];
      if (!b) return;
      var cls = "cc-group" + (g.status === "attention" ? " attention" : "") + (state.collapsed[g.id] ? " collapsed" : "");
      var ge = el(SVG, "g", { "class": cls, "data-group": g.id, transform: "translate(" + b.x + "," + b.y + ")" });
      ge.appendChild(el(SVG, "rect", { "class": "box", width: b.w, height: b.h, rx: 12 }));
      var title = el(SVG, "text", { "class": "title", x: 14, y: 22 }, (state.collapsed[g.id] ? "▸ " : "▾ ") + g.label);
      title.addEventListener("click", function (ev) { ev.stopPropagation(); toggleGroup(g.id); });
      ge.appendChild(title);
      var sub = g.objects + (g.objects === 1 ? " object" : " objects") + (g.hotspots ? " · " + g.hotspots + " need attention" : "") + (g.status === "archived" ? " · archived" : "");
      ge.appendChild(el(SVG, "text", { "class": "sub", x: 14, y: 38 }, sub));
      fragG.appendChild(ge);
    });
    map.edges.forEach(function (e) {
      var a = l.pos[e.from], b = l.pos[e.to];
      if (!a || !b) return;
      var mx = (a.x + b.x) / 2 - Math.min(40, Math.abs(a.y - b.y) / 4);
      var p = el(SVG, "path", { "class": "cc-edge", d: "M" + a.x + "," + a.y + " Q" + mx + "," + (a.y + b.y) / 2 + " " + b.x + "," + b.y });
      p.__from = e.from; p.__to = e.to;
      state.edgeEls.push(p);
      fragE.appendChild(p);
    });
    map.nodes.forEach(function (n) {
      var p = l.pos[n.id];
      if (!p) return;
      var r = RADIUS[n.kind] || 6;
      var cls = "cc-obj kind-" + n.kind + " status-" + n.status + (n.hotspot ? " hot" : "");
      var g = el(SVG, "g", { "class": cls, "data-id": n.id, transform: "translate(" + p.x + "," + p.y + ")" });
      // A ring only where a hotspot is: fewer elements to paint while panning.
      if (n.hotspot) g.appendChild(el(SVG, "circle", { "class": "ring", r: r + 4 }));
      if (n.kind === "workflow" || n.kind === "connection") {
        g.appendChild(el(SVG, "rect", { "class": "dot", x: -r, y: -r, width: 2 * r, height: 2 * r, rx: n.kind === "workflow" ? 3 : r / 2 }));
      } else {
        g.appendChild(el(SVG, "circle", { "class": "dot", r: r }));
      }
      g.appendChild(el(SVG, "text", { x: r + 6, y: 4 }, n.label));
      state.els[n.id] = g;
      fragO.appendChild(g);
    });
    layerGroups.appendChild(fragG); layerEdges.appendChild(fragE); layerObjects.appendChild(fragO);
    if (shown.k) cull();
    applyFilters();
    applySelection();
    roster();
    hotspots();
    status();
    state.renders += 1;
    root.setAttribute("data-renders", String(state.renders));
    if (state.firstRenderMs === null) {
      state.firstRenderMs = performance.now();
      root.setAttribute("data-first-render-ms", String(Math.round(state.firstRenderMs)));
    }
    if (!state.fitted) { state.fitted = true; zoomTo("overview"); }
    if (state.selected) inspect(state.selected);
  }

  function applyFilters() {
    var hidden = {};
    state.map.nodes.forEach(function (n) {
      var e = state.els[n.id];
      if (!e) return;
      var show = visible(n);
      if (!show) hidden[n.id] = true;
      e.classList.toggle("filtered", !show);
    });
    state.edgeEls.forEach(function (p) { p.classList.toggle("filtered", !!(hidden[p.__from] || hidden[p.__to])); });
    if (overview()) paintOverview();
  }

  function neighbours(id) {
    var set = {}; set[id] = true;
    state.map.edges.forEach(function (e) {
      if (e.from === id) set[e.to] = true;
      if (e.to === id) set[e.from] = true;
    });
    var n = state.byId[id];
    if (n && n.kind === "organization") state.map.nodes.forEach(function (m) { if (m.group === id) set[m.id] = true; });
    return set;
  }

  function applySelection() {
    var near = state.selected ? neighbours(state.selected) : null;
    var focusing = state.focus && !!near;
    svg.classList.toggle("focusing", focusing);
    Object.keys(state.els).forEach(function (id) {
      var e = state.els[id];
      e.classList.toggle("selected", id === state.selected);
      e.classList.toggle("dim", focusing && !near[id]);
    });
    state.edgeEls.forEach(function (p) { p.classList.toggle("dim", focusing && !(near[p.__from] && near[p.__to])); });
    if (overview()) paintOverview();
  }

  // ---- View: pan and zoom of the map only, anchored at the cursor.
  // The SVG is larger than the stage by MARGIN on every side. While the view pans, the
  // whole drawing is moved as one layer (a CSS transform: nothing is repainted); once it
  // rests, the move is written into the drawing and the layer put back.
  var MARGIN = 400;
  var frame = 0, settle = 0, full = false;
  var shown = { x: 0, y: 0, k: 0 };
  function stageSize() {
    var r = stage.getBoundingClientRect();
    return { w: r.width || 800, h: r.height || 600 };
  }
  function commit() {
    var v = state.view;
    viewport.setAttribute("transform", "translate(" + v.x + "," + v.y + ") scale(" + v.k + ")");
    layer.style.transform = "";
    shown = { x: v.x, y: v.y, k: v.k };
    svg.classList.toggle("zoom-overview", v.k < 0.6);
    svg.classList.toggle("zoom-org", v.k >= 0.6 && v.k < 1.2);
    svg.classList.toggle("zoom-detail", v.k >= 1.2);
    root.setAttribute("data-zoom", v.k < 0.6 ? "overview" : v.k < 1.2 ? "organization" : "detail");
    cull();
    paintOverview();
  }

  // At the overview zoom every object is a dot: they are painted onto one canvas when
  // the view is written, and the SVG objects (thousands of elements) are left out of
  // painting, so a pan moves one bitmap. Closer in, the SVG is drawn as before.
  function overview() { return shown.k > 0 && shown.k < 0.6; }
  function paintOverview() {
    var on = overview() && !!state.map;
    svg.classList.toggle("canvas-mode", on);
    canvas.hidden = !on;
    root.setAttribute("data-canvas", on ? "true" : "false");
    if (!on) return;
    var w = layer.clientWidth, h = layer.clientHeight;
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
    var ctx = canvas.getContext("2d"), v = state.view;
    ctx.clearRect(0, 0, w, h);
    var near = state.selected && state.focus ? neighbours(state.selected) : null;
    var hot = getComputedStyle(root).getPropertyValue("--hot").trim() || "#c2410c";
    var bad = getComputedStyle(document.documentElement).getPropertyValue("--bad-text").trim() || "#9a2f22";
    state.map.nodes.forEach(function (n) {
      var p = state.pos[n.id], e = state.els[n.id];
      if (!p || !e || e.classList.contains("filtered")) return;
      var x = p.x * v.k + v.x, y = p.y * v.k + v.y;
      if (x < -20 || y < -20 || x > w + 20 || y > h + 20) return;
      var r = Math.max(1.5, (RADIUS[n.kind] || 6) * v.k);
      ctx.globalAlpha = near && !near[n.id] ? 0.12 : 1;
      ctx.fillStyle = BAD[n.status] ? (n.status === "stale" || n.status === "unhealthy" || n.status === "blocked" ? "#c8a23a" : bad) : COLOURS[n.kind] || "#888";
      if (n.kind === "workflow" || n.kind === "connection") ctx.fillRect(x - r, y - r, 2 * r, 2 * r);
      else { ctx.beginPath(); ctx.arc(x, y, r, 0, 2 * Math.PI); ctx.fill(); }
      if (n.hotspot || n.id === state.selected) {
        ctx.strokeStyle = n.id === state.selected ? "#4c9ba0" : hot;
        ctx.lineWidth = 2;
        ctx.strokeRect(x - r - 2, y - r - 2, 2 * r + 4, 2 * r + 4);
      }
    });
    ctx.globalAlpha = 1;
  }

  // The object under a point of the stage, at the overview (where the canvas is drawn).
  function objectAt(clientX, clientY) {
    var r = stage.getBoundingClientRect(), v = state.view;
    var wx = (clientX - r.left + MARGIN - v.x) / v.k, wy = (clientY - r.top + MARGIN - v.y) / v.k;
    var best = null, bestD = Math.pow(Math.max(8, 6 / v.k), 2);
    Object.keys(state.pos).forEach(function (id) {
      var p = state.pos[id], e = state.els[id];
      if (!e || e.classList.contains("filtered")) return;
      var d = (p.x - wx) * (p.x - wx) + (p.y - wy) * (p.y - wy);
      if (d < bestD) { bestD = d; best = id; }
    });
    return best;
  }
  // Objects outside the drawn area (the stage and its margin) are left out of painting.
  function cull() {
    var size = stageSize(), v = state.view, pad = 60;
    var x0 = (-v.x) / v.k - pad, y0 = (-v.y) / v.k - pad;
    var x1 = (size.w + 2 * MARGIN - v.x) / v.k + pad, y1 = (size.h + 2 * MARGIN - v.y) / v.k + pad;
    var out = {};
    Object.keys(state.els).forEach(function (id) {
      var p = state.pos[id], off = !p || p.x < x0 || p.x > x1 || p.y < y0 || p.y > y1;
      if (off) out[id] = true;
      if (state.els[id].__off !== off) { state.els[id].__off = off; state.els[id].classList.toggle("off", off); }
    });
    state.edgeEls.forEach(function (e) {
      var off = !!(out[e.__from] && out[e.__to]);
      if (e.__off !== off) { e.__off = off; e.classList.toggle("off", off); }
    });
  }
  function schedule() {
    if (frame) return;
    frame = requestAnimationFrame(function () {
      frame = 0;
      var v = state.view, dx = v.x - shown.x, dy = v.y - shown.y;
      if (full || v.k !== shown.k || Math.abs(dx) > MARGIN * 0.9 || Math.abs(dy) > MARGIN * 0.9) {
        full = false;
        commit();
      } else {
        layer.style.transform = "translate3d(" + dx + "px," + dy + "px,0)";
      }
    });
  }
  // A pan: moved as a layer now, redrawn when it rests.
  function applyPan() {
    clearTimeout(settle);
    settle = setTimeout(function () { full = true; schedule(); }, 150);
    schedule();
  }
  // A zoom or a jump: redrawn at the next frame.
  function applyView() {
    full = true;
    schedule();
  }

  function zoomAt(px, py, factor) {
    var v = state.view;
    var k = Math.max(0.05, Math.min(4, v.k * factor));
    v.x = px - (px - v.x) * (k / v.k);
    v.y = py - (py - v.y) * (k / v.k);
    v.k = k;
    applyView();
  }

  function fit(box, maxK) {
    var size = stageSize(), w = size.w, h = size.h;
    var k = Math.min(maxK, (w - 40) / Math.max(box.w, 1), (h - 40) / Math.max(box.h, 1));
    k = Math.max(0.05, k);
    state.view = { k: k, x: MARGIN + (w - box.w * k) / 2 - box.x * k, y: MARGIN + (h - box.h * k) / 2 - box.y * k };
    applyView();
  }

  function centreOn(id, k) {
    var p = state.pos[id];
    if (!p && state.groupBox[id]) return fit(state.groupBox[id], 1.6);
    if (!p) return;
    var size = stageSize();
    state.view = { k: k, x: MARGIN + size.w / 2 - p.x * k, y: MARGIN + size.h / 2 - p.y * k };
    applyView();
  }

  function zoomTo(level) {
    var boxes = state.groupBox, ids = Object.keys(boxes);
    if (!ids.length) return;
    if (level === "overview") {
      var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      ids.forEach(function (id) { var b = boxes[id]; x0 = Math.min(x0, b.x); y0 = Math.min(y0, b.y); x1 = Math.max(x1, b.x + b.w); y1 = Math.max(y1, b.y + b.h); });
      fit({ x: x0, y: y0, w: x1 - x0, h: y1 - y0 }, 1.0);
      if (state.view.k >= 0.6 && ids.length > 1) { state.view.k = 0.59; applyView(); }
    } else if (level === "organization") {
      var n = state.selected && state.byId[state.selected];
      var g = n ? n.group : ids.filter(function (id) { return id !== "org:msp"; })[0] || ids[0];
      if (boxes[g]) fit(boxes[g], 1.19);
      if (state.view.k < 0.6) { state.view.k = 0.6; applyView(); }
    } else {
      var target = state.selected && state.pos[state.selected] ? state.selected : null;
      if (target) centreOn(target, 1.6);
      else { var size = stageSize(); zoomAt(MARGIN + size.w / 2, MARGIN + size.h / 2, 1.6 / state.view.k); }
    }
  }

  svg.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    var r = stage.getBoundingClientRect();
    zoomAt(ev.clientX - r.left + MARGIN, ev.clientY - r.top + MARGIN, Math.exp(-ev.deltaY * 0.0015));
  }, { passive: false });

  var drag = null;
  svg.addEventListener("pointerdown", function (ev) {
    if (ev.button !== 0) return;
    drag = { x: ev.clientX, y: ev.clientY, vx: state.view.x, vy: state.view.y, moved: false };
    try { svg.setPointerCapture(ev.pointerId); } catch (e) { /* a pointer the page cannot capture */ }
  });
  svg.addEventListener("pointermove", function (ev) {
    if (drag) {
      var dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) { drag.moved = true; svg.classList.add("dragging"); }
      if (drag.moved) { state.view.x = drag.vx + dx; state.view.y = drag.vy + dy; applyPan(); hover.hidden = true; }
      return;
    }
    var t = ev.target.closest ? ev.target.closest(".cc-obj") : null;
    var hit = t ? t.getAttribute("data-id") : overview() ? objectAt(ev.clientX, ev.clientY) : null;
    if (!hit) { hover.hidden = true; return; }
    var n = state.byId[hit];
    if (!n) return;
    clear(hover);
    hover.appendChild(el(null, "strong", null, n.label));
    hover.appendChild(el(null, "span", null, kindLabel(n.kind) + " · " + n.status_label));
    var r = stage.getBoundingClientRect();
    hover.style.left = (ev.clientX - r.left + 14) + "px";
    hover.style.top = (ev.clientY - r.top + 16) + "px";
    hover.hidden = false;
  });
  svg.addEventListener("pointerup", function (ev) {
    var d = drag; drag = null;
    svg.classList.remove("dragging");
    if (d && d.moved) return;
    var t = document.elementFromPoint(ev.clientX, ev.clientY);
    var obj = t && t.closest ? t.closest(".cc-obj") : null;
    var id = obj ? obj.getAttribute("data-id") : overview() ? objectAt(ev.clientX, ev.clientY) : null;
    if (id) select(id, false);
  });
  svg.addEventListener("pointerleave", function () { hover.hidden = true; });

  // ---- Selection and the inspector.
  var KINDS = { organization: "Organization", node: "Node", instance: "OpenClaw instance", job: "Active job", workflow: "Workflow", connection: "Connection" };
  function kindLabel(k) { return KINDS[k] || k; }

  function select(id, centre) {
    if (!state.byId[id]) return;
    state.selected = id;
    root.setAttribute("data-selected", id);
    applySelection();
    inspect(id);
    if (centre) centreOn(id, Math.max(state.view.k, 1.3));
  }

  function inspect(id) {
    var n = state.byId[id];
    var body = document.getElementById("cc-inspector-body");
    if (!n) { body.hidden = true; document.getElementById("cc-inspector-empty").hidden = false; return; }
    document.getElementById("cc-inspector-empty").hidden = true;
    body.hidden = false;
    body.setAttribute("data-id", n.id);
    document.getElementById("cc-i-kind").textContent = kindLabel(n.kind);
    document.getElementById("cc-i-label").textContent = n.label;
    var st = document.getElementById("cc-i-status");
    st.textContent = n.status_label;
    st.setAttribute("class", "badge " + (n.hotspot || BAD[n.status] ? "bad" : n.status === "online" || n.status === "healthy" || n.status === "connected" || n.status === "succeeded" ? "ok" : "info"));
    document.getElementById("cc-i-why").textContent = n.why;
    document.getElementById("cc-i-next-box").hidden = !n.next_action;
    document.getElementById("cc-i-next").textContent = n.next_action || "";
    var link = document.getElementById("cc-i-link");
    link.setAttribute("href", safeLink(n.link));
    link.textContent = "Open this " + kindLabel(n.kind).toLowerCase();
    var issues = document.getElementById("cc-i-issues");
    clear(issues);
    state.map.hotspots.filter(function (h) { return h.target === n.id; }).forEach(function (h) {
      var li = el(null, "li");
      li.appendChild(el(null, "strong", null, h.title));
      li.appendChild(el(null, "p", null, h.why));
      li.appendChild(el(null, "p", null, "What to do: " + h.next_action));
      var a = el(null, "a", { href: safeLink(h.link) }, "Look into it");
      li.appendChild(a);
      issues.appendChild(li);
    });
    var related = document.getElementById("cc-i-related");
    clear(related);
    var near = neighbours(id), count = 0;
    Object.keys(near).forEach(function (rid) {
      if (rid === id || count >= 30 || !state.byId[rid]) return;
      count += 1;
      related.appendChild(rowButton(state.byId[rid]));
    });
    if (!count) related.appendChild(el(null, "li", { "class": "muted" }, "Nothing connected."));
    document.getElementById("cc-i-tech").textContent = "id: " + n.id + "\nrecord: " + n.record_id + "\nkind: " + n.kind + "\nstatus: " + n.status + "\ngroup: " + n.group;
  }

  document.getElementById("cc-i-close").addEventListener("click", function () {
    state.selected = null;
    root.removeAttribute("data-selected");
    applySelection();
    inspect(null);
  });

  function rowButton(n) {
    var li = el(null, "li");
    var b = el(null, "button", { type: "button", "data-id": n.id }, n.label + " — " + kindLabel(n.kind) + ", " + n.status_label);
    b.addEventListener("click", function () { select(n.id, true); });
    li.appendChild(b);
    return li;
  }

  // ---- Roster, hotspots, search, filters.
  function roster() {
    var list = document.getElementById("cc-roster-list");
    clear(list);
    state.map.groups.forEach(function (g) {
      var li = el(null, "li", { "class": "cc-group-row" + (g.status === "attention" ? " attention" : ""), "data-group": g.id });
      var b = el(null, "button", { type: "button" }, g.label);
      b.appendChild(el(null, "span", { "class": "cc-sub" }, " · " + g.objects + (g.hotspots ? ", " + g.hotspots + " need attention" : "")));
      b.addEventListener("click", function () {
        if (state.byId[g.id]) select(g.id, false);
        if (state.groupBox[g.id]) fit(state.groupBox[g.id], 1.19);
      });
      li.appendChild(b);
      list.appendChild(li);
    });
    if (!state.map.groups.length) list.appendChild(el(null, "li", { "class": "muted" }, "Nothing to show for your account yet."));
  }

  function hotspots() {
    var list = document.getElementById("cc-hotspots");
    clear(list);
    document.getElementById("cc-hot-count").textContent = String(state.map.hotspots.length);
    state.map.hotspots.forEach(function (h) {
      var li = el(null, "li", { "data-hotspot": h.id });
      var b = el(null, "button", { type: "button", title: h.why }, h.title);
      b.addEventListener("click", function () {
        if (h.target && state.byId[h.target]) select(h.target, true);
        else window.location.href = safeLink(h.link);
      });
      li.appendChild(b);
      list.appendChild(li);
    });
    if (!state.map.hotspots.length) list.appendChild(el(null, "li", { "class": "muted" }, "Nothing needs attention."));
  }

  function status() {
    var s = document.getElementById("cc-state");
    s.textContent = state.map.summary;
    s.setAttribute("class", "cc-state " + state.map.state);
    document.getElementById("cc-updated").textContent = "· updated " + new Date().toLocaleTimeString();
  }

  var search = document.getElementById("cc-search");
  var results = document.getElementById("cc-results");
  function runSearch() {
    clear(results);
    var q = search.value.trim().toLowerCase();
    if (!q || !state.map) return;
    var found = 0;
    for (var i = 0; i < state.map.nodes.length && found < 15; i++) {
      var n = state.map.nodes[i];
      if (n.label.toLowerCase().indexOf(q) >= 0 || n.record_id.toLowerCase() === q) {
        results.appendChild(rowButton(n));
        found += 1;
      }
    }
    if (!found) results.appendChild(el(null, "li", { "class": "muted" }, "Nothing matches."));
  }
  search.addEventListener("input", runSearch);
  search.addEventListener("keydown", function (ev) {
    if (ev.key !== "Enter") return;
    var first = results.querySelector("button[data-id]");
    if (first) { ev.preventDefault(); select(first.getAttribute("data-id"), true); }
  });

  Array.prototype.forEach.call(document.querySelectorAll("#cc-kinds input"), function (box) {
    box.addEventListener("change", function () { state.kinds[box.value] = box.checked; if (state.map) applyFilters(); });
  });
  document.getElementById("cc-status").addEventListener("change", function (ev) { state.status = ev.target.value; if (state.map) applyFilters(); });
  Array.prototype.forEach.call(document.querySelectorAll("[data-zoom]"), function (b) {
    b.addEventListener("click", function () { zoomTo(b.getAttribute("data-zoom")); });
  });
  var focusButton = document.getElementById("cc-focus");
  focusButton.addEventListener("click", function () {
    state.focus = !state.focus;
    focusButton.setAttribute("aria-pressed", String(state.focus));
    applySelection();
  });

  function toggleGroup(id) {
    if (state.collapsed[id]) delete state.collapsed[id]; else state.collapsed[id] = true;
    remember();
    draw();
  }

  // ---- Live data.
  function load() {
    if (state.pending) return;
    state.pending = true;
    fetch(root.getAttribute("data-map-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 401) { window.location.href = "/login"; throw new Error("signed out"); }
        return r.text().then(function (t) { if (!r.ok) throw new Error(t); return t; });
      })
      .then(function (text) {
        if (text !== state.raw) {
          state.raw = text;
          state.map = JSON.parse(text);
          draw();
        } else {
          document.getElementById("cc-updated").textContent = "· updated " + new Date().toLocaleTimeString();
        }
      })
      .catch(function (e) {
        var s = document.getElementById("cc-state");
        if (String(e.message) !== "signed out") {
          s.textContent = "The map could not be refreshed: the server did not answer. It will try again in a few seconds.";
          s.setAttribute("class", "cc-state critical");
        }
      })
      .then(function () { state.pending = false; });
  }

  function activity() {
    fetch(root.getAttribute("data-audit-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
      .then(function (page) {
        var list = document.getElementById("cc-activity-list");
        clear(list);
        (page.records || []).forEach(function (rec) {
          var li = el(null, "li", { "class": rec.outcome });
          li.appendChild(el(null, "span", { "class": "when" }, new Date(rec.at).toLocaleString()));
          li.appendChild(el(null, "span", null, rec.actor_name + " · " + rec.action + (rec.outcome !== "succeeded" ? " (" + rec.outcome + ")" : "") + (rec.reason ? " — " + rec.reason : "")));
          list.appendChild(li);
        });
        if (!(page.records || []).length) list.appendChild(el(null, "li", { "class": "muted" }, "No recorded events yet."));
      })
      .catch(function () { /* the activity strip is a courtesy; the map says when the server is away */ });
  }

  // A small surface for tests and the benchmark (read-only views and the same pan the
  // pointer does).
  window.commandCenter = {
    view: function () { return { x: state.view.x, y: state.view.y, k: state.view.k }; },
    layout: function () { return copyLayout(layoutState); },
    // Where an object is drawn, in client coordinates.
    screenOf: function (id) {
      var p = state.pos[id], r = stage.getBoundingClientRect(), v = state.view;
      return p ? { x: r.left - MARGIN + v.x + p.x * v.k, y: r.top - MARGIN + v.y + p.y * v.k } : null;
    },
    panBy: function (dx, dy) { state.view.x += dx; state.view.y += dy; applyPan(); },
    select: function (id) { select(id, true); },
    refresh: load
  };

  applyLayout();
  fetch(root.getAttribute("data-layout-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
    .then(function (l) { layoutState = copyLayout(l); applyLayout(); })
    .catch(function () { /* the default layout */ })
    .then(function () { root.setAttribute("data-layout-loaded", "true"); load(); });
  activity();
  setInterval(function () { if (!document.hidden) { load(); activity(); } }, POLL_MS);
})();
