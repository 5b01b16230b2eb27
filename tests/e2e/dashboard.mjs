// The dashboard in headless Chromium (Debian's, driven by playwright-core): an admin signs in
// in one page, a customer in another; the customer opens a ticket and it appears on the admin's
// board, and in the admin's live feed once it is assigned, without a reload. The page must run
// under the server's Content-Security-Policy without a single violation, and offer a customer
// only the priorities the server lets customers choose. The admin opens the ticket's detail
// pane and sees its event timeline, causes first. In the conversation the admin leaves an
// internal note and a public reply: the customer's view shows the reply and never the note, and
// the customer's answer reaches the admin's open pane without a reload. Leaves a screenshot.
// Usage: CHROMIUM=/usr/bin/chromium SCREENSHOT=out.png node dashboard.mjs http://127.0.0.1:5001
import { chromium } from "playwright-core";

const base = process.argv[2];
const password = process.env.QUICKFIX_DEMO_PASSWORD || "quickfix";
const screenshot = process.env.SCREENSHOT || "dashboard.png";
const TIMEOUT = 30000;
const violations = [];

async function signIn(browser, email) {
  const page = await (await browser.newContext()).newPage();
  page.on("console", (msg) => {
    if (/Content Security Policy|Refused to/.test(msg.text())) violations.push(msg.text());
  });
  await page.goto(`${base}/dashboard`);
  await page.fill("input[name=email]", email);
  await page.fill("input[name=password]", password);
  await page.click("#signin-form button");
  await page.waitForSelector("#link:has-text('live')", { timeout: TIMEOUT });
  return page;
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox"],
  });
  try {
    const admin = await signIn(browser, "admin@quickfix.dev");
    await admin.waitForSelector("#agents tr", { timeout: TIMEOUT });
    const customer = await signIn(browser, "customer1@quickfix.dev");
    const config = await (await fetch(`${base}/api/config`)).json();
    await customer.waitForFunction(
      (n) => document.querySelectorAll("#open-form select[name=priority] option").length === n,
      config.customerPriorities.length, { timeout: TIMEOUT });
    const offered = await customer.$$eval("#open-form select[name=priority] option", (os) => os.map((o) => o.value));
    if (JSON.stringify(offered) !== JSON.stringify(config.customerPriorities)) {
      throw new Error(`the form offers ${offered}, the server allows ${config.customerPriorities}`);
    }
    const title = `Printer on fire ${Date.now()}`;
    await customer.fill("#open-form input[name=title]", title);
    await customer.fill("#open-form textarea[name=description]", "It smokes");
    await customer.selectOption("#open-form select[name=category]", "Technical");
    await customer.click("#open-form button");
    await customer.waitForSelector(`#mine tr:has-text("${title}")`, { timeout: TIMEOUT });
    const loads = [];
    admin.on("load", () => loads.push(Date.now()));
    // The admin's page was not reloaded: the card arrives over the socket.
    await admin.waitForSelector(`#board .card:has-text("${title}")`, { timeout: TIMEOUT });
    await admin.waitForSelector("#feed li", { timeout: TIMEOUT });
    // The ticket's detail pane: its fields, SLA clocks and event timeline, causes first.
    await admin.click(`#board .card:has-text("${title}")`);
    await admin.waitForSelector(`#detail-title:has-text("${title}")`, { timeout: TIMEOUT });
    await admin.waitForSelector("#detail-sla tr", { timeout: TIMEOUT });
    await admin.waitForSelector('#timeline li[data-event="ticket.assigned"]', { timeout: TIMEOUT });
    const timeline = await admin.$$eval("#timeline li", (lis) => lis.map((li) => li.dataset.event));
    if (timeline[0] !== "ticket.created" || timeline.indexOf("ticket.assigned") < 1) {
      throw new Error(`the timeline is not in causal order: ${timeline}`);
    }
    // The conversation, staff view and customer view.
    const stamp = Date.now();
    const note = `Toner smells burnt ${stamp}`;
    const reply = `We are sending a technician ${stamp}`;
    const answer = `Thank you, it is still smoking ${stamp}`;
    await admin.fill("#message-form textarea[name=body]", note);
    await admin.click("#note-button");
    await admin.waitForSelector(`#thread li.internal:has-text("${note}")`, { timeout: TIMEOUT });
    await admin.fill("#message-form textarea[name=body]", reply);
    await admin.click("#message-form button[data-kind=replies]");
    await admin.waitForSelector(`#thread li.public:has-text("${reply}")`, { timeout: TIMEOUT });
    await customer.click(`#mine tr:has-text("${title}") td`);
    await customer.waitForSelector(`#thread li:has-text("${reply}")`, { timeout: TIMEOUT });
    const customerThread = await customer.$eval("#thread", (ol) => ol.textContent);
    if (customerThread.includes(note)) throw new Error("the customer's thread shows the internal note");
    if (await customer.isVisible("#note-button")) throw new Error("a customer is offered internal notes");
    await customer.fill("#message-form textarea[name=body]", answer);
    await customer.click("#message-form button[data-kind=replies]");
    // The admin's pane is refreshed by the live event, not by a reload.
    await admin.waitForSelector(`#thread li:has-text("${answer}")`, { timeout: TIMEOUT });
    await admin.waitForSelector('#detail-sla tr:has-text("next reply")', { timeout: TIMEOUT });
    const staffThread = await admin.$$eval("#thread li", (lis) => lis.map((li) => li.className));
    const column = await admin.$eval(`#board .card:has-text("${title}")`,
      (card) => card.closest(".column").dataset.status);
    const status = await customer.$eval(`#mine tr:has-text("${title}") .status-cell`, (td) => td.textContent);
    await admin.screenshot({ path: screenshot, fullPage: true });
    if (loads.length > 0) throw new Error("the admin page reloaded");
    if (violations.length > 0) throw new Error(`CSP violations: ${violations.join(" | ")}`);
    console.log(JSON.stringify({ ok: true, title, adminColumn: column, customerStatus: status,
      priorities: offered, timeline, staffThread, screenshot }));
  } finally {
    await browser.close();
  }
}

main().then(() => process.exit(0), (err) => { console.error(err.stack || String(err)); process.exit(1); });
