/*
 * Noor web chat widget. Embed with ONE tag:
 *   <script src="https://bot.example.org/webhooks/webchat/static/widget.js"
 *           data-server="https://bot.example.org" defer></script>
 * Optional: data-lang="en" (default "ar", right to left), data-open="true",
 * data-title="...".
 *
 * Security: every text from the network is shown with textContent, never innerHTML;
 * the server issues the session (a signed token kept in localStorage), the page
 * never chooses whose conversation it is.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__noorWidget) return;
  window.__noorWidget = true;

  var server = (script.getAttribute("data-server") || new URL(script.src).origin).replace(/\/+$/, "");
  var lang = script.getAttribute("data-lang") === "en" ? "en" : "ar";
  var STRINGS = {
    ar: {
      title: "نور للخدمات", subtitle: "المساعد الذكي", open: "افتح المحادثة", close: "أغلق المحادثة",
      placeholder: "اكتب رسالتك هنا…", send: "إرسال", log: "رسائل المحادثة",
      connecting: "جارٍ الاتصال…", online: "متصل", offline: "غير متصل، نعيد المحاولة…",
      typingBot: "المساعد يكتب…", typingAgent: "الموظف يكتب…",
      queued: "تم تحويلك إلى أحد زملائنا، سيكون معك قريباً.",
      position: function (n) { return "ترتيبك في الانتظار: " + n; },
      withAgent: function (n) { return n ? "أنت الآن تتحدث مع " + n : "أنت الآن تتحدث مع أحد زملائنا"; },
      bot: "عدت إلى المساعد الآلي.", resolved: "أُغلق طلبك لدى الموظف.",
      rate: "قيّم الخدمة", star: function (n) { return "تقييم " + n + " من 5"; },
      chars: function (n, m) { return n + " / " + m; }, you: "أنت", assistant: "المساعد", quick: "ردود سريعة"
    },
    en: {
      title: "Noor Services", subtitle: "Assistant", open: "Open chat", close: "Close chat",
      placeholder: "Type your message…", send: "Send", log: "Conversation",
      connecting: "Connecting…", online: "Online", offline: "Offline, retrying…",
      typingBot: "Assistant is typing…", typingAgent: "Agent is typing…",
      queued: "You were transferred to a colleague, who will be with you shortly.",
      position: function (n) { return "Your place in the queue: " + n; },
      withAgent: function (n) { return n ? "You are now talking to " + n : "You are now talking to a colleague"; },
      bot: "Back with the assistant.", resolved: "Your request was closed by the agent.",
      rate: "Rate the service", star: function (n) { return "Rating " + n + " of 5"; },
      chars: function (n, m) { return n + " / " + m; }, you: "You", assistant: "Assistant", quick: "Quick replies"
    }
  };
  var t = STRINGS[lang];
  var TOKEN_KEY = "noor-webchat-token:" + server;

  var link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = server + "/webhooks/webchat/static/widget.css";
  document.head.appendChild(link);

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;  // never innerHTML
    return node;
  }

  function chatIcon() {
    // a speech bubble drawn in SVG: emoji fonts are missing on many systems
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "28");
    svg.setAttribute("height", "28");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("fill", "currentColor");
    path.setAttribute("d", "M12 3C6.5 3 2 6.6 2 11c0 2.4 1.3 4.6 3.4 6.1L4.5 21l4.3-2.4c1 .3 2.1.4 3.2.4 5.5 0 10-3.6 10-8s-4.5-8-10-8zm-4 9a1.3 1.3 0 110-2.6A1.3 1.3 0 018 12zm4 0a1.3 1.3 0 110-2.6 1.3 1.3 0 010 2.6zm4 0a1.3 1.3 0 110-2.6 1.3 1.3 0 010 2.6z");
    svg.appendChild(path);
    return svg;
  }

  // ---- layout ---------------------------------------------------------------
  var root = el("div", "noor-chat");
  root.setAttribute("dir", lang === "ar" ? "rtl" : "ltr");
  root.setAttribute("lang", lang);

  var launcher = el("button", "noor-launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-label", t.open);
  launcher.setAttribute("aria-expanded", "false");
  launcher.appendChild(chatIcon());

  var panel = el("section", "noor-panel");
  panel.id = "noor-chat-panel";
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", t.title + " – " + t.subtitle);
  panel.hidden = true;
  launcher.setAttribute("aria-controls", panel.id);

  var header = el("header", "noor-header");
  var titles = el("div", "noor-titles");
  titles.appendChild(el("h2", "noor-title", t.title));
  var status = el("p", "noor-status", t.connecting);
  status.setAttribute("role", "status");
  status.setAttribute("data-state", "connecting");
  titles.appendChild(status);
  var closeBtn = el("button", "noor-close", "×");
  closeBtn.type = "button";
  closeBtn.setAttribute("aria-label", t.close);
  header.appendChild(titles);
  header.appendChild(closeBtn);

  var banner = el("p", "noor-handoff");
  banner.setAttribute("role", "status");
  banner.hidden = true;

  var log = el("ol", "noor-log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  log.setAttribute("aria-label", t.log);
  log.tabIndex = 0;

  var typing = el("p", "noor-typing");
  typing.setAttribute("aria-live", "polite");
  typing.hidden = true;

  var quick = el("div", "noor-quick");
  quick.setAttribute("role", "group");
  quick.setAttribute("aria-label", t.quick);

  var errorLine = el("p", "noor-error");
  errorLine.setAttribute("role", "alert");
  errorLine.hidden = true;

  var form = el("form", "noor-form");
  var input = el("textarea", "noor-input");
  input.rows = 1;
  input.setAttribute("dir", "auto");
  input.setAttribute("aria-label", t.placeholder);
  input.placeholder = t.placeholder;
  var counter = el("span", "noor-counter");
  counter.setAttribute("aria-hidden", "true");
  var sendBtn = el("button", "noor-send", t.send);
  sendBtn.type = "submit";
  form.appendChild(input);
  form.appendChild(counter);
  form.appendChild(sendBtn);

  [header, banner, log, typing, quick, errorLine, form].forEach(function (n) { panel.appendChild(n); });
  root.appendChild(panel);
  root.appendChild(launcher);

  // ---- rendering --------------------------------------------------------------
  var seen = {};
  var maxChars = 2000;

  function isRating(buttons) {
    return buttons && buttons.length === 5 && buttons.every(function (b) { return /"rating"\s*:\s*[1-5]/.test(b.payload || ""); });
  }

  function ratingOf(button) {
    var m = /"rating"\s*:\s*([1-5])/.exec(button.payload || "");
    return m ? Number(m[1]) : 0;
  }

  function renderButtons(buttons) {
    quick.textContent = "";
    if (buttons && buttons.length) fillButtons(buttons);
    log.scrollTop = log.scrollHeight;  // the buttons took room from the log
  }

  function fillButtons(buttons) {
    if (isRating(buttons)) {
      var group = el("div", "noor-rating");
      group.setAttribute("role", "group");
      group.setAttribute("aria-label", t.rate);
      group.appendChild(el("span", "noor-rating-label", t.rate));
      buttons.slice().sort(function (a, b) { return ratingOf(a) - ratingOf(b); }).forEach(function (b) {
        var n = ratingOf(b);
        var star = el("button", "noor-star", "★");
        star.type = "button";
        star.setAttribute("aria-label", t.star(n));
        star.setAttribute("data-rating", String(n));
        star.addEventListener("click", function () { send(String(n), b.payload); });
        star.addEventListener("mouseenter", function () { highlight(group, n); });
        star.addEventListener("focus", function () { highlight(group, n); });
        group.appendChild(star);
      });
      quick.appendChild(group);
      return;
    }
    buttons.forEach(function (b) {
      var btn = el("button", "noor-reply", b.title);
      btn.type = "button";
      btn.setAttribute("dir", "auto");
      btn.addEventListener("click", function () { send(b.title, b.payload); });
      quick.appendChild(btn);
    });
  }

  function highlight(group, n) {
    Array.prototype.forEach.call(group.querySelectorAll(".noor-star"), function (s) {
      s.classList.toggle("noor-star-on", Number(s.getAttribute("data-rating")) <= n);
    });
  }

  function stateText(frame) {
    if (frame.state === "queued") return frame.position ? t.queued + " " + t.position(frame.position) : t.queued;
    if (frame.state === "with_agent") return t.withAgent(frame.agent_name);
    if (frame.state === "bot") return t.bot;
    if (frame.state === "resolved") return t.resolved;
    return "";
  }

  function showState(frame, live) {
    var text = stateText(frame);
    banner.hidden = !(frame.state === "queued" || frame.state === "with_agent");
    banner.textContent = banner.hidden ? "" : text;
    if (text) addItem({ id: frame.id, role: "system", text: text }, live);
  }

  function addItem(item, live) {
    if (item.id) {
      if (seen[item.id]) return;
      seen[item.id] = true;
    }
    var li = el("li", "noor-item noor-" + item.role);
    if (item.role === "agent" && item.agent_name) li.appendChild(el("span", "noor-name", item.agent_name));
    var bubble = el("div", "noor-bubble", item.text || "");
    bubble.setAttribute("dir", "auto");
    if (item.image && /^https?:\/\//.test(item.image)) {
      var img = el("img", "noor-image");
      img.src = item.image;
      img.alt = "";
      bubble.appendChild(img);
    }
    li.appendChild(bubble);
    log.appendChild(li);
    log.scrollTop = log.scrollHeight;
    if (live && item.role !== "customer") renderButtons(item.buttons);
  }

  function render(frame, live) {
    if (frame.type === "state") showState(frame, live);
    else addItem(frame, live);
  }

  function setStatus(state) {
    status.setAttribute("data-state", state);
    status.textContent = t[state];
  }

  function showError(message) {
    errorLine.textContent = message || "";
    errorLine.hidden = !message;
  }

  // ---- connection -------------------------------------------------------------
  var ws = null;
  var retry = 0;
  var pending = {};

  function connect() {
    setStatus("connecting");
    ws = new WebSocket(server.replace(/^http/, "ws") + "/webhooks/webchat/socket");
    ws.onopen = function () {
      var token = null;
      try { token = window.localStorage.getItem(TOKEN_KEY); } catch (e) { /* private mode */ }
      ws.send(JSON.stringify({ type: "hello", token: token }));
    };
    ws.onmessage = function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      if (frame.type === "session") {
        retry = 0;
        setStatus("online");
        try { window.localStorage.setItem(TOKEN_KEY, frame.token); } catch (e) { /* private mode */ }
        maxChars = frame.max_chars || maxChars;
        log.textContent = "";
        seen = {};
        var history = frame.history || [];
        history.forEach(function (item) { render(item, false); });
        var last = history[history.length - 1];
        if (last && last.role === "bot") renderButtons(last.buttons);
        if (frame.state) showState(frame.state, false);
        updateCounter();
      } else if (frame.type === "message") {
        if (frame.role === "customer" && frame.client_id && pending[frame.client_id]) {
          delete pending[frame.client_id];
          input.value = "";
          updateCounter();
        }
        render(frame, true);
      } else if (frame.type === "state") {
        render(frame, true);
      } else if (frame.type === "typing") {
        typing.hidden = !frame.on;
        typing.textContent = frame.on ? (frame.role === "agent" ? t.typingAgent : t.typingBot) : "";
        if (frame.role === "agent" && frame.on) setTimeout(function () { typing.hidden = true; }, 4000);
      } else if (frame.type === "error") {
        showError(frame.message);
      }
    };
    ws.onclose = function () {
      setStatus("offline");
      typing.hidden = true;
      retry = Math.min(retry + 1, 6);
      setTimeout(connect, Math.min(30000, 500 * Math.pow(2, retry)));
    };
  }

  var clientSeq = 0;
  function send(text, payload) {
    text = (text || "").trim();
    if (!text || !ws || ws.readyState !== WebSocket.OPEN) return false;
    if (text.length > maxChars) {
      showError(lang === "ar" ? "الرسالة طويلة جداً؛ الحد الأقصى " + maxChars + " حرف." : "Message too long; the limit is " + maxChars + " characters.");
      return false;
    }
    showError("");
    var clientId = "c" + Date.now().toString(36) + (clientSeq++);
    if (!payload) pending[clientId] = true;
    var frame = { type: "message", text: text, client_id: clientId };
    if (payload) frame.payload = payload;
    ws.send(JSON.stringify(frame));
    quick.textContent = "";
    return true;
  }

  function updateCounter() {
    var n = input.value.length;
    counter.textContent = n > maxChars * 0.8 ? t.chars(n, maxChars) : "";
    counter.classList.toggle("noor-over", n > maxChars);
  }

  // ---- interaction --------------------------------------------------------------
  function setOpen(open) {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    launcher.setAttribute("aria-label", open ? t.close : t.open);
    root.classList.toggle("noor-open", open);
    if (open) input.focus(); else launcher.focus();
  }

  launcher.addEventListener("click", function () { setOpen(panel.hidden); });
  closeBtn.addEventListener("click", function () { setOpen(false); });
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") setOpen(false); });
  form.addEventListener("submit", function (e) { e.preventDefault(); send(input.value); });
  var lastTyping = 0;
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(input.value); }
  });
  input.addEventListener("input", function () {
    updateCounter();
    var now = Date.now();
    if (ws && ws.readyState === WebSocket.OPEN && now - lastTyping > 3000) {
      lastTyping = now;
      ws.send(JSON.stringify({ type: "typing" }));
    }
  });

  function mount() {
    document.body.appendChild(root);
    connect();
    if (script.getAttribute("data-open") === "true") setOpen(true);
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
