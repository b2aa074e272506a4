// The txc web console: reads the /v1 admin API of the coordinator that
// serves this page and draws it. No framework, no external resource.
"use strict";

const PAGE = 50;
const STATUSES = ["Begin", "Committing", "CommitRetrying", "Rollbacking", "RollbackRetrying",
  "TimeoutRollbacking", "TimeoutRollbackRetrying", "AsyncCommitting", "CommitFailed",
  "RollbackFailed", "TimeoutRollbackFailed"];
const MANUAL = new Set(["CommitFailed", "RollbackFailed", "TimeoutRollbackFailed"]);

const state = { offset: 0, total: 0, selected: null, samples: [], last: null, tab: "transactions" };

const $ = (sel) => document.querySelector(sel);

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const c of cells) {
    tr.appendChild(c instanceof Node ? wrapTd(c) : el("td", c));
  }
  return tr;
}

function wrapTd(node) {
  const td = document.createElement("td");
  td.appendChild(node);
  return td;
}

function fill(tbody, rows) {
  tbody.replaceChildren(...rows);
}

function when(t) {
  if (!t || t.startsWith("0001-")) return "";
  const d = new Date(t);
  return d.toLocaleString();
}

// The console's session: a bearer token the operator types once, kept in
// this tab's sessionStorage (gone when the tab closes) and sent as a
// header, never as a cookie, so that other sites' pages cannot use it.
function authHeaders(opts) {
  const h = Object.assign({}, (opts && opts.headers) || {});
  const tok = sessionStorage.getItem("txc-token");
  if (tok) h["Authorization"] = "Bearer " + tok;
  return h;
}

async function api(path, opts, retried) {
  const o = Object.assign({ cache: "no-store" }, opts || {});
  o.headers = authHeaders(opts);
  const res = await fetch(path, o);
  if ((res.status === 401 || res.status === 403) && !retried) {
    const tok = window.prompt(res.status === 401 ? "This coordinator needs a credential: admin token" : "This token may not do that: another admin token");
    if (tok) {
      sessionStorage.setItem("txc-token", tok.trim());
      return api(path, opts, true);
    }
  }
  let body = null;
  try { body = await res.json(); } catch (e) { body = null; }
  if (!res.ok) {
    const msg = body && body.error ? body.error : res.status + " " + res.statusText;
    throw new Error(msg);
  }
  return { body, total: Number(res.headers.get("X-Total-Count") || 0) };
}

// --- stats and charts -------------------------------------------------

async function refreshStats() {
  const { body: st } = await api("/v1/stats");
  $("#node").textContent = "node " + st.node;
  $("#stat-active").textContent = st.active;
  $("#stat-manual").textContent = st.needs_manual_action;
  $("#stat-locks").textContent = st.locked_rows;
  $("#stat-rms").textContent = st.rm_streams;
  $("#stat-inflight").textContent = st.commands_in_flight;
  const now = Date.now();
  if (state.last) {
    const dt = (now - state.last.at) / 1000;
    if (dt > 0) {
      const rate = (k) => Math.max(0, (st.totals[k] - state.last.totals[k]) / dt);
      state.samples.push({ committed: rate("committed"), rollbacked: rate("rollbacked"),
        timedout: rate("timed_out"), begun: rate("begun") });
      if (state.samples.length > 90) state.samples.shift();
    }
  }
  state.last = { at: now, totals: st.totals };
  drawRates();
  drawStatuses(st.by_status || {});
}

const COLORS = { committed: "#27ae60", rollbacked: "#e67e22", timedout: "#c0392b", begun: "#2980b9" };

function drawRates() {
  const c = $("#chart-rate"), g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  const pad = 30, w = c.width - pad - 5, h = c.height - 20;
  let top = 1;
  for (const s of state.samples) for (const k in COLORS) top = Math.max(top, s[k]);
  g.fillStyle = "#555"; g.font = "11px sans-serif";
  g.fillText(top.toFixed(top < 10 ? 1 : 0), 2, 12);
  g.fillText("0", 2, h + 4);
  g.strokeStyle = "#ddd"; g.beginPath(); g.moveTo(pad, h + 0.5); g.lineTo(pad + w, h + 0.5); g.stroke();
  const n = 90;
  for (const k in COLORS) {
    g.strokeStyle = COLORS[k]; g.lineWidth = 2; g.beginPath();
    state.samples.forEach((s, i) => {
      const x = pad + w * (i + n - state.samples.length) / (n - 1);
      const y = h - (h - 10) * s[k] / top;
      if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
    });
    g.stroke();
  }
}

function drawStatuses(by) {
  const c = $("#chart-status"), g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  const names = Object.keys(by).sort();
  g.font = "11px sans-serif";
  if (names.length === 0) { g.fillStyle = "#555"; g.fillText("no live transactions", 10, 20); return; }
  const top = Math.max(...names.map((n) => by[n]));
  const barH = Math.min(22, (c.height - 5) / names.length - 4);
  names.forEach((n, i) => {
    const y = 5 + i * (barH + 4);
    const w = (c.width - 200) * by[n] / top;
    g.fillStyle = MANUAL.has(n) ? "#c0392b" : "#2980b9";
    g.fillRect(160, y, Math.max(w, 1), barH);
    g.fillStyle = "#1d2330";
    g.fillText(n, 4, y + barH - 5);
    g.fillText(String(by[n]), 166 + w, y + barH - 5);
  });
}

// --- transactions ------------------------------------------------------

function txQuery() {
  const q = new URLSearchParams();
  if ($("#f-status").value) q.set("status", $("#f-status").value);
  if ($("#f-name").value) q.set("name", $("#f-name").value);
  if ($("#f-resource").value) q.set("resource", $("#f-resource").value);
  if ($("#f-age").value) q.set("min_age", $("#f-age").value);
  if ($("#f-manual").checked) q.set("manual", "1");
  q.set("limit", PAGE);
  q.set("offset", state.offset);
  return q;
}

async function refreshTransactions() {
  let res;
  try {
    res = await api("/v1/transactions?" + txQuery());
    $("#tx-error").textContent = "";
  } catch (e) {
    $("#tx-error").textContent = e.message;
    return;
  }
  state.total = res.total;
  const rows = res.body.map(txRow);
  const keep = new Set(res.body.map((t) => t.xid));
  for (const xid of rowsByXid.keys()) if (!keep.has(xid)) rowsByXid.delete(xid);
  const tbody = $("#tx-list tbody");
  if (rows.length !== tbody.children.length || rows.some((r, i) => tbody.children[i] !== r)) {
    tbody.replaceChildren(...rows);
  }
  const last = Math.min(state.offset + PAGE, state.total);
  $("#page-info").textContent = state.total === 0 ? "no transactions" :
    (state.offset + 1) + "–" + last + " of " + state.total;
  $("#prev").disabled = state.offset === 0;
  $("#next").disabled = last >= state.total;
}

// rowsByXid keeps one <tr> per listed transaction, updated in place, so
// that a refresh does not replace the row an operator is about to click.
const rowsByXid = new Map();

function txRow(t) {
  let tr = rowsByXid.get(t.xid);
  if (!tr) {
    tr = document.createElement("tr");
    tr.dataset.xid = t.xid;
    tr.addEventListener("click", () => openTx(t.xid));
    rowsByXid.set(t.xid, tr);
  }
  const errs = (t.branches || []).map((b) => b.last_error).filter(Boolean);
  const cells = [t.xid, t.name, t.status, when(t.begun), (t.branches || []).length, errs[0] || ""];
  const key = JSON.stringify(cells);
  if (tr.dataset.key !== key) {
    tr.dataset.key = key;
    const r = row([el("code", cells[0]), cells[1], cells[2], cells[3], cells[4], el("span", cells[5], "last-error")]);
    tr.replaceChildren(...r.children);
  }
  tr.classList.toggle("manual", t.needs_manual_action);
  tr.classList.toggle("selected", t.xid === state.selected);
  return tr;
}

async function openTx(xid) {
  state.selected = xid;
  state.detailKey = null;
  $("#action-msg").textContent = "";
  $("#action-msg").className = "";
  for (const tr of document.querySelectorAll("#tx-list tbody tr")) {
    tr.classList.toggle("selected", tr.dataset.xid === xid);
  }
  await refreshDetail();
}

async function refreshDetail() {
  const xid = state.selected;
  if (!xid) return;
  let t;
  try {
    t = (await api("/v1/transactions/" + encodeURIComponent(xid))).body;
  } catch (e) {
    $("#detail-xid").textContent = xid;
    $("#detail-status").textContent = e.message;
    return;
  }
  if (state.selected !== xid) return;
  $("#tx-detail").hidden = false;
  const key = JSON.stringify(t);
  if (state.detailKey === key) return;
  state.detailKey = key;
  $("#detail-xid").textContent = t.xid;
  $("#detail-status").textContent = t.status;
  $("#detail-status").className = "status" + (t.needs_manual_action ? " manual" : "");
  const dl = $("#detail-fields");
  dl.replaceChildren();
  for (const [k, v] of [["name", t.name], ["begun", when(t.begun)], ["deadline", when(t.deadline)],
    ["updated", when(t.updated)], ["finished", t.finished ? "yes" : "no"]]) {
    dl.appendChild(el("dt", k));
    dl.appendChild(el("dd", v));
  }
  fill($("#detail-branches tbody"), (t.branches || []).map((b) => {
    const keys = (b.lock_keys || []).map((k) => k.Table + ": " + (k.Rows || []).join(", ")).join("; ");
    const rows = el("span", b.locked_rows);
    if (keys) rows.title = keys;
    return row([b.id, b.type, b.resource_id, b.status, b.attempts, rows, el("span", b.last_error || "", "last-error")]);
  }));
  fill($("#detail-history tbody"), (t.history || []).map((h) =>
    row([when(h.at), h.status, h.action, h.who || "", h.note || ""])));
  $("#actions").hidden = !t.needs_manual_action;
}

async function act(kind) {
  const xid = state.selected;
  const body = { operator: $("#resolve-operator").value.trim(), comment: $("#resolve-comment").value.trim() };
  const msg = $("#action-msg");
  if (kind === "resolve" && !body.comment) {
    msg.textContent = "Resolving by hand needs a comment saying what you did.";
    msg.className = "fail";
    return;
  }
  try {
    const res = await api("/v1/transactions/" + encodeURIComponent(xid) + "/" + kind,
      { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    msg.textContent = xid + ": " + res.body.result + " (now " + res.body.transaction.status + ")";
    msg.className = "ok";
    $("#resolve-comment").value = "";
  } catch (e) {
    msg.textContent = kind + " failed: " + e.message;
    msg.className = "fail";
  }
  await refreshAll();
}

// --- locks and RMs -----------------------------------------------------

async function refreshLocks() {
  const q = new URLSearchParams();
  if ($("#l-resource").value) q.set("resource", $("#l-resource").value);
  if ($("#l-table").value) q.set("table", $("#l-table").value);
  if ($("#l-holder").value) q.set("holder", $("#l-holder").value);
  q.set("limit", 500);
  const res = await api("/v1/locks?" + q);
  fill($("#lock-list tbody"), res.body.map((l) => {
    const holder = el("a", l.holder);
    holder.href = "#";
    holder.addEventListener("click", (e) => { e.preventDefault(); showTab("transactions"); openTx(l.holder); });
    return row([l.resource_id, l.table, el("code", l.row), holder, (l.branches || []).join(", ")]);
  }));
  $("#lock-info").textContent = res.total + " locked rows" + (res.total > res.body.length ? " (first " + res.body.length + " shown)" : "");
}

async function refreshRMs() {
  const { body } = await api("/v1/rms");
  fill($("#rm-streams tbody"), body.streams.map((s) => row([s.conn, s.name, s.resources.join(", ")])));
  fill($("#rm-resources tbody"), body.resources.map((r) => row([r.resource_id, r.conns.length, r.transactions_waiting])));
}

// --- wiring ------------------------------------------------------------

function showTab(name) {
  state.tab = name;
  for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", b.dataset.tab === name);
  for (const s of document.querySelectorAll(".tab")) s.hidden = s.id !== "tab-" + name;
  refreshAll();
}

async function refreshAll() {
  try {
    await refreshStats();
    if (state.tab === "transactions") {
      await refreshTransactions();
      await refreshDetail();
    } else if (state.tab === "locks") {
      await refreshLocks();
    } else {
      await refreshRMs();
    }
    $("#conn-state").textContent = "";
  } catch (e) {
    $("#conn-state").textContent = "coordinator unreachable: " + e.message;
  }
}

function init() {
  for (const s of STATUSES) $("#f-status").appendChild(el("option", s));
  $("#tx-filters").addEventListener("submit", (e) => { e.preventDefault(); state.offset = 0; refreshAll(); });
  $("#lock-filters").addEventListener("submit", (e) => { e.preventDefault(); refreshAll(); });
  $("#prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE); refreshAll(); });
  $("#next").addEventListener("click", () => { state.offset += PAGE; refreshAll(); });
  $("#retry-btn").addEventListener("click", () => act("retry"));
  $("#resolve-btn").addEventListener("click", () => act("resolve"));
  for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => showTab(b.dataset.tab));
  const xid = new URLSearchParams(location.search).get("xid");
  if (xid) state.selected = xid;
  refreshAll();
  setInterval(() => { if ($("#auto-refresh").checked) refreshAll(); }, 2000);
}

init();
