// Agent console of the handoff service. No framework, no build step, no CDN.
// Customer text is only ever set with textContent: it is shown, never run.
"use strict";

const I18N = {
  ar: {
    title: "لوحة الموظفين — نور للخدمات", offline: "غير متصل", online: "متصل", logout: "خروج",
    signin: "تسجيل الدخول", username: "اسم المستخدم", password: "كلمة المرور",
    queue: "قائمة الانتظار", mine: "محادثاتي", others: "مع الزملاء", on_duty: "الموظفون المتصلون:",
    pick: "اختر تذكرة من القائمة.", reasons: "الأسباب:", evidence: "ما قرّر التحويل:", evidence_message: "رسالة العميل", evidence_asked: "بعد سؤال المساعد", claim: "استلام", return: "إعادة إلى المساعد",
    resolve: "إغلاق وطلب التقييم", transfer: "تحويل", customer_typing: "العميل يكتب…",
    canned: "ردود جاهزة…", note: "ملاحظة داخلية", reply_placeholder: "اكتب ردك للعميل…", send: "إرسال",
    summary: "الملخص", signals: "المؤشرات عبر الوقت", slots: "المعلومات المعروفة", rating: "التقييم",
    customer: "العميل", bot: "المساعد", agent: "الموظف", system: "النظام", note_label: "ملاحظة داخلية",
    handed_over: "حُوّلت المحادثة إلى موظف", waiting: "ينتظر", min: "د", breach: "تجاوز مستوى الخدمة",
    p1: "عاجل", p2: "مرتفع", p3: "عادي",
    queued: "في الانتظار", callback: "بانتظار اتصالنا", with_agent: "مع موظف", bot_state: "عادت إلى المساعد", resolved: "مغلقة",
    claimed_by: "استلمها", transferred_to: "حُوّلت إلى", returned: "أُعيدت إلى المساعد", closed: "أُغلقت",
    rating_line: "تقييم العميل", frustration: "الانزعاج", urgency: "الإلحاح", no_rating: "—",
    bad_login: "اسم المستخدم أو كلمة المرور غير صحيحة.", nobody: "—", choose_agent: "اختر زميلاً",
    reasons_map: { safety_hazard: "خطر على السلامة", essential_outage: "انقطاع خدمة أساسية", angry: "غضب", escalation_threat: "تهديد بالتصعيد",
      rising_frustration: "انزعاج متصاعد", explicit_request: "طلب موظف", repeated_misunderstanding: "سوء فهم متكرر" },
  },
  en: {
    title: "Agent console — Noor Services", offline: "offline", online: "online", logout: "Sign out",
    signin: "Sign in", username: "Username", password: "Password",
    queue: "Queue", mine: "My conversations", others: "With colleagues", on_duty: "Agents online:",
    pick: "Pick a ticket from the list.", reasons: "Reasons:", evidence: "What decided the handoff:", evidence_message: "customer wrote", evidence_asked: "after the bot asked", claim: "Claim", return: "Return to the bot",
    resolve: "Resolve and ask for a rating", transfer: "Transfer", customer_typing: "Customer is typing…",
    canned: "Canned replies…", note: "Internal note", reply_placeholder: "Write your reply to the customer…", send: "Send",
    summary: "Summary", signals: "Signals over time", slots: "What we know", rating: "Rating",
    customer: "Customer", bot: "Bot", agent: "Agent", system: "System", note_label: "Internal note",
    handed_over: "Handed over to a person", waiting: "waiting", min: "min", breach: "SLA breached",
    p1: "urgent", p2: "high", p3: "normal",
    queued: "queued", callback: "call back", with_agent: "with agent", bot_state: "back with the bot", resolved: "resolved",
    claimed_by: "claimed by", transferred_to: "transferred to", returned: "returned to the bot", closed: "resolved",
    rating_line: "Customer rating", frustration: "frustration", urgency: "urgency", no_rating: "—",
    bad_login: "Wrong username or password.", nobody: "—", choose_agent: "Pick a colleague",
    reasons_map: { safety_hazard: "safety hazard", essential_outage: "essential service out", angry: "angry", escalation_threat: "escalation threat",
      rising_frustration: "rising frustration", explicit_request: "asked for a person", repeated_misunderstanding: "misunderstood twice" },
  },
};

const state = {
  lang: localStorage.getItem("console-lang") || "ar",
  me: null,
  csrf: "",
  tickets: new Map(),      // ticket_id -> summary
  queueOrder: [],          // waiting ticket ids, most urgent first
  slaMinutes: {},
  clockOffset: 0,          // server ms - local ms
  feedId: "$",
  ws: null,
  wsRetry: 500,
  current: null,           // ticket detail being viewed
  shown: new Set(),        // event ids already in the transcript
  typingTimer: null,
  lastTypingSent: 0,
  agents: [],
};

const $ = (id) => document.getElementById(id);
const t = (key) => I18N[state.lang][key] ?? key;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

// ------------------------------------------------------------------ language
function applyLanguage() {
  document.documentElement.lang = state.lang;
  document.documentElement.dir = state.lang === "ar" ? "rtl" : "ltr";
  document.querySelectorAll("[data-i18n]").forEach((node) => { node.textContent = t(node.dataset.i18n); });
  document.querySelectorAll("[data-i18n-placeholder]").forEach((node) => { node.placeholder = t(node.dataset.i18nPlaceholder); });
  $("lang").textContent = state.lang === "ar" ? "English" : "العربية";
  $("lang").lang = state.lang === "ar" ? "en" : "ar";
  const transferPlaceholder = $("transfer-to").options[0];
  if (transferPlaceholder) transferPlaceholder.textContent = t("choose_agent");
  setConnection(state.ws && state.ws.readyState === WebSocket.OPEN);
  renderQueue();
  if (state.current) renderTicket();
}

// ----------------------------------------------------------------------- API
async function api(method, path, body) {
  const options = { method, headers: {}, credentials: "same-origin" };
  if (method !== "GET") {
    options.headers["X-CSRF-Token"] = state.csrf;
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body || {});
  }
  const response = await fetch(path, options);
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  if (response.status === 401 && path !== "/api/login") showLogin();
  if (!response.ok) {
    const error = new Error((data && data.message) || response.statusText);
    error.status = response.status;
    error.code = data && data.error;
    throw error;
  }
  return data;
}

function showError(error) {
  $("action-error").textContent = error ? error.message : "";
}

// ------------------------------------------------------------------ sign-in
function showLogin() {
  state.me = null;
  if (state.ws) { state.ws.onclose = null; state.ws.close(); state.ws = null; }
  $("login-view").classList.remove("hidden");
  $("console-view").classList.add("hidden");
  $("logout").classList.add("hidden");
  $("who").textContent = "";
}

async function signedIn(user) {
  state.me = user;
  state.csrf = user.csrf;
  $("login-view").classList.add("hidden");
  $("console-view").classList.remove("hidden");
  $("logout").classList.remove("hidden");
  $("who").textContent = user.name || user.username;
  await Promise.all([loadQueue(), loadCanned(), loadAgents()]);
  connect();
}

async function login(event) {
  event.preventDefault();
  $("login-error").textContent = "";
  try {
    const user = await api("POST", "/api/login", { username: $("username").value.trim(), password: $("password").value });
    $("password").value = "";
    await signedIn(user);
  } catch (error) {
    $("login-error").textContent = error.status === 401 ? t("bad_login") : error.message;
  }
}

async function logout() {
  try { await api("POST", "/api/logout"); } catch (_) { /* signed out anyway */ }
  showLogin();
}

// -------------------------------------------------------------------- queue
async function loadQueue() {
  const data = await api("GET", "/api/queue");
  state.clockOffset = data.now_ms - Date.now();
  state.slaMinutes = data.sla_minutes;
  state.tickets.clear();
  for (const ticket of data.open) state.tickets.set(ticket.ticket_id, ticket);
  state.queueOrder = data.queue.map((ticket) => ticket.ticket_id);
  for (const ticket of data.queue) state.tickets.set(ticket.ticket_id, ticket);
  $("on-duty").textContent = data.agents_on_duty.length;
  if (state.feedId === "$") state.feedId = data.feed_id;
  renderQueue();
}

// queued: the customer waits in the chat; callback: nobody could chat, a colleague calls back
// (the bot keeps answering meanwhile). Both wait for an agent to claim them.
function isWaiting(ticket) {
  return ticket.state === "queued" || ticket.state === "callback";
}

function queueSort() {
  const waiting = [...state.tickets.values()].filter((x) => isWaiting(x));
  waiting.sort((a, b) => (a.priority - b.priority) || (a.created_ms - b.created_ms));
  state.queueOrder = waiting.map((x) => x.ticket_id);
}

function waitedMinutes(ticket) {
  return (Date.now() + state.clockOffset - ticket.created_ms) / 60000;
}

function isBreach(ticket) {
  const sla = state.slaMinutes[String(ticket.priority)];
  return isWaiting(ticket) && sla !== undefined && waitedMinutes(ticket) > sla;
}

function formatWait(minutes) {
  const m = Math.floor(minutes);
  const s = Math.floor((minutes - m) * 60);
  return `${m}:${String(s).padStart(2, "0")} ${t("min")}`;
}

function reasonText(reasons) {
  const names = I18N[state.lang].reasons_map;
  return (reasons || []).map((reason) => names[reason] || reason).join("، ");
}

function ticketItem(ticket) {
  const item = el("li", `p${ticket.priority}`);
  item.dataset.ticketId = ticket.ticket_id;
  if (state.current && state.current.ticket.ticket_id === ticket.ticket_id) item.classList.add("selected");
  if (isBreach(ticket)) item.classList.add("breach");
  const line1 = el("div", "line1");
  const who = el("bdi", "customer", ticket.customer_display);
  who.dir = "auto";
  line1.append(who, el("span", "wait", formatWait(waitedMinutes(ticket))));
  const line2 = el("div", "reasons", `${t("p" + ticket.priority)} · ${reasonText(ticket.reasons)}`);
  item.append(line1, line2);
  if (isBreach(ticket)) item.append(el("div", "reasons", t("breach")));
  item.addEventListener("click", () => openTicket(ticket.ticket_id));
  return item;
}

function renderQueue() {
  if (!state.me) return;
  const queue = $("queue"), mine = $("mine"), others = $("others");
  queue.replaceChildren(...state.queueOrder.map((id) => state.tickets.get(id)).filter(Boolean).map(ticketItem));
  const held = [...state.tickets.values()].filter((x) => x.state === "with_agent");
  mine.replaceChildren(...held.filter((x) => x.agent === state.me.username).map(ticketItem));
  others.replaceChildren(...held.filter((x) => x.agent !== state.me.username).map(ticketItem));
  $("queue-count").textContent = state.queueOrder.length;
  if (state.current) renderWait();
}

// Agents see the queue and their own tickets; the server announces a ticket leaving
// their sight (taken by a colleague, closed) with its state only, so drop it here.
function visibleToMe(summary) {
  if (isWaiting(summary)) return true;
  if (summary.state !== "with_agent") return false;
  return state.me.role === "supervisor" || summary.agent === state.me.username;
}

function upsertTicket(summary) {
  if (visibleToMe(summary)) state.tickets.set(summary.ticket_id, summary);
  else state.tickets.delete(summary.ticket_id);
  queueSort();
  renderQueue();
  if (state.current && state.current.ticket.ticket_id === summary.ticket_id) {
    Object.assign(state.current.ticket, summary);
    renderTicketHead();
  }
}

// -------------------------------------------------------------- live feed
function setConnection(online) {
  const node = $("connection");
  node.className = `connection ${online ? "online" : "offline"}`;
  node.textContent = t(online ? "online" : "offline");
}

function connect() {
  if (!state.me) return;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/api/ws?after=${encodeURIComponent(state.feedId)}`);
  state.ws = ws;
  ws.onopen = () => { state.wsRetry = 500; setConnection(true); };
  ws.onmessage = (message) => {
    if (message.data === "pong") return;
    const entry = JSON.parse(message.data);
    if (entry.feed_id) state.feedId = entry.feed_id;
    onFeed(entry);
  };
  ws.onclose = () => {
    setConnection(false);
    if (!state.me) return;
    // resume after the last feed id we saw: everything missed arrives, nothing twice
    setTimeout(connect, state.wsRetry);
    state.wsRetry = Math.min(state.wsRetry * 2, 5000);
  };
}

function onFeed(entry) {
  switch (entry.kind) {
    case "ticket_created":
    case "ticket_updated":
      upsertTicket(entry.ticket);
      break;
    case "event":
      if (state.current && entry.ticket_id === state.current.ticket.ticket_id) {
        state.current.events.push(entry.event);
        appendEvent(entry.event);
        if (entry.event.type === "rating") renderRating(entry.event.data.rating, entry.event.text);
      }
      break;
    case "typing":
      if (state.current && entry.ticket_id === state.current.ticket.ticket_id && entry.role === "customer") showCustomerTyping();
      break;
    default:
      break;
  }
}

function showCustomerTyping() {
  $("customer-typing").classList.remove("hidden");
  clearTimeout(state.typingTimer);
  state.typingTimer = setTimeout(() => $("customer-typing").classList.add("hidden"), 4000);
}

// ------------------------------------------------------------ conversation
async function openTicket(ticketId) {
  showError(null);
  const data = await api("GET", `/api/tickets/${encodeURIComponent(ticketId)}`);
  state.current = data;
  state.shown = new Set();
  renderTicket();
  renderQueue();
}

function renderTicket() {
  const { ticket, events } = state.current;
  $("empty-state").classList.add("hidden");
  $("ticket-view").classList.remove("hidden");
  renderTicketHead();
  $("t-summary").textContent = ticket.summary_ar || "—";
  renderSlots(ticket.slots || {});
  renderSignals(ticket.signals || []);
  renderRating(ticket.rating, ticket.rating_comment);
  const list = $("transcript");
  list.replaceChildren();
  state.shown = new Set();
  (ticket.transcript || []).forEach((line) => list.append(bubble(line.role, line.text, null, line.ts)));
  list.append(el("li", "divider", t("handed_over")));
  events.forEach(appendEvent);
  list.scrollTop = list.scrollHeight;
}

function renderTicketHead() {
  const ticket = state.current.ticket;
  $("t-id").textContent = ticket.ticket_id;
  $("t-customer").textContent = ticket.customer_display;
  const priority = $("t-priority");
  priority.textContent = t("p" + ticket.priority);
  priority.className = `badge p${ticket.priority}`;
  $("t-state").textContent = t(ticket.state === "bot" ? "bot_state" : ticket.state);
  $("t-agent").textContent = ticket.agent ? `${t("claimed_by")} ${ticket.agent}` : "";
  $("t-reasons").textContent = reasonText(ticket.reasons);
  renderEvidence(ticket.evidence || []);
  const holder = ticket.agent === state.me.username;
  const supervisor = state.me.role === "supervisor";
  const open = isWaiting(ticket) || ticket.state === "with_agent";
  $("claim").disabled = !isWaiting(ticket);
  $("return").disabled = !(open && (holder || supervisor));
  $("resolve").disabled = !(open && (holder || supervisor));
  $("transfer").disabled = !(open && (holder || supervisor));
  const canWrite = ticket.state === "with_agent" && holder;
  $("send").disabled = !canWrite && !$("as-note").checked;
  $("reply").disabled = !canWrite && !$("as-note").checked;
  renderWait();
}

// Which rule decided the handoff and on what words and scores (bot/escalation.py),
// so an agent can see at once whether it was needed and say so in a note.
function renderEvidence(evidence) {
  const list = $("t-evidence");
  list.replaceChildren();
  const names = I18N[state.lang].reasons_map;
  evidence.forEach((item) => {
    const scores = Object.entries(item.scores || {}).map(([k, v]) => `${k} ${Number(v).toFixed(2)}`).join("، ");
    const line = el("li", "evidence");
    line.dir = "auto";
    line.append(el("strong", null, names[item.reason] || item.reason || ""));
    // customer and bot words go in <bdi>, so Arabic inside an English line keeps its order
    line.append(el("span", null, ` · ${item.rule || ""} · `), el("bdi", null, item.detail || ""));
    if (scores) line.append(el("span", null, ` · ${scores}`));
    for (const [key, text] of [["evidence_message", item.message], ["evidence_asked", item.bot_asked]]) {
      if (!text) continue;
      const quoted = el("div", "evidence-message", `${t(key)}: `);
      quoted.append(el("bdi", null, text));
      line.append(quoted);
    }
    list.append(line);
  });
  $("t-evidence-box").hidden = evidence.length === 0;
}

function renderWait() {
  const ticket = state.current.ticket;
  const node = $("t-wait");
  node.textContent = isWaiting(ticket) ? `${t("waiting")} ${formatWait(waitedMinutes(ticket))}` : "";
  node.className = isBreach(ticket) ? "badge breach" : "";
}

function bubble(role, text, agent, ts, extraClass) {
  const item = el("li", `bubble ${extraClass || role}`);
  item.dir = "auto";
  const label = extraClass === "note" ? `${t("note_label")} · ${agent || ""}` : (role === "agent" && agent ? `${t("agent")} · ${agent}` : t(role));
  const who = el("span", "who", ts ? `${label} · ${new Date(ts * 1000).toLocaleTimeString(state.lang === "ar" ? "ar-SA" : "en-GB")}` : label);
  const body = el("span", "text", text);
  body.dir = "auto";
  item.append(who, body);
  return item;
}

function stateLine(event) {
  const data = event.data || {};
  if (data.to) return `${t("transferred_to")} ${data.to}`;
  if (data.state === "with_agent") return `${t("claimed_by")} ${event.agent}`;
  if (data.state === "bot") return `${t("returned")} (${event.agent})`;
  if (data.state === "resolved") return `${t("closed")} (${event.agent})`;
  return data.state || "";
}

function appendEvent(event) {
  if (state.shown.has(event.id)) return;   // at-least-once delivery: show each id once
  state.shown.add(event.id);
  let node;
  if (event.type === "note") node = bubble("agent", event.text, event.agent, event.ts, "note");
  else if (event.type === "state") node = bubble("system", stateLine(event), null, event.ts);
  else if (event.type === "rating") node = bubble("system", `${t("rating_line")}: ${event.data.rating}/5 ${event.text || ""}`, null, event.ts);
  else if (event.type === "system") node = bubble("system", event.text, null, event.ts);
  else node = bubble(event.role, event.text, event.data && event.data.agent_name ? event.data.agent_name : event.agent, event.ts);
  node.dataset.eventId = event.id;
  const list = $("transcript");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  list.append(node);
  if (atBottom || event.role === "agent") list.scrollTop = list.scrollHeight;
  if (event.role === "customer") $("customer-typing").classList.add("hidden");
}

function renderSlots(slots) {
  const list = $("t-slots");
  list.replaceChildren();
  Object.entries(slots).filter(([, value]) => value !== null && value !== "" && value !== undefined).forEach(([name, value]) => {
    const dd = el("dd", null, typeof value === "object" ? JSON.stringify(value) : value);
    dd.dir = "auto";
    list.append(el("dt", null, name), dd);
  });
  if (!list.children.length) list.append(el("dd", null, "—"));
}

function renderSignals(points) {
  const box = $("t-signals");
  box.replaceChildren();
  if (!points.length) { box.textContent = "—"; return; }
  const NS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", "0 0 100 40");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("dir", "ltr");
  const series = [["frustration", "#b3261e"], ["urgency_score", "#356ac3"]];
  for (const [key, color] of series) {
    const values = points.map((p) => (typeof p[key] === "number" ? p[key] : 0));
    const step = values.length > 1 ? 100 / (values.length - 1) : 0;
    const line = document.createElementNS(NS, "polyline");
    line.setAttribute("points", values.map((v, i) => `${(i * step).toFixed(1)},${(38 - v * 36).toFixed(1)}`).join(" "));
    line.setAttribute("fill", "none");
    line.setAttribute("stroke", color);
    line.setAttribute("stroke-width", "1.5");
    svg.append(line);
    values.forEach((v, i) => {
      const dot = document.createElementNS(NS, "circle");
      dot.setAttribute("cx", (values.length > 1 ? i * step : 50).toFixed(1));
      dot.setAttribute("cy", (38 - v * 36).toFixed(1));
      dot.setAttribute("r", "1.6");
      dot.setAttribute("fill", color);
      svg.append(dot);
    });
  }
  const legend = el("div", "legend", `— ${t("frustration")} (${points.map((p) => (p.frustration ?? 0).toFixed(2)).join(" → ")}) · — ${t("urgency")}`);
  box.append(svg, legend);
}

function renderRating(rating, comment) {
  $("t-rating").textContent = rating ? `${rating}/5 ${comment || ""}` : t("no_rating");
}

// ------------------------------------------------------------------ actions
async function act(action, body) {
  showError(null);
  const ticketId = state.current.ticket.ticket_id;
  try {
    const data = await api("POST", `/api/tickets/${encodeURIComponent(ticketId)}/${action}`, body);
    if (data && data.ticket) { Object.assign(state.current.ticket, data.ticket); upsertTicket(data.ticket); renderTicketHead(); }
    return data;
  } catch (error) {
    showError(error);
    return null;
  }
}

async function send(event) {
  event.preventDefault();
  const text = $("reply").value.trim();
  if (!text || !state.current) return;
  const note = $("as-note").checked;
  const data = await act(note ? "notes" : "messages", { text });
  if (data && data.event) {
    $("reply").value = "";
    state.current.events.push(data.event);
    appendEvent(data.event);
  }
}

function agentTyping() {
  const ticket = state.current && state.current.ticket;
  if (!ticket || ticket.agent !== state.me.username || $("as-note").checked) return;
  if (Date.now() - state.lastTypingSent < 3000) return;
  state.lastTypingSent = Date.now();
  api("POST", `/api/tickets/${encodeURIComponent(ticket.ticket_id)}/typing`).catch(() => {});
}

async function loadCanned() {
  const data = await api("GET", "/api/canned");
  const select = $("canned");
  const first = select.options[0];
  select.replaceChildren(first);
  for (const reply of data.replies) {
    const option = el("option", null, reply.title);
    option.value = reply.text;
    select.append(option);
  }
}

async function loadAgents() {
  const data = await api("GET", "/api/agents");
  state.agents = data.agents;
  const select = $("transfer-to");
  const placeholder = el("option", null, t("choose_agent"));
  placeholder.value = "";
  select.replaceChildren(placeholder);
  for (const agent of data.agents.filter((a) => a.username !== state.me.username)) {
    const option = el("option", null, `${agent.name} (${agent.username})${agent.online ? " ●" : ""}`);
    option.value = agent.username;
    select.append(option);
  }
}

// --------------------------------------------------------------------- boot
function wire() {
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  $("lang").addEventListener("click", () => {
    state.lang = state.lang === "ar" ? "en" : "ar";
    localStorage.setItem("console-lang", state.lang);
    applyLanguage();
  });
  $("claim").addEventListener("click", () => act("claim"));
  $("return").addEventListener("click", () => act("return"));
  $("resolve").addEventListener("click", () => act("resolve"));
  $("transfer").addEventListener("click", () => {
    const target = $("transfer-to").value;
    if (target) act("transfer", { agent: target });
  });
  $("composer").addEventListener("submit", send);
  $("reply").addEventListener("input", agentTyping);
  $("reply").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); $("composer").requestSubmit(); }
  });
  $("as-note").addEventListener("change", () => {
    $("composer").classList.toggle("note-mode", $("as-note").checked);
    if (state.current) renderTicketHead();
  });
  $("canned").addEventListener("change", () => {
    if ($("canned").value) { $("reply").value = $("canned").value; $("canned").selectedIndex = 0; $("reply").focus(); }
  });
  setInterval(() => { if (state.me) renderQueue(); }, 1000);
  // agents on duty and any drift: a full refresh now and then (the feed carries the rest)
  setInterval(() => { if (state.me) loadQueue().catch(() => {}); }, 20000);
  setInterval(() => { if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send("ping"); }, 15000);
}

async function boot() {
  wire();
  applyLanguage();
  try {
    await signedIn(await api("GET", "/api/me"));
  } catch (_) {
    showLogin();
  }
}

document.addEventListener("DOMContentLoaded", boot);
