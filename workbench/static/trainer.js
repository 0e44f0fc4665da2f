// Trainer workbench. Customer text is only ever set with textContent, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { csrf: "", items: [], current: null, selected: [], entities: [], catalogue: null, catalogueReady: null, job: null, poll: null };
const TOKEN = /[\p{L}\p{N}\p{M}_\u0640\u200d]+|[^\s]/gu;

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

async function api(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (method !== "GET") { headers["Content-Type"] = "application/json"; headers["X-CSRF-Token"] = state.csrf; }
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
  let data = {};
  try { data = await response.json(); } catch (e) { data = { message: response.statusText }; }
  return { ok: response.ok, status: response.status, data };
}

function showResult(message, ok, extra) {
  const box = $("result");
  box.replaceChildren(el("p", message, ok === null ? "pending" : ok ? "ok" : "error"));
  if (extra) box.append(extra);
}

// ------------------------------------------------------------------ sign-in
async function start() {
  const me = await api("GET", "/api/me");
  if (!me.ok) { $("sign-in").hidden = false; $("app").hidden = true; $("who").hidden = true; return; }
  state.csrf = me.data.csrf;
  $("user-name").textContent = me.data.name || me.data.username;
  $("who").hidden = false; $("sign-in").hidden = true; $("app").hidden = false;
  if (!["trainer", "supervisor"].includes(me.data.role)) {
    $("app").replaceChildren(el("p", "هذه الصفحة للمدرّبين فقط. (Trainers only.)", "error"));
    return;
  }
  state.catalogueReady = loadCatalogue();
  await state.catalogueReady;
  await loadInbox();
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const result = await api("POST", "/api/login", { username: $("username").value, password: $("password").value });
  if (!result.ok) { $("login-error").textContent = result.data.message || "تعذّر الدخول"; return; }
  $("login-error").textContent = "";
  await start();
});

$("sign-out").addEventListener("click", async () => { await api("POST", "/api/logout", {}); location.reload(); });

document.querySelectorAll(".tab").forEach((tab) => tab.addEventListener("click", () => {
  document.querySelectorAll(".tab").forEach((t) => t.classList.toggle("active", t === tab));
  document.querySelectorAll(".panel").forEach((p) => { p.hidden = p.id !== "tab-" + tab.dataset.tab; });
  if (tab.dataset.tab === "health") loadHealth();
  if (tab.dataset.tab === "history") loadHistory();
  if (tab.dataset.tab === "train") loadJobs();
}));

// ------------------------------------------------------------------ inbox
function fillSelect(select, values, labels) {
  for (const value of values) {
    const option = el("option", labels ? labels(value) : value);
    option.value = value;
    select.append(option);
  }
}

async function loadCatalogue() {
  const result = await api("GET", "/api/trainer/catalogue");
  if (!result.ok) return;
  const c = state.catalogue = result.data;
  fillSelect($("f-dialect"), c.dialects);
  fillSelect($("ann-dialect"), c.dialects);
  fillSelect($("ann-entity"), c.entities);
  fillSelect($("ann-frustration"), c.frustration);
  fillSelect($("ann-file"), c.files);
  fillSelect($("ann-intent"), Object.keys(c.intents));
  const newOption = el("option", "+ نية جديدة (new intent)…");
  newOption.value = "__new__";
  $("ann-intent").append(newOption);
}

$("ann-intent").addEventListener("change", () => { $("new-intent").hidden = $("ann-intent").value !== "__new__"; });

const FLAG_NAMES = { low_confidence: "ثقة منخفضة", fallback: "لم تُفهم", handed_off: "حُوّلت لموظف", contradicted: "صحّحها العميل", escalated: "سبّبت التحويل" };

async function loadInbox() {
  const params = new URLSearchParams();
  const flags = [...document.querySelectorAll("input[name=flags]:checked")].map((i) => i.value);
  if (flags.length) params.set("flags", flags.join(","));
  if ($("f-dialect").value) params.set("dialect", $("f-dialect").value);
  if ($("f-from").value) params.set("date_from", $("f-from").value);
  if ($("f-to").value) params.set("date_to", $("f-to").value);
  const result = await api("GET", "/api/trainer/inbox?" + params.toString());
  const list = $("inbox-list");
  list.replaceChildren();
  if (!result.ok) { list.append(el("li", result.data.message, "error")); return; }
  state.items = result.data.items;
  if (!state.items.length) list.append(el("li", "لا توجد رسائل. (No messages.)"));
  for (const item of state.items) {
    const li = el("li");
    li.dataset.id = item.id;
    const text = el("p", item.text, "bubble");
    text.dir = "auto";
    const meta = el("p", `${item.intent || "—"} · ${item.confidence.toFixed(2)} · ${item.dialect || "?"} · ${item.frustration || "?"} · ${item.channel || "?"} · ${item.date}`, "meta");
    meta.dir = "ltr";
    const flags = el("p");
    for (const flag of item.flags) flags.append(el("span", FLAG_NAMES[flag] || flag, "flag"));
    li.append(text, meta, flags);
    // what decided the handoff: a wrong one is relabelled here like any message
    for (const evidence of item.handoff_evidence || []) {
      const scores = Object.entries(evidence.scores || {}).map(([k, v]) => `${k} ${Number(v).toFixed(2)}`).join(", ");
      const line = el("p", `${evidence.reason || "?"} · ${evidence.rule || ""} · ${evidence.detail || ""}${scores ? ` · ${scores}` : ""}`, "meta evidence");
      line.dir = "auto";
      li.append(line);
    }
    li.addEventListener("click", () => openItem(item));
    list.append(li);
  }
}

$("filters").addEventListener("submit", (event) => { event.preventDefault(); loadInbox(); });

function codePointIndex(text, unitIndex) { return Array.from(text.slice(0, unitIndex)).length; }

function renderText() {
  const item = state.current;
  const box = $("ann-text");
  box.replaceChildren();
  let last = 0;
  for (const match of item.text.matchAll(TOKEN)) {
    if (match.index > last) box.append(document.createTextNode(item.text.slice(last, match.index)));
    const start = codePointIndex(item.text, match.index);
    const end = start + Array.from(match[0]).length;
    const span = el("span", match[0], "tok");
    span.dataset.start = start; span.dataset.end = end;
    if (state.selected.some((t) => t.start === start)) span.classList.add("sel");
    if (state.entities.some((e) => e.start <= start && end <= e.end)) span.classList.add("ent");
    span.addEventListener("click", (event) => selectToken(event, { start, end }));
    box.append(span);
    last = match.index + match[0].length;
  }
  if (last < item.text.length) box.append(document.createTextNode(item.text.slice(last)));
  const list = $("ann-entities");
  list.replaceChildren();
  const chars = Array.from(item.text);
  state.entities.forEach((entity, i) => {
    const li = el("li");
    const value = el("bdi", chars.slice(entity.start, entity.end).join(""));
    const remove = el("button", "✕", "ghost");
    remove.type = "button";
    remove.title = "احذف · remove";
    remove.addEventListener("click", () => { state.entities.splice(i, 1); renderText(); });
    li.append(el("span", entity.entity + ": "), value, document.createTextNode(" "), remove);
    list.append(li);
  });
}

function selectToken(event, token) {
  if (event.shiftKey && state.selected.length) {
    const all = [...$("ann-text").querySelectorAll(".tok")].map((s) => ({ start: +s.dataset.start, end: +s.dataset.end }));
    const from = Math.min(state.selected[0].start, token.start);
    const to = Math.max(state.selected[state.selected.length - 1].end, token.end);
    state.selected = all.filter((t) => t.start >= from && t.end <= to);
  } else {
    state.selected = state.selected.length === 1 && state.selected[0].start === token.start ? [] : [token];
  }
  renderText();
}

$("mark-entity").addEventListener("click", () => {
  if (!state.selected.length) { showResult("اختر كلمة أولاً. (Select a word first.)", false); return; }
  const start = state.selected[0].start;
  const end = state.selected[state.selected.length - 1].end;
  state.entities = state.entities.filter((e) => e.end <= start || e.start >= end);
  state.entities.push({ start, end, entity: $("ann-entity").value });
  state.entities.sort((a, b) => a.start - b.start);
  state.selected = [];
  renderText();
});

async function openItem(item) {
  // the selects are filled from the catalogue; a click may come before it arrived
  await state.catalogueReady;
  state.current = item;
  state.selected = [];
  state.entities = item.entities.map((e) => ({ start: e.start, end: e.end, entity: e.entity }))
    .filter((e) => state.catalogue && state.catalogue.entities.includes(e.entity));
  document.querySelectorAll("#inbox-list li").forEach((li) => li.classList.toggle("selected", li.dataset.id === item.id));
  $("annotate").hidden = false;
  const intents = state.catalogue ? Object.keys(state.catalogue.intents) : [];
  const best = intents.includes(item.intent) ? item.intent : ((item.ranking || []).map((r) => r.name).find((n) => intents.includes(n)) || intents[0]);
  $("ann-intent").value = best;
  $("new-intent").hidden = true;
  $("ann-dialect").value = item.dialect && state.catalogue.dialects.includes(item.dialect) ? item.dialect : "msa";
  $("ann-frustration").value = item.frustration || "";
  const ranking = (item.ranking || []).map((r) => `${r.name} ${r.confidence.toFixed(2)}`).join(" · ");
  $("ann-meta").textContent = `${item.customer_display || item.conversation_id} · ${item.channel || "?"} · ${item.date} · ${ranking}`;
  $("ann-meta").dir = "ltr";
  renderText();
}

function undoButton(auditId, after) {
  const button = el("button", "تراجع · Undo", "ghost");
  button.type = "button";
  button.addEventListener("click", async () => {
    const result = await api("POST", "/api/trainer/undo", { audit_id: auditId });
    showResult(result.ok ? "تم التراجع. (Undone.)" : result.data.message, result.ok);
    if (after) after();
    loadInbox();
  });
  return button;
}

$("save-example").addEventListener("click", async () => {
  const item = state.current;
  if (!item) return;
  let intent = $("ann-intent").value;
  const body = { item_id: item.id, text: item.text, dialect: $("ann-dialect").value, entities: state.entities,
    frustration: $("ann-frustration").value || null };
  if (intent === "__new__") { intent = $("ann-new-intent").value.trim(); body.file = $("ann-file").value; }
  body.intent = intent;
  // one save at a time: writing checks the whole data set and can take a few seconds
  $("save-example").disabled = true;
  showResult("… جارٍ الحفظ (saving)", null);
  state.saving = (state.saving || 0) + 1;
  let result;
  try {
    result = await api("POST", "/api/trainer/examples", body);
  } finally {
    $("save-example").disabled = false;
    state.saving -= 1;
  }
  if (!result.ok) {
    const details = result.data.details;
    const extra = details ? el("p", `${details.intent} · ${details.file}: ${details.text}`, "meta") : null;
    if (extra) extra.dir = "auto";
    showResult(result.data.message || "تعذّر الحفظ", false, extra);
    return;
  }
  const written = el("p", `${result.data.file}: ${result.data.annotated}`, "meta");
  written.dir = "auto";
  const box = el("div");
  box.append(written, undoButton(result.data.audit_id));
  showResult("✓ كُتب المثال. (Example written.)", true, box);
  if (state.current && state.current.id === item.id) { $("annotate").hidden = true; state.current = null; }
  if (result.data.new_intent) { state.catalogue.intents[intent] = result.data.file; }
  loadInbox();
});

$("dismiss").addEventListener("click", async () => {
  if (!state.current) return;
  const result = await api("POST", "/api/trainer/dismiss", { item_id: state.current.id });
  showResult(result.ok ? "أُخفيت الرسالة. (Dismissed.)" : result.data.message, result.ok, result.ok ? undoButton(result.data.audit_id) : null);
  $("annotate").hidden = true;
  loadInbox();
});

// ------------------------------------------------------------------ health
function row(cells, header) {
  const tr = el("tr");
  for (const cell of cells) tr.append(cell instanceof Node ? cell : el(header ? "th" : "td", cell));
  return tr;
}

async function loadHealth() {
  const result = await api("GET", "/api/trainer/health");
  if (!result.ok) { $("health-summary").textContent = result.data.message; return; }
  const r = result.data;
  $("health-summary").textContent = `${r.examples} مثالاً · ${Object.keys(r.per_intent).length} نية · examples: ${r.examples}, intents: ${Object.keys(r.per_intent).length}, conflicts: ${r.conflicts.length}, near-duplicates: ${r.near_duplicates.length}`;
  $("health-chart").src = "/api/trainer/health/chart.png?t=" + Date.now();
  const dialects = Object.keys(r.per_dialect);
  const table = $("health-table");
  table.replaceChildren(row(["intent", ...dialects, "total"], true));
  for (const [intent, counts] of Object.entries(r.table)) {
    const tr = row([intent]);
    for (const d of dialects) { const td = el("td", counts[d] || 0); if (!counts[d]) td.className = "low"; tr.append(td); }
    const total = el("td", r.per_intent[intent]);
    if (r.per_intent[intent] < r.min_examples) total.className = "low";
    tr.append(total);
    table.append(tr);
  }
  table.append(row(["total", ...dialects.map((d) => r.per_dialect[d]), r.examples]));
  const gaps = $("health-gaps");
  gaps.replaceChildren();
  for (const intent of r.too_few) gaps.append(el("li", `${intent}: ${r.per_intent[intent]} < ${r.min_examples}`));
  for (const [intent, missing] of Object.entries(r.missing_dialects)) gaps.append(el("li", `${intent}: ${missing.join(", ")}`));
  if (!gaps.children.length) gaps.append(el("li", "لا شيء. (None.)"));
  const conflicts = $("health-conflicts");
  conflicts.replaceChildren();
  for (const c of r.conflicts) { const li = el("li", `${c.text} → ${c.intents.join(" / ")} (${c.files.join(", ")})`); li.dir = "auto"; conflicts.append(li); }
  if (!r.conflicts.length) conflicts.append(el("li", "لا شيء. (None.)"));
  const near = $("health-near");
  near.replaceChildren();
  for (const n of r.near_duplicates.slice(0, 50)) {
    const li = el("li");
    const a = el("bdi", n.a); const b = el("bdi", n.b);
    li.append(a, document.createTextNode(` (${n.intent_a}) ≈ `), b, document.createTextNode(` (${n.intent_b}) ${n.similarity}`));
    near.append(li);
  }
  if (!r.near_duplicates.length) near.append(el("li", "لا شيء. (None.)"));
}

$("health-refresh").addEventListener("click", loadHealth);
$("run-validate").addEventListener("click", async () => {
  $("validate-output").textContent = "… rasa data validate (≈1 min)";
  const result = await api("POST", "/api/trainer/validate", {});
  $("validate-output").textContent = result.ok ? `exit ${result.data.returncode}\n${result.data.output}` : result.data.message;
});

// ------------------------------------------------------------------ retrain
function fmt(value) { return value === null || value === undefined ? "—" : Number(value).toFixed(3); }

function confusionTable(table, cm) {
  table.replaceChildren();
  if (!cm) { table.append(row(["—"])); return; }
  table.append(row(["", ...cm.labels.map((l, i) => String(i + 1))], true));
  cm.labels.forEach((label, i) => {
    const tr = el("tr");
    const th = el("th", `${i + 1} ${label}`);
    th.style.textAlign = "start";
    tr.append(th);
    cm.matrix[i].forEach((n, j) => {
      const td = el("td", n || "");
      if (n) td.className = i === j ? "diag" : "off";
      tr.append(td);
    });
    table.append(tr);
  });
}

function renderJob(job) {
  state.job = job;
  $("job").hidden = false;
  $("job-progress").value = job.progress;
  $("job-stage").textContent = `${job.state} · ${Math.round(job.progress * 100)}% · ${job.stage}${job.error ? " · " + job.error : ""}`;
  $("job-log").textContent = (job.log_tail || []).slice(-8).join("\n");
  $("start-training").disabled = ["training", "evaluating"].includes(job.state);
  const c = job.comparison;
  $("comparison").hidden = !c;
  if (!c) return;
  $("cmp-summary").replaceChildren(
    row(["", "الحالي · current", "الجديد · candidate"], true),
    row(["macro-F1", fmt(c.current.macro_f1), fmt(c.candidate.macro_f1)]),
    row(["accuracy", fmt(c.current.accuracy), fmt(c.candidate.accuracy)]),
    row(["fallback rate", fmt(c.current.fallback_rate), fmt(c.candidate.fallback_rate)]),
  );
  $("cmp-verdict").textContent = c.worse
    ? `⚠ النموذج الجديد أسوأ (Δ macro-F1 ${fmt(c.delta_macro_f1)}). لن يُحمَّل إلا بتأكيد صريح. (The candidate is worse; it is only loaded if you confirm explicitly.)`
    : `النموذج الجديد ليس أسوأ (Δ macro-F1 ${fmt(c.delta_macro_f1)}). (The candidate is not worse.)`;
  $("cmp-verdict").className = c.worse ? "error" : "ok";
  $("accept-worse-label").hidden = !c.worse;
  const intents = $("cmp-intents");
  intents.replaceChildren(row(["intent", "F1 current", "F1 candidate", "Δ"], true));
  for (const r of c.per_intent) {
    const delta = el("td", r.delta === null ? "—" : (r.delta > 0 ? "+" : "") + r.delta.toFixed(3));
    if (r.delta) delta.className = r.delta > 0 ? "better" : "worse";
    const tr = row([r.intent, fmt(r.current), fmt(r.candidate)]);
    tr.append(delta);
    intents.append(tr);
  }
  confusionTable($("cm-current"), c.confusion_current);
  confusionTable($("cm-candidate"), c.confusion_candidate);
  $("load-model").disabled = job.state !== "ready";
  if (job.state === "loaded" && !$("load-result").textContent) $("load-result").textContent = "✓ حُمّل هذا النموذج في الخادم. (Loaded.)";
}

async function pollJob(id) {
  clearTimeout(state.poll);
  const result = await api("GET", "/api/trainer/jobs/" + encodeURIComponent(id));
  if (!result.ok) return;
  renderJob(result.data);
  if (["training", "evaluating"].includes(result.data.state)) state.poll = setTimeout(() => pollJob(id), 1500);
}

async function loadJobs() {
  const result = await api("GET", "/api/trainer/jobs");
  if (result.ok && result.data.jobs.length) pollJob(result.data.jobs[0].id);
}

$("start-training").addEventListener("click", async () => {
  if (state.saving) {
    // training reads the files now: an example still being written would be left out
    $("job").hidden = false;
    $("job-stage").textContent = "انتظر حتى يُحفظ المثال. (Wait until the example is saved.)";
    return;
  }
  const result = await api("POST", "/api/trainer/train", {});
  if (!result.ok) { $("job").hidden = false; $("job-stage").textContent = result.data.message; return; }
  pollJob(result.data.job.id);
});

$("load-model").addEventListener("click", async () => {
  if (!state.job) return;
  $("load-model").disabled = true;
  $("load-result").className = "pending";
  $("load-result").textContent = "… جارٍ تحميل النموذج في الخادم (loading, about a minute)";
  const result = await api("POST", `/api/trainer/jobs/${encodeURIComponent(state.job.id)}/load`, { accept_worse: $("accept-worse").checked });
  $("load-result").textContent = result.ok ? `✓ حُمّل النموذج في الخادم: ${result.data.model} (Loaded; undo from History.)` : result.data.message;
  $("load-result").className = result.ok ? "ok" : "error";
  if (result.ok) pollJob(state.job.id); else $("load-model").disabled = false;
});

// ------------------------------------------------------------------ history
const UNDOABLE = new Set(["add_example", "dismiss", "load_model"]);

async function loadHistory() {
  const result = await api("GET", "/api/trainer/history");
  const table = $("history-table");
  table.replaceChildren(row(["متى · when", "من · who", "ماذا · what", "الملف · file", "المثال · example", ""], true));
  if (!result.ok) return;
  for (const entry of result.data.entries) {
    const when = new Date(entry.when * 1000).toLocaleString();
    const example = el("td", entry.example || entry.item_id || entry.after || entry.job || "");
    example.dir = "auto";
    const tr = row([when, entry.who, entry.action + (entry.undoes ? " " + entry.undoes : ""), entry.file || ""]);
    tr.append(example);
    const actions = el("td");
    if (entry.undone_by) actions.textContent = "تم التراجع · undone";
    else if (UNDOABLE.has(entry.action)) actions.append(undoButton(entry.id, loadHistory));
    tr.append(actions);
    table.append(tr);
  }
}

start();
