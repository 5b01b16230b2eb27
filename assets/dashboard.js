"use strict";
const EVENTS = ["ticketAssigned", "complaintUpdated", "ticketEscalated", "slaBreached",
                "agentAvailabilityChanged", "ticketChanged", "ticketReplied", "noteAdded"];
let session = JSON.parse(sessionStorage.getItem("quickfix") || "null");
let socket = null;
// The ticket shown in the detail pane (its COMP-number), if any.
let selected = null;
// Agents' names by id (admins see the agent list), to name people in the detail pane.
const names = new Map();
const who = (id) => names.get(id) || id;
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
      const cards = page.items.map((t) => `<div class="card ${t.priority}${t.complaintId === selected ? " selected" : ""}" data-ticket="${text(t.complaintId)}">
        <b>${text(t.complaintId)} ${text(t.title)}</b>${text(t.category)} · ${text(t.priority)}</div>`).join("");
      return `<div class="column" data-status="${status}"><h3>${label} (${page.items.length})</h3>${cards}</div>`;
    }));
    $("board").innerHTML = html.join("");
    const agents = await api("GET", "/api/agents");
    agents.forEach((a) => names.set(a.id, a.name));
    $("agents").innerHTML = agents.map((a) => `<tr data-agent="${text(a.email)}"><td>${text(a.name)}</td>
      <td>${text(a.agent.tier)}</td><td>${text(a.agent.skills.join(", "))}</td>
      <td class="availability">${text(a.agent.availability)}</td><td>${text(a.agent.freeSlots)}</td></tr>`).join("");
  } else {
    const page = await api("GET", "/api/complaints?limit=50");
    $("mine").innerHTML = page.items.map((t) => {
      const act = role === "agent" && t.status === "Assigned" ? `<button data-start="${t.id}">Start</button>` : "";
      const done = role === "agent" && (t.status === "Assigned" || t.status === "InProgress")
        ? `<button data-resolve="${t.id}">Resolve</button>` : "";
      return `<tr data-ticket="${text(t.complaintId)}"${t.complaintId === selected ? ' class="selected"' : ""}><td>${text(t.complaintId)}</td><td>${text(t.title)}</td>
        <td>${text(t.priority)}</td><td class="status-cell">${text(t.status)}</td><td>${act} ${done}</td></tr>`;
    }).join("");
    if (role === "agent") {
      const me = (await api("GET", "/api/agents")).find((a) => a.id === session.user.id);
      $("presence").textContent = me ? me.agent.availability : "?";
    }
  }
}

const when = (t) => t ? new Date(t).toLocaleString() : "–";

// The detail pane: the ticket, its SLA clocks, and its event timeline in causal order.
async function showDetail(id) {
  selected = id;
  document.querySelectorAll(".selected").forEach((el) => el.classList.remove("selected"));
  document.querySelectorAll(`[data-ticket="${CSS.escape(id)}"]`).forEach((el) => el.classList.add("selected"));
  const [t, events, thread] = await Promise.all([
    api("GET", `/api/complaints/${encodeURIComponent(id)}`),
    api("GET", `/api/complaints/${encodeURIComponent(id)}/events`),
    api("GET", `/api/complaints/${encodeURIComponent(id)}/messages`),
  ]);
  // The server sends a customer the replies only; notes are marked for the staff.
  $("thread").innerHTML = thread.items.map((m) => `<li class="${text(m.visibility)}" data-message="${text(m.id)}">
    <time>${when(m.at)}</time> <b>${text(m.authorId === session.user.id ? "you" : who(m.authorId))}</b>
    <span class="role">${text(m.authorRole)}${m.visibility === "internal" ? " · internal note" : ""}</span>
    <p>${text(m.body)}</p></li>`).join("") || "<li class=\"empty\">No messages yet.</li>";
  $("note-button").hidden = session.user.role === "customer";
  $("detail-section").hidden = false;
  $("detail-title").textContent = `${t.complaintId} ${t.title}`;
  const fields = {status: t.status, priority: t.priority, category: t.category,
    "assigned to": t.assignedTo ? who(t.assignedTo) : "nobody", opened: when(t.createdAt), "last change": when(t.updatedAt),
    "escalation level": t.sla.escalationLevel, "SLA plan": t.sla.plan || "default",
    "calendar": t.sla.region || "default", description: t.description};
  $("detail").innerHTML = Object.entries(fields)
    .map(([k, v]) => `<dt>${text(k)}</dt><dd>${text(v)}</dd>`).join("");
  $("detail-sla").innerHTML = [["first response", t.sla.firstResponse], ["next reply", t.sla.nextReply],
    ["resolution", t.sla.resolution]]
    .filter(([, c]) => c)
    .map(([name, c]) => `<tr><td>${name}</td><td>${when(c.dueAt)}</td><td>${when(c.warnAt)}</td>
      <td>${when(c.metAt)}</td><td>${when(c.breachedAt)}</td></tr>`).join("");
  const byId = new Map(events.items.map((e) => [e.eventId, e]));
  $("timeline").innerHTML = events.items.map((e) => {
    const cause = byId.get(e.causationId);
    const because = cause ? ` <span class="caused">after ${text(cause.eventType)}</span>` : "";
    return `<li data-event="${text(e.eventType)}"><time>${new Date(e.timestamp).toLocaleTimeString()}</time>
      <b>${text(e.eventType)}</b> by ${text(who(e.actor))}${because}</li>`;
  }).join("");
}

function refreshDetail() {
  if (selected) showDetail(selected).catch((e) => feed("error", e.message));
}

for (const list of ["board", "mine"]) {
  $(list).addEventListener("click", (e) => {
    if (e.target.closest("button")) return;
    const row = e.target.closest("[data-ticket]");
    if (row) showDetail(row.dataset.ticket).catch((err) => feed("error", err.message));
  });
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
      refreshDetail();
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
  refreshDetail();
});

// Reply or note on the ticket in the detail pane: the button pressed says which.
$("message-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const kind = e.submitter && e.submitter.dataset.kind || "replies";
  try {
    await api("POST", `/api/complaints/${encodeURIComponent(selected)}/${kind}`, {body: e.target.body.value});
    e.target.reset();
    $("message-error").textContent = "";
    refreshDetail();
  } catch (err) { $("message-error").textContent = err.message; }
});

for (const [button, presence] of [["go-online", "online"], ["go-offline", "offline"]]) {
  $(button).addEventListener("click", async () => {
    await api("PATCH", `/api/agents/${session.user.id}/presence`, {presence}).catch((err) => feed("error", err.message));
    await refresh();
  });
}

show();
loadFormOptions().catch(() => {});
