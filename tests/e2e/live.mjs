// End to end with the official Socket.IO client: against a running QuickFix (API + worker),
// a customer opens a ticket; the agent it goes to receives `ticketAssigned` and the customer
// receives `complaintUpdated`, both carrying the ticket. A bad token is refused with a message.
// Usage: node live.mjs http://127.0.0.1:5001   (prints one JSON line, exits 0 on success)
import { io } from "socket.io-client";

const base = process.argv[2];
const password = process.env.QUICKFIX_DEMO_PASSWORD || "quickfix";
const deadline = (ms, what) =>
  new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms));

async function call(method, path, token, body) {
  const res = await fetch(base + path, {
    method,
    headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(data)}`);
  return data;
}

const login = (email) => call("POST", "/api/auth/login", null, { email, password });

function connect(token) {
  const socket = io(base, { auth: { token }, reconnection: false });
  const ready = new Promise((resolve, reject) => {
    socket.on("connect", resolve);
    socket.on("connect_error", reject);
  });
  return { socket, ready };
}

// Everything `event` brings to `socket`, from now on (events can arrive before the request that
// caused them has returned).
function record(socket, event) {
  const heard = [];
  socket.on(event, (payload) => heard.push(payload));
  return heard;
}

// The first recorded payload `accept`s, once it is there.
function find(heard, accept) {
  return new Promise((resolve) => {
    const look = () => {
      const hit = heard.find(accept);
      if (hit) resolve(hit); else setTimeout(look, 20);
    };
    look();
  });
}

async function main() {
  const refused = connect("not-a-token");
  const refusal = await refused.ready.then(() => null, (err) => err.message);
  refused.socket.close();
  if (!refusal || !refusal.includes("invalid")) throw new Error(`bad token not refused: ${refusal}`);

  const customer = await login("customer1@quickfix.dev");
  const agents = await Promise.all([1, 2, 3].map((n) => login(`agent${n}@quickfix.dev`)));
  const customerLink = connect(customer.token);
  const agentLinks = agents.map((a) => connect(a.token));
  const updates = record(customerLink.socket, "complaintUpdated");
  const assignments = agentLinks.map((l) => record(l.socket, "ticketAssigned"));
  await Promise.all([customerLink.ready, ...agentLinks.map((l) => l.ready)]);

  const opened = await call("POST", "/api/complaints", customer.token, {
    title: "Internet issue", description: "Testing event-driven assignment", category: "Technical",
  });
  const about = (payload) => payload && payload.data && payload.data.id === opened.id;
  const assigned = Promise.race(assignments.map((heard, i) =>
    find(heard, about).then((payload) => ({ agent: agents[i].user.id, payload }))));
  const updated = find(updates, about);
  const [toAgent, toCustomer] = await Promise.race([
    Promise.all([assigned, updated]), deadline(30000, "ticketAssigned and complaintUpdated"),
  ]);
  const ticket = await call("GET", `/api/complaints/${opened.id}`, customer.token);
  if (ticket.assignedTo !== toAgent.agent) {
    throw new Error(`ticketAssigned reached ${toAgent.agent}, the ticket is held by ${ticket.assignedTo}`);
  }
  for (const l of [customerLink, ...agentLinks]) l.socket.close();
  console.log(JSON.stringify({
    ok: true, refusal, complaintId: ticket.complaintId,
    ticketAssigned: toAgent.payload.data.complaintId, complaintUpdated: toCustomer.message,
  }));
}

main().then(() => process.exit(0), (err) => { console.error(err.stack || String(err)); process.exit(1); });
