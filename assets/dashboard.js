"use strict";
const EVENTS = ["ticketAssigned", "complaintUpdated", "ticketEscalated", "slaBreached",
                "agentAvailabilityChanged", "ticketChanged"];
let session = JSON.parse(sessionStorage.getItem("quickfix") || "null");
let socket = null;
const $ = (id) => document.getElementById(id);
const text = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));

async function api(method, path, body) {
  const headers = {"Authorization": "Bearer " + (session && session.token)};
  if (body) headers["Content-Type"] = "application/json";
  const res = await fetch(path, {method, headers, body: body ? JSON.stringify(body) : undefined});
  const data = res.status === 204 ? null : await res.json();
  if (!res.ok) throw new Error((data && data.error && data.error.message) || res.statusText);
  return data;
}

function feed(kind, message) {
  const li = document.createElement("li");
  li.dataset.kind = kind;
  li.innerHTML = `<time>${new Date().toLocaleTimeString()}</time><b>${text(kind)}</b> ${text(message)}`;
  $("feed").prepend(li);
}

async function refresh() {
  if (!session) return;
  const role = session.user.role;
  if (role === "admin") {
    const columns = {Open: "Backlog", Assigned: "Assigned", InProgress: "In progress", Resolved: "Resolved"};
    const html = await Promise.all(Object.entries(columns).map(async ([status, label]) => {
      const page = await api("GET", `/api/complaints?status=${status}&limit=50`);
      const cards = page.items.map((t) => `<div class="card ${t.priority}" data-ticket="${text(t.complaintId)}">
        <b>${text(t.complaintId)} ${text(t.title)}</b>${text(t.category)} · ${text(t.priority)}</div>`).join("");
      return `<div class="column" data-status="${status}"><h3>${label} (${page.items.length})</h3>${cards}</div>`;
    }));
    $("board").innerHTML = html.join("");
    const agents = await api("GET", "/api/agents");
    $("agents").innerHTML = agents.map((a) => `<tr data-agent="${text(a.email)}"><td>${text(a.name)}</td>
      <td>${text(a.agent.tier)}</td><td>${text(a.agent.skills.join(", "))}</td>
      <td class="availability">${text(a.agent.availability)}</td><td>${text(a.agent.freeSlots)}</td></tr>`).join("");
  } else {
    const page = await api("GET", "/api/complaints?limit=50");
    $("mine").innerHTML = page.items.map((t) => {
      const act = role === "agent" && t.status === "Assigned" ? `<button data-start="${t.id}">Start</button>` : "";
      const done = role === "agent" && (t.status === "Assigned" || t.status === "InProgress")
        ? `<button data-resolve="${t.id}">Resolve</button>` : "";
      return `<tr data-ticket="${text(t.complaintId)}"><td>${text(t.complaintId)}</td><td>${text(t.title)}</td>
        <td>${text(t.priority)}</td><td class="status-cell">${text(t.status)}</td><td>${act} ${done}</td></tr>`;
    }).join("");
    if (role === "agent") {
      const me = (await api("GET", "/api/agents")).find((a) => a.id === session.user.id);
      $("presence").textContent = me ? me.agent.availability : "?";
    }
  }
}

function connect() {
  socket = io({auth: {token: session.token}});
  socket.on("connect", () => { $("link").textContent = "live"; refresh(); });
  socket.on("disconnect", () => { $("link").textContent = "reconnecting…"; });
  socket.on("connect_error", (err) => { $("link").textContent = "offline: " + err.message; });
  socket.on("sessionEnded", () => signOut());
  for (const kind of EVENTS) {
    socket.on(kind, (payload) => {
      feed(kind, kind === "ticketChanged"
        ? `${payload.complaintId} "${payload.title}" is ${payload.status}` : payload.message);
      refresh().catch((e) => feed("error", e.message));
    });
  }
}

function show() {
  const signedIn = !!session;
  const role = signedIn ? session.user.role : null;
  $("signin").hidden = signedIn;
  $("signout").hidden = !signedIn;
  $("who").textContent = signedIn ? `${session.user.name} (${role})` : "";
  $("board-section").hidden = role !== "admin";
  $("agents-section").hidden = role !== "admin";
  $("mine-section").hidden = !(role === "agent" || role === "customer");
  $("presence-box").hidden = role !== "agent";
  $("open-section").hidden = role !== "customer";
  $("feed-section").hidden = !signedIn;
  if (signedIn) { connect(); refresh().catch((e) => feed("error", e.message)); }
}

$("signin-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  try {
    const res = await fetch("/api/auth/login", {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({email: form.get("email"), password: form.get("password")})});
    const data = await res.json();
    if (!res.ok) throw new Error(data.error.message);
    session = {token: data.token, user: data.user};
    sessionStorage.setItem("quickfix", JSON.stringify(session));
    show();
  } catch (err) { $("signin-error").textContent = err.message; }
});

function signOut() {
  sessionStorage.removeItem("quickfix");
  if (socket) socket.disconnect();
  location.reload();
}

$("signout").addEventListener("click", signOut);

// The form offers what the server accepts: its categories, and the priorities a customer may
// choose (higher ones come from the rules or staff).
async function loadFormOptions() {
  const res = await fetch("/api/config");
  if (!res.ok) return;
  const config = await res.json();
  fill("category", config.categories, null);
  fill("priority", config.customerPriorities, "Medium");
}

function fill(name, values, selected) {
  const select = document.querySelector(`#open-form select[name=${name}]`);
  select.replaceChildren(...values.map((v) => new Option(v, v, v === selected, v === selected)));
}

$("open-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  try {
    await api("POST", "/api/complaints", Object.fromEntries(form));
    e.target.reset();
    $("open-error").textContent = "";
    await refresh();
  } catch (err) { $("open-error").textContent = err.message; }
});

$("mine").addEventListener("click", async (e) => {
  const id = e.target.dataset.resolve || e.target.dataset.start;
  if (!id) return;
  const status = e.target.dataset.resolve ? "Resolved" : "InProgress";
  await api("PATCH", `/api/complaints/${id}/status`, {status}).catch((err) => feed("error", err.message));
  await refresh();
});

for (const [button, presence] of [["go-online", "online"], ["go-offline", "offline"]]) {
  $(button).addEventListener("click", async () => {
    await api("PATCH", `/api/agents/${session.user.id}/presence`, {presence}).catch((err) => feed("error", err.message));
    await refresh();
  });
}

show();
loadFormOptions().catch(() => {});
