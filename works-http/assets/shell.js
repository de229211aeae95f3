// The shell of the resource pages: the roster lists the page's rows, the inspector shows
// the selected one (status, why, what to do next, a link to open it), a hover card
// names a row, a record opened on its own page gets a clear Close, and the activity
// strip shows recorded events of the page's kind (read-only, from GET /api/v1/audit).
// Every text is set with textContent; nothing is parsed as markup.
(function () {
  "use strict";

  var shell = document.getElementById("shell");
  if (!shell) return;
  var work = shell.querySelector("main");
  var path = window.location.pathname;
  var parts = path.split("/").filter(function (p) { return p; });
  var listPath = "/" + parts.slice(0, 2).join("/");
  var MAX_ROWS = 60;
  var BAD = /offline|failed|error|timed out|blocked|not healthy|gone|refused|denied|disabled|critical/i;
  var WARN = /stale|quiet|waiting|awaiting|needs review|pending|placeholder|retired|archived|degraded/i;

  function el(name, attrs, text) {
    var e = document.createElement(name);
    if (attrs) Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function clear(n) { while (n.firstChild) n.removeChild(n.firstChild); }
  function text(n) { return n ? n.textContent.replace(/\s+/g, " ").trim() : ""; }
  function safeLink(href) { return typeof href === "string" && href.charAt(0) === "/" && href.charAt(1) !== "/" ? href : null; }

  // ---- The roster: the current section, and the rows of the page.
  var current = null;
  Array.prototype.forEach.call(shell.querySelectorAll(".shell-sections a"), function (a) {
    if (a.getAttribute("href") === listPath) { a.classList.add("current"); current = a; }
  });

  var nextFor = function (status) {
    if (BAD.test(status)) return "Open it to read what happened; its page says what to do and offers the actions you may take.";
    if (WARN.test(status)) return "Open it to see what it is waiting for, and act there if it is yours to decide.";
    return "Nothing needs doing. Open it for its details and history.";
  };

  // What one table row says: its name, status, why, and link.
  function describe(tr) {
    var table = tr.closest("table");
    var heads = table ? Array.prototype.map.call(table.querySelectorAll("thead th"), text) : [];
    var cells = Array.prototype.slice.call(tr.children);
    var link = tr.querySelector("a[href^='/']");
    var first = cells[0];
    var strong = first && first.querySelector("a, strong, code");
    var title = text(strong) || text(first) || "This row";
    var badge = tr.querySelector(".badge");
    var status = text(badge);
    var why = text(tr.querySelector(".why")) || (status ? "Its status is " + status.toLowerCase() + "." : "Listed on this page.");
    var card = tr.closest("section");
    var kind = text(card && card.querySelector("h2")) || text(document.querySelector("main h1"));
    var facts = cells.map(function (c, i) { return [heads[i] || "Column " + (i + 1), text(c)]; });
    return { title: title, status: status || "Listed", bad: BAD.test(status), warn: WARN.test(status), why: why, next: nextFor(status), link: link ? safeLink(link.getAttribute("href")) : null, kind: kind, facts: facts };
  }

  var rows = Array.prototype.slice.call(work.querySelectorAll("table tbody tr")).filter(function (tr) { return tr.children.length > 1; });
  var selected = null;
  var rowList = document.getElementById("shell-rows");
  if (rows.length) {
    document.getElementById("shell-rows-title").hidden = false;
    rows.slice(0, MAX_ROWS).forEach(function (tr, i) {
      var d = describe(tr);
      tr.setAttribute("data-shell-row", String(i));
      var li = el("li");
      var b = el("button", { type: "button", "data-shell-row": String(i), title: d.status }, d.title);
      b.addEventListener("click", function () { select(tr, true); });
      li.appendChild(b);
      rowList.appendChild(li);
    });
    if (rows.length > MAX_ROWS) rowList.appendChild(el("li", { "class": "muted" }, (rows.length - MAX_ROWS) + " more on the page"));
  }

  // ---- The inspector.
  var body = document.getElementById("shell-i-body"), empty = document.getElementById("shell-i-empty");
  function show(d) {
    empty.hidden = true;
    body.hidden = false;
    document.getElementById("shell-i-kind").textContent = d.kind;
    document.getElementById("shell-i-title").textContent = d.title;
    var st = document.getElementById("shell-i-status");
    st.textContent = d.status;
    st.setAttribute("class", "badge " + (d.bad ? "bad" : d.warn ? "warn" : "ok"));
    document.getElementById("shell-i-why").textContent = d.why;
    document.getElementById("shell-i-next").textContent = d.next;
    var open = document.getElementById("shell-i-open");
    open.hidden = !d.link;
    if (d.link) { open.setAttribute("href", d.link); open.textContent = "Open " + d.title; }
    var tech = document.getElementById("shell-i-tech");
    clear(tech);
    d.facts.forEach(function (f) { if (!f[1]) return; tech.appendChild(el("dt", null, f[0])); tech.appendChild(el("dd", null, f[1])); });
  }
  function select(tr, scroll) {
    if (selected) selected.classList.remove("shell-selected");
    selected = tr;
    tr.classList.add("shell-selected");
    Array.prototype.forEach.call(rowList.querySelectorAll("button"), function (b) {
      b.setAttribute("aria-current", String(b.getAttribute("data-shell-row") === tr.getAttribute("data-shell-row")));
    });
    shell.setAttribute("data-selected", tr.getAttribute("data-shell-row") || "");
    show(describe(tr));
    if (scroll) tr.scrollIntoView({ block: "nearest" });
  }
  document.getElementById("shell-i-close").addEventListener("click", function () {
    if (selected) selected.classList.remove("shell-selected");
    selected = null;
    shell.removeAttribute("data-selected");
    body.hidden = true;
    empty.hidden = false;
  });
  rows.forEach(function (tr) {
    tr.addEventListener("click", function (ev) {
      // Links, buttons and fields in the row keep doing what they do.
      if (ev.target.closest("a, button, input, select, textarea, summary, label, form")) return;
      select(tr, false);
    });
  });

  // ---- A record on its own page: a focused view with a clear Close back to its list.
  var h1 = work.querySelector("h1");
  if (parts.length > 2 && parts[0] === "ui" && h1) {
    shell.classList.add("focused");
    var bar = el("div", { "class": "shell-focus-bar", role: "navigation", "aria-label": "This record" });
    bar.appendChild(el("span", { "class": "muted" }, (current ? text(current) : "Record") + " · " + text(h1)));
    var close = el("a", { href: listPath, "class": "button small quiet", id: "shell-close" }, "Close");
    bar.appendChild(close);
    work.insertBefore(bar, work.firstChild);
    var head = work.querySelector(".page-head");
    var badge = head && head.querySelector(".badge");
    // Why: the page's own explanation — the first plain paragraph of its first card.
    var why = (head && head.querySelector(".why")) || work.querySelector("section.card > p:not(.muted):not(.empty)") || (head && head.querySelector("p.muted"));
    var status = text(badge);
    var facts = Array.prototype.map.call(work.querySelectorAll("dl.facts dt"), function (dt) { return [text(dt), text(dt.nextElementSibling)]; });
    show({
      title: text(h1), status: status || "Open", bad: BAD.test(status), warn: WARN.test(status),
      why: text(why).slice(0, 400) || "The record you opened.", next: nextFor(status), link: null,
      kind: current ? text(current) : "Record", facts: facts.slice(0, 20)
    });
    document.getElementById("shell-i-close").hidden = true;
  }

  // ---- A hover card on resource rows.
  var hover = document.getElementById("shell-hover");
  rows.forEach(function (tr) {
    tr.addEventListener("mouseenter", function () {
      var d = describe(tr);
      clear(hover);
      hover.appendChild(el("strong", null, d.title));
      hover.appendChild(el("span", null, d.status + " · " + d.why));
      var r = tr.getBoundingClientRect();
      hover.style.left = Math.max(8, Math.min(window.innerWidth - 330, r.left + 24)) + "px";
      hover.style.top = Math.min(window.innerHeight - 60, r.bottom + 4) + "px";
      hover.hidden = false;
      shell.setAttribute("data-hover", tr.getAttribute("data-shell-row") || "");
    });
    tr.addEventListener("mouseleave", function () { hover.hidden = true; shell.removeAttribute("data-hover"); });
  });

  // ---- Activity: recorded events of the page's kind (the whole log on the audit page).
  var family = current ? current.getAttribute("data-family") : "";
  var url = "/api/v1/audit?limit=12" + (family ? "&action=" + encodeURIComponent(family) : "");
  var list = document.getElementById("shell-activity-list");
  fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (r) {
      if (r.status === 403) throw new Error("forbidden");
      if (!r.ok) throw new Error(String(r.status));
      return r.json();
    })
    .then(function (page) {
      clear(list);
      var records = page.records || [];
      records.forEach(function (rec) {
        var li = el("li", { "class": rec.outcome });
        li.appendChild(el("span", { "class": "when" }, new Date(rec.at).toLocaleString()));
        li.appendChild(el("span", null, rec.actor_name + " · " + rec.action + (rec.outcome !== "succeeded" ? " (" + rec.outcome + ")" : "") + (rec.reason ? " — " + rec.reason : "")));
        list.appendChild(li);
      });
      if (!records.length) list.appendChild(el("li", { "class": "muted" }, "No recorded events of this kind yet."));
      shell.setAttribute("data-activity", String(records.length));
    })
    .catch(function (e) {
      clear(list);
      list.appendChild(el("li", { "class": "muted" }, e.message === "forbidden"
        ? "Recorded events are shown to administrators; ask yours if you need the history."
        : "Recorded events could not be read just now; reload the page to try again."));
      shell.setAttribute("data-activity", "unavailable");
    });
})();
