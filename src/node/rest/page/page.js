// The node's live page: WARP links to the node's `/hub` agent, and the REST calls the
// node already has (accept, reject an offer). No script or font from elsewhere.
"use strict";

// ---- Recon, as the hub writes it: attributes, records, slots, text, numbers, words.
function parseRecon(text) {
  let i = 0;
  const ws = () => { while (i < text.length && /\s/.test(text[i])) i++; };
  const ident = () => {
    const m = /^[A-Za-z_$][A-Za-z0-9_$\-.]*/.exec(text.slice(i));
    if (!m) throw new Error("recon: a name at " + i);
    i += m[0].length;
    return m[0];
  };
  const str = () => {
    const q = text[i++];
    let out = "";
    while (i < text.length && text[i] !== q) {
      if (text[i] === "\\") {
        const c = text[++i];
        if (c === "u") { out += String.fromCharCode(parseInt(text.slice(i + 1, i + 5), 16)); i += 5; continue; }
        out += { n: "\n", r: "\r", t: "\t", b: "\b", f: "\f" }[c] ?? c;
        i++;
        continue;
      }
      out += text[i++];
    }
    i++;
    return out;
  };
  // A record: { attrs: [[name, value]], items: [[key or null, value]] }.
  const rec = () => ({ attrs: [], items: [] });
  const block = (r, close) => {
    for (;;) {
      ws();
      if (i >= text.length || text[i] === close) { i++; return r; }
      if (text[i] === "," || text[i] === ";") { i++; continue; }
      const v = value();
      ws();
      if (text[i] === ":") { i++; ws(); r.items.push([v, value()]); }
      else r.items.push([null, v]);
    }
  };
  const simple = () => {
    ws();
    const c = text[i];
    if (c === '"' || c === "'") return str();
    if (c === "{") { i++; return block(rec(), "}"); }
    if (c === "-" || (c >= "0" && c <= "9")) {
      const m = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
      i += m[0].length;
      return Number(m[0]);
    }
    const w = ident();
    return w === "true" ? true : w === "false" ? false : w;
  };
  const value = () => {
    ws();
    if (text[i] !== "@") return simple();
    const r = rec();
    while (text[i] === "@") {
      i++;
      const name = ident();
      let arg = null;
      if (text[i] === "(") {
        i++;
        const a = block(rec(), ")");
        arg = a.items.length === 1 && a.items[0][0] === null ? a.items[0][1] : a;
      }
      r.attrs.push([name, arg]);
      ws();
    }
    if (i < text.length && text[i] === "{") { i++; block(r, "}"); }
    else if (i < text.length && !",;)}:".includes(text[i])) r.items.push([null, simple()]);
    return r;
  };
  return value();
}

// A record's slots as an object (values converted too); other values as they are; an
// enum's variant (`@awaiting`, an attribute alone) as its name.
function plain(v) {
  if (!v || typeof v !== "object") return v;
  const slots = v.items.filter(([k]) => k !== null);
  const values = v.items.filter(([k]) => k === null).map(([, x]) => plain(x));
  if (v.items.length === 0 && v.attrs.length === 1) return v.attrs[0][0];
  if (slots.length === 0 && v.attrs.length === 0) return values;
  const o = {};
  for (const [k, x] of slots) o[k] = plain(x);
  if (values.length) o.$values = values;
  return o;
}

// ---- The frame a hub sends: its tag, node, lane and body.
function frame(text) {
  const r = parseRecon(text);
  const [tag, head] = r.attrs[0];
  const body = { attrs: r.attrs.slice(1), items: r.items };
  const h = head && typeof head === "object" ? plain(head) : {};
  return { tag, node: h.node, lane: h.lane, body };
}

// ---- State and rendering.
const el = (id) => document.getElementById(id);
const peers = new Map();   // alias -> peer record
const charts = new Map();  // alias -> [{t, rtt, rate}]
const offers = new Map();  // id -> offer
const progress = new Map(); // id -> {t, done}
const flows = new Map();
const gates = new Map();
const HISTORY = 300;       // seconds kept per chart

function fmtBytes(n) {
  const u = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; }
  return (i ? n.toFixed(1) : n) + " " + u[i];
}
function fmtSecs(s) {
  if (!isFinite(s)) return "—";
  const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, x = Math.floor(s % 60);
  return (h ? h + "h " : "") + (h || m ? m + "m " : "") + x + "s";
}
function td(text, cls) {
  const c = document.createElement("td");
  c.textContent = text;
  if (cls) c.className = cls;
  return c;
}
function table(head, rows) {
  const t = document.createElement("table");
  const hr = document.createElement("tr");
  for (const h of head) { const th = document.createElement("th"); th.textContent = h; hr.append(th); }
  t.append(hr);
  for (const r of rows) t.append(r);
  return t;
}

function showInfo(v) {
  const o = plain(v);
  el("node-id").textContent = o.id ?? "";
  const addrs = Array.isArray(o.addresses) ? o.addresses : (o.addresses?.$values ?? []);
  el("node-addrs").textContent = addrs.join(", ");
  el("node-uptime").textContent = fmtSecs(o.uptime ?? 0);
  el("node-version").textContent = o.version ?? "";
}

function pathList(p) {
  const list = Array.isArray(p.paths) ? p.paths : (p.paths?.$values ?? []);
  return list.map((x) => (typeof x === "object" ? x : {}));
}

function drawChart(canvas, points) {
  const w = (canvas.width = canvas.clientWidth * devicePixelRatio);
  const h = (canvas.height = canvas.clientHeight * devicePixelRatio);
  const g = canvas.getContext("2d");
  g.clearRect(0, 0, w, h);
  const now = Date.now() / 1000;
  const line = (key, color) => {
    const max = Math.max(1e-9, ...points.map((p) => p[key]));
    g.strokeStyle = color;
    g.lineWidth = devicePixelRatio;
    g.beginPath();
    points.forEach((p, k) => {
      const x = w - ((now - p.t) / HISTORY) * w;
      const y = h - 2 - (p[key] / max) * (h - 4);
      k ? g.lineTo(x, y) : g.moveTo(x, y);
    });
    g.stroke();
  };
  line("rate", "#1a7f37");
  line("rtt", "#0b5cad");
}

function renderPeers() {
  const box = el("peers");
  box.replaceChildren();
  const select = el("ping-peer");
  const chosen = select.value;
  select.replaceChildren();
  if (peers.size === 0) {
    box.innerHTML = '<p class="empty">No peers in the book.</p>';
  }
  for (const [alias, p] of [...peers].sort()) {
    const div = document.createElement("div");
    div.className = "peer";
    div.dataset.alias = alias;
    const paths = pathList(p);
    const rtt = p.rtt_us ? (p.rtt_us / 1000).toFixed(2) + " ms" : "—";
    const rate = paths.reduce((s, x) => s + (x.tx_rate || 0), 0);
    div.innerHTML = `<div><span class="name"></span> <span class="state"></span> <span class="rtt"></span></div><div class="paths"></div><canvas class="chart" title="round trip (blue) and send rate (green), last 5 minutes"></canvas>`;
    div.querySelector(".name").textContent = alias;
    const st = div.querySelector(".state");
    st.textContent = p.connected ? "connected" : "not connected";
    st.className = "state " + (p.connected ? "up" : "down");
    div.querySelector(".rtt").textContent = p.connected ? `rtt ${rtt}, sending ${fmtBytes(rate)}/s` : "";
    div.querySelector(".paths").textContent = paths
      .map((x) => `${x.kind} ${x.remote} ${x.state} ${Number(x.rtt_ms ?? 0).toFixed(2)} ms ${fmtBytes(x.tx_rate || 0)}/s`)
      .join(" · ");
    box.append(div);
    drawChart(div.querySelector("canvas"), charts.get(alias) ?? []);
    const opt = document.createElement("option");
    opt.value = opt.textContent = alias;
    select.append(opt);
  }
  if (chosen) select.value = chosen;
}

function notePeer(alias, p) {
  const list = charts.get(alias) ?? [];
  const rate = pathList(p).reduce((s, x) => s + (x.tx_rate || 0), 0);
  list.push({ t: Date.now() / 1000, rtt: (p.rtt_us || 0) / 1000, rate });
  while (list.length && list[0].t < Date.now() / 1000 - HISTORY) list.shift();
  charts.set(alias, list);
}

async function offerAction(id, action) {
  const r = await fetch(`/v1/offers/${encodeURIComponent(id)}/${action}`, {
    method: "POST",
    headers: { Authorization: "Bearer " + session, "Content-Type": "application/json" },
    body: "{}",
  });
  if (!r.ok) alert(`${action}: ` + ((await r.json().catch(() => ({}))).error ?? r.status));
}

function renderOffers() {
  const rows = [];
  for (const [id, o] of [...offers].sort((a, b) => (b[1].created_at ?? 0) - (a[1].created_at ?? 0))) {
    const tr = document.createElement("tr");
    tr.dataset.offer = id;
    tr.dataset.status = o.status;
    const who = [...peers].find(([, p]) => p.id === o.peer)?.[0] ?? o.peer;
    tr.append(td(o.incoming ? "from " + who : "to " + who));
    const names = Array.isArray(o.tops) ? o.tops.join(", ") : "";
    tr.append(td(names || id));
    tr.append(td(o.status));
    const cell = document.createElement("td");
    const bar = document.createElement("progress");
    bar.max = Math.max(1, o.bytes || 0);
    bar.value = o.bytes_done || 0;
    const pr = progress.get(id);
    const rate = pr && pr.rate ? pr.rate : 0;
    const left = rate ? ((o.bytes || 0) - (o.bytes_done || 0)) / rate : Infinity;
    const info = document.createElement("div");
    info.className = "paths";
    info.textContent = `${fmtBytes(o.bytes_done || 0)} of ${fmtBytes(o.bytes || 0)}` +
      (o.status === "in_progress" ? `, ${fmtBytes(rate)}/s, ${fmtSecs(left)} left` : "");
    cell.append(bar, info);
    tr.append(cell);
    const act = document.createElement("td");
    if (o.incoming && o.status === "awaiting") {
      for (const [a, label] of [["accept", "accept"], ["reject", "reject"]]) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = a;
        b.textContent = label;
        b.onclick = () => offerAction(id, a);
        act.append(b);
      }
    }
    tr.append(act);
    rows.push(tr);
  }
  el("offers").replaceChildren(rows.length ? table(["peer", "what", "status", "progress", ""], rows) : Object.assign(document.createElement("p"), { className: "empty", textContent: "No offers." }));
}

function noteOffer(o) {
  const now = Date.now() / 1000;
  const was = progress.get(o.id);
  if (was && o.bytes_done > was.done && now > was.t) {
    const r = (o.bytes_done - was.done) / (now - was.t);
    progress.set(o.id, { t: now, done: o.bytes_done, rate: was.rate ? was.rate * 0.7 + r * 0.3 : r });
  } else if (!was) {
    progress.set(o.id, { t: now, done: o.bytes_done || 0, rate: 0 });
  }
}

function renderFlows() {
  const rows = [];
  for (const [name, f] of [...flows].sort()) {
    const members = Array.isArray(f.members) ? f.members : (f.members?.$values ?? []);
    const tr = document.createElement("tr");
    tr.append(td(name));
    tr.append(td(`${f.flow?.mode ?? ""} udp ${f.flow?.port ?? ""}`));
    tr.append(td(`from apps ${f.from_apps} · delivered ${f.delivered} · undeliverable ${f.undeliverable}`));
    tr.append(td(members.map((m) => `${m.name ?? m.peer}: out ${m.sent} dropped ${m.dropped} in ${m.received}`).join("; ")));
    tr.append(td(f.congested ? "CONGESTED" : "ok", f.congested ? "congested" : ""));
    rows.push(tr);
  }
  el("flows").replaceChildren(rows.length ? table(["flow", "", "here", "members", ""], rows) : Object.assign(document.createElement("p"), { className: "empty", textContent: "No flows." }));
}

function renderGates() {
  const rows = [];
  for (const [name, g] of [...gates].sort()) {
    const tr = document.createElement("tr");
    tr.append(td(name));
    tr.append(td(g.kind));
    tr.append(td(g.detail));
    rows.push(tr);
  }
  el("gates").replaceChildren(rows.length ? table(["gate", "", ""], rows) : Object.assign(document.createElement("p"), { className: "empty", textContent: "No gates." }));
}

// ---- Login, then the link to `/hub`.
let session = sessionStorage.getItem("warp-session");
let wsUrl = sessionStorage.getItem("warp-ws");
let socket = null;

async function login() {
  const m = /login=([0-9a-f]+)/.exec(location.hash);
  if (m) {
    history.replaceState(null, "", location.pathname);
    const r = await fetch("/session", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ login: m[1] }),
    });
    if (r.ok) {
      const s = await r.json();
      session = s.session;
      wsUrl = s.ws;
      sessionStorage.setItem("warp-session", session);
      sessionStorage.setItem("warp-ws", wsUrl);
    }
  }
  if (!session || !wsUrl) {
    el("login-needed").hidden = false;
    el("link-state").textContent = "not logged in";
    return false;
  }
  return true;
}

function send(text) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(text);
}

function connect() {
  socket = new WebSocket(wsUrl);
  socket.onopen = () => {
    el("link-state").textContent = "live";
    el("link-state").className = "state up";
    send("@auth " + JSON.stringify(session));
    for (const lane of ["info", "peers", "offers", "flows", "gates"]) send(`@sync(node:"/hub",lane:${lane})`);
    send('@link(node:"/hub",lane:ping)');
  };
  socket.onclose = () => {
    el("link-state").textContent = "reconnecting…";
    el("link-state").className = "state down";
    setTimeout(connect, 1000);
  };
  socket.onmessage = (m) => {
    let f;
    try { f = frame(m.data); } catch (e) { return; }
    if (f.tag === "deauthed") {
      sessionStorage.removeItem("warp-session");
      el("login-needed").hidden = false;
      el("link-state").textContent = "not logged in";
      socket.onclose = null;
      socket.close();
      return;
    }
    if (f.tag !== "event" || f.node !== "/hub") return;
    const op = f.body.attrs[0];
    const key = op && op[1] && typeof op[1] === "object" ? plain(op[1]).key : null;
    const val = plain({ attrs: [], items: f.body.items });
    switch (f.lane) {
      case "info": showInfo({ attrs: [], items: f.body.items }); break;
      case "peers":
        if (op[0] === "update") { peers.set(String(key), val); notePeer(String(key), val); }
        else if (op[0] === "remove") peers.delete(String(key));
        renderPeers();
        break;
      case "offers":
        if (op[0] === "update") { offers.set(String(key), val); noteOffer(val); }
        else if (op[0] === "remove") offers.delete(String(key));
        renderOffers();
        break;
      case "flows":
        if (op[0] === "update") flows.set(String(key), val); else if (op[0] === "remove") flows.delete(String(key));
        renderFlows();
        break;
      case "gates":
        if (op[0] === "update") gates.set(String(key), val); else if (op[0] === "remove") gates.delete(String(key));
        renderGates();
        break;
      case "ping": {
        const li = document.createElement("li");
        li.textContent = val.error ? `${val.peer}: ${val.error}` : val.lost ? `${val.peer}: probe ${val.seq} lost` : `${val.peer}: ${(val.rtt_us / 1000).toFixed(2)} ms`;
        el("pings").prepend(li);
        break;
      }
    }
  };
}

el("copy-id").onclick = () => navigator.clipboard?.writeText(el("node-id").textContent);
el("ping-form").onsubmit = (e) => {
  e.preventDefault();
  const p = el("ping-peer").value;
  if (p) send(`@command(node:"/hub",lane:ping)${JSON.stringify(p)}`);
};
login().then((ok) => ok && connect());
