/*
 * Hearthlink website chat widget. Embed with one tag:
 *
 *   <script src="https://BOT-SERVER/webhooks/socketio/widget.js" data-title="Support" defer></script>
 *
 * Options (data-* attributes on that tag):
 *   data-title        header of the chat panel                       (default "Support")
 *   data-server       origin of the Rasa server, if widget.js is hosted elsewhere
 *   data-socket-path  Socket.IO path on that server                   (default "/socket.io")
 *   data-color        accent colour, any CSS colour                   (default #0b6e4f)
 *   data-position     "right" or "left"                               (default "right")
 *   data-open         "true" to open the panel on a visitor's first page view
 *
 * Plain ES5-compatible JavaScript, no build step, no dependencies besides the Socket.IO
 * client, which it loads from the same server. Everything is rendered inside an open
 * Shadow DOM so the page's CSS cannot restyle the chat (and the chat cannot restyle the page).
 * Message text is only ever set with textContent: nothing a customer, agent or bot writes is
 * parsed as HTML.
 *
 * Host page API: window.SupportChat.open(), .close(), .toggle(), .send(text), .sessionId(), .reset().
 * Every bot message is also dispatched on window as a "supportchat:message" CustomEvent; custom
 * JSON the widget does not display (anything besides text, buttons, images, links and the
 * handoff state) is only delivered that way, for the page to act on.
 */
(function () {
  "use strict";

  if (window.SupportChat && window.SupportChat.version) return; // the tag was included twice

  var VERSION = "1";
  var MAX_HISTORY = 200; // messages kept in localStorage and re-rendered after a reload
  var TYPING_TIMEOUT_MS = 15000; // stop the dots if nobody answers
  var BACK_NOTICE_MS = 5000; // "You're back with the assistant" shows this long

  var script = document.currentScript || (function () {
    var tags = document.querySelectorAll("script[src*='widget.js']");
    return tags.length ? tags[tags.length - 1] : null;
  })();
  var options = (script && script.dataset) || {};
  var scriptUrl = script && script.src ? new URL(script.src, window.location.href) : null;
  var server = String(options.server || (scriptUrl ? scriptUrl.origin : window.location.origin)).replace(/\/+$/, "");
  // Socket.IO's browser client lives next to widget.js on the Rasa server.
  var assetBase = options.server || !scriptUrl ? server + "/webhooks/socketio/" : new URL(".", scriptUrl).href;
  var socketPath = options.socketPath || "/socket.io";
  // Every text a visitor reads comes from business.yml (webchat.labels), filled in by the
  // server when it serves this file (bot/channels/widget_labels.py).
  var LABELS = /*LABELS*/{}/*END LABELS*/;
  function label(key, fields) {
    var text = Object.prototype.hasOwnProperty.call(LABELS, key) ? String(LABELS[key]) : key;
    return text.replace(/\{(\w+)\}/g, function (whole, name) {
      return fields && Object.prototype.hasOwnProperty.call(fields, name) ? String(fields[name]) : whole;
    });
  }
  var title = options.title || label("title");
  function attr(text) { // a label placed inside the panel's HTML attributes or text
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }
  var storagePrefix = "supportchat:v1:" + server + ":";

  // ---- storage (namespaced; private browsing or a full quota must not break the chat) ----

  function load(key, fallback) {
    try {
      var raw = window.localStorage.getItem(storagePrefix + key);
      return raw === null ? fallback : JSON.parse(raw);
    } catch (e) {
      return fallback;
    }
  }

  function save(key, value) {
    try {
      window.localStorage.setItem(storagePrefix + key, JSON.stringify(value));
      return true;
    } catch (e) {
      return false;
    }
  }

  function forget(key) {
    try {
      window.localStorage.removeItem(storagePrefix + key);
    } catch (e) { /* nothing stored, nothing to forget */ }
  }

  var state = {
    sessionId: load("session", null),
    history: load("history", []),
    open: load("open", options.open === "true"),
    handoff: load("handoff", { state: "bot", agent: null }),
    socket: null,
    loading: false,
    confirmed: false,
    pending: [],
    unread: 0,
    typingTimer: null,
    bannerTimer: null
  };
  if (!Array.isArray(state.history)) state.history = [];
  if (!state.handoff || typeof state.handoff !== "object") state.handoff = { state: "bot", agent: null };

  // The session id (= the conversation) is issued and signed by the server (session_confirm);
  // the widget only keeps it, so a reload asks to resume it. An id the server did not sign is
  // replaced by a new one there (bot/channels/webchat_sessions.py).
  function sessionId() {
    return typeof state.sessionId === "string" && state.sessionId ? state.sessionId : null;
  }

  // ---- DOM ----

  var CSS = [
    ".root { all: initial; font: 15px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif;",
    "  color: #1f2328; --accent: #0b6e4f; --accent-ink: #fff; }",
    ".root *, .root *::before, .root *::after { box-sizing: border-box; }",
    "[hidden] { display: none !important; }",
    ".launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; width: 56px; height: 56px;",
    "  padding: 0; border: 0; border-radius: 50%; background: var(--accent); color: var(--accent-ink);",
    "  box-shadow: 0 6px 20px rgba(0,0,0,.25); cursor: pointer; display: flex; align-items: center; justify-content: center; }",
    ".launcher svg { width: 26px; height: 26px; fill: currentColor; }",
    ".badge { position: absolute; top: -2px; right: -2px; min-width: 20px; height: 20px; padding: 0 6px; border-radius: 10px;",
    "  background: #d1242f; color: #fff; font-size: 12px; font-weight: 700; line-height: 20px; text-align: center; }",
    ".panel { position: fixed; right: 20px; bottom: 88px; z-index: 2147483000; width: 370px; max-width: calc(100vw - 40px);",
    "  height: 600px; max-height: calc(100vh - 110px); display: flex; flex-direction: column; overflow: hidden;",
    "  background: #fff; border-radius: 14px; box-shadow: 0 12px 40px rgba(0,0,0,.22); }",
    ".left .launcher, .left .panel { right: auto; left: 20px; }",
    "header { display: flex; align-items: center; gap: 8px; padding: 12px 10px 12px 16px; background: var(--accent); color: var(--accent-ink); }",
    ".titles { min-width: 0; }",
    ".title { margin: 0; font-size: 16px; font-weight: 600; line-height: 1.3; }",
    ".status { margin: 0; font-size: 12px; opacity: .85; }",
    ".close { margin-left: auto; width: 36px; height: 36px; padding: 0; border: 0; border-radius: 8px; background: transparent;",
    "  color: inherit; font: inherit; font-size: 24px; line-height: 1; cursor: pointer; }",
    ".close:hover { background: rgba(255,255,255,.15); }",
    ".handoff-banner { padding: 8px 16px; font-size: 13px; background: #fff4d6; color: #5c4400; border-bottom: 1px solid #f0e0b0; }",
    ".handoff-banner.agent { background: #e6f4ff; color: #0a3d62; border-color: #c6e2f7; }",
    ".handoff-banner.bot { background: #eaf6ef; color: #17492f; border-color: #cce8d6; }",
    ".scroll { flex: 1; overflow-y: auto; padding: 12px; background: #f7f8fa; overscroll-behavior: contain; }",
    ".messages { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 8px; }",
    ".msg { display: flex; flex-direction: column; align-items: flex-start; max-width: 85%; }",
    ".msg-user { align-self: flex-end; align-items: flex-end; }",
    ".bubble { padding: 8px 12px; border-radius: 14px; background: #fff; border: 1px solid #e3e6ea;",
    "  white-space: pre-wrap; overflow-wrap: anywhere; }",
    ".msg-user .bubble { background: var(--accent); color: var(--accent-ink); border-color: transparent; }",
    ".msg-agent .bubble { background: #e6f4ff; border-color: #c6e2f7; }",
    ".who { margin: 0 4px 2px; font-size: 12px; color: #57606a; }",
    ".msg img { display: block; max-width: 100%; margin-top: 4px; border-radius: 10px; }",
    ".msg a { color: var(--accent); }",
    ".chips { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 6px; }",
    ".chip { padding: 6px 12px; border: 1px solid var(--accent); border-radius: 16px; background: #fff; color: var(--accent);",
    "  font: inherit; font-size: 14px; cursor: pointer; }",
    ".chip:hover { background: var(--accent); color: var(--accent-ink); }",
    ".typing { display: inline-flex; gap: 4px; margin-top: 8px; padding: 11px 12px; background: #fff;",
    "  border: 1px solid #e3e6ea; border-radius: 14px; }",
    ".typing span { width: 7px; height: 7px; border-radius: 50%; background: #8c959f; animation: dot 1.2s infinite ease-in-out; }",
    ".typing span:nth-child(2) { animation-delay: .2s; }",
    ".typing span:nth-child(3) { animation-delay: .4s; }",
    "@keyframes dot { 0%, 80%, 100% { opacity: .3; transform: translateY(0); } 40% { opacity: 1; transform: translateY(-3px); } }",
    ".composer { display: flex; gap: 8px; padding: 10px; border-top: 1px solid #e3e6ea; background: #fff; }",
    ".composer input { flex: 1; min-width: 0; padding: 9px 14px; border: 1px solid #d0d7de; border-radius: 20px; outline: none;",
    "  background: #fff; color: #1f2328; font: inherit; font-size: 16px; }",
    ".composer input:focus { border-color: var(--accent); box-shadow: 0 0 0 2px var(--accent); }",
    ".send { padding: 0 16px; border: 0; border-radius: 20px; background: var(--accent); color: var(--accent-ink);",
    "  font: inherit; font-weight: 600; cursor: pointer; }",
    "button:focus-visible { outline: 3px solid #ffb000; outline-offset: 2px; }",
    ".empty { margin: 24px 8px; color: #57606a; font-size: 14px; text-align: center; }",
    ".sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }",
    "@media (max-width: 480px) {",
    "  .panel, .left .panel { inset: 0; width: auto; max-width: none; height: auto; max-height: none; border-radius: 0; }",
    "  .root.open .launcher { display: none; }",
    "}",
    "@media (prefers-reduced-motion: reduce) { .typing span { animation: none; opacity: .7; } }"
  ].join("\n");

  // Static markup only; every piece of text that varies is set with textContent below.
  var MARKUP =
    '<div class="root">' +
    '<button class="launcher" type="button" data-testid="launcher" aria-expanded="false" aria-controls="supportchat-panel">' +
    '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z"/></svg>' +
    '<span class="badge" data-testid="unread" hidden></span>' +
    "</button>" +
    '<section class="panel" id="supportchat-panel" role="dialog" hidden>' +
    '<header><div class="titles"><h2 class="title"></h2><p class="status" role="status"></p></div>' +
    '<button class="close" type="button" data-testid="close" aria-label="' + attr(label("close")) + '">\u00d7</button></header>' +
    '<div class="handoff-banner" data-testid="handoff-banner" role="status" aria-live="polite" hidden></div>' +
    '<div class="scroll">' +
    '<p class="empty" hidden></p>' +
    '<ol class="messages" data-testid="messages" role="log" aria-live="polite" aria-relevant="additions"></ol>' +
    '<div class="typing" data-testid="typing" hidden><span></span><span></span><span></span><span class="sr-only"></span></div>' +
    "</div>" +
    '<form class="composer" novalidate>' +
    '<input type="text" data-testid="input" aria-label="' + attr(label("input")) + '" placeholder="' + attr(label("placeholder")) + '" autocomplete="off" maxlength="2000">' +
    '<button class="send" type="submit" data-testid="send" aria-label="' + attr(label("send_label")) + '">' + attr(label("send")) + '</button>' +
    "</form>" +
    "</section>" +
    "</div>";

  var host = document.createElement("div");
  host.setAttribute("data-supportchat", VERSION);
  // Page rules such as `div { ... }` match the host element; inline !important wins over them.
  host.style.cssText = "all: initial !important; display: block !important; position: static !important;";
  var shadow = host.attachShadow({ mode: "open" }); // open: tests (and page scripts) can inspect it
  var style = document.createElement("style");
  style.textContent = CSS;
  shadow.appendChild(style);
  var template = document.createElement("template");
  template.innerHTML = MARKUP;
  shadow.appendChild(template.content.cloneNode(true));

  function q(selector) { return shadow.querySelector(selector); }
  var ui = {
    root: q(".root"),
    launcher: q(".launcher"),
    badge: q(".badge"),
    panel: q(".panel"),
    title: q(".title"),
    status: q(".status"),
    close: q(".close"),
    banner: q(".handoff-banner"),
    scroll: q(".scroll"),
    list: q(".messages"),
    empty: q(".empty"),
    typing: q(".typing"),
    form: q(".composer"),
    input: q(".composer input")
  };
  ui.title.textContent = title;
  ui.empty.textContent = label("empty");
  ui.root.querySelector(".typing .sr-only").textContent = label("typing");
  ui.panel.setAttribute("aria-label", title);
  ui.list.setAttribute("aria-label", label("conversation_with", { title: title }));
  if (options.position === "left") ui.root.classList.add("left");
  if (options.color && window.CSS && window.CSS.supports && window.CSS.supports("color", options.color)) {
    ui.root.style.setProperty("--accent", options.color);
  }

  function el(tag, className) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    return node;
  }

  function safeUrl(value) {
    try {
      var url = new URL(String(value), window.location.href);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function scrollToEnd() {
    ui.scroll.scrollTop = ui.scroll.scrollHeight;
  }

  function setStatus(text) {
    ui.status.textContent = text;
    ui.status.hidden = !text;
  }

  // ---- messages ----

  function renderMessage(message) {
    var item = el("li", "msg msg-" + message.from);
    item.setAttribute("data-testid", "message");
    item.setAttribute("data-from", message.from);
    item.setAttribute("data-id", message.id);
    if (message.from === "agent") {
      var who = el("span", "who");
      who.textContent = label("agent_byline", { agent: message.agent || label("title") });
      item.appendChild(who);
    }
    if (message.text) {
      var bubble = el("div", "bubble");
      bubble.textContent = message.text;
      item.appendChild(bubble);
    }
    if (message.image && safeUrl(message.image)) {
      var image = el("img");
      image.src = safeUrl(message.image);
      image.alt = message.text ? "" : label("image_from", { who: message.agent || label("the_assistant") });
      image.loading = "lazy";
      item.appendChild(image);
    }
    if (message.link && safeUrl(message.link)) {
      var link = el("a");
      link.href = safeUrl(message.link);
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      link.textContent = message.linkTitle || label("open_attachment");
      item.appendChild(link);
    }
    if (message.buttons && message.buttons.length && !message.used) {
      var chips = el("div", "chips");
      chips.setAttribute("role", "group");
      chips.setAttribute("aria-label", label("suggested_replies"));
      message.buttons.forEach(function (button) {
        var chip = el("button", "chip");
        chip.type = "button";
        chip.setAttribute("data-testid", "quick-reply");
        chip.textContent = button.title;
        chip.addEventListener("click", function () { chooseReply(button); });
        chips.appendChild(chip);
      });
      item.appendChild(chips);
    }
    ui.list.appendChild(item);
  }

  function renderHistory() {
    ui.list.textContent = "";
    state.history.forEach(renderMessage);
    ui.empty.hidden = state.history.length > 0;
    scrollToEnd();
  }

  function persistHistory() {
    if (state.history.length > MAX_HISTORY) state.history = state.history.slice(-MAX_HISTORY);
    if (!save("history", state.history)) {
      state.history = state.history.slice(-Math.floor(MAX_HISTORY / 4)); // quota: keep the recent part
      save("history", state.history);
    }
  }

  function addMessage(message) {
    message.id = message.id || Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
    message.ts = message.ts || Date.now();
    state.history.push(message);
    var trimmed = state.history.length > MAX_HISTORY;
    persistHistory();
    ui.empty.hidden = true;
    if (trimmed) renderHistory();
    else renderMessage(message);
    // Keep the typing dots below the newest message.
    scrollToEnd();
  }

  function retireQuickReplies() {
    var changed = false;
    state.history.forEach(function (message) {
      if (message.buttons && message.buttons.length && !message.used) {
        message.used = true;
        changed = true;
      }
    });
    if (!changed) return;
    var chips = ui.list.querySelectorAll(".chips");
    for (var i = 0; i < chips.length; i++) chips[i].parentNode.removeChild(chips[i]);
    persistHistory();
  }

  function chooseReply(button) {
    if (button.url) {
      var url = safeUrl(button.url);
      if (url) window.open(url, "_blank", "noopener");
      return;
    }
    sendMessage(button.payload, button.title);
  }

  function normaliseButtons(buttons) {
    if (!Array.isArray(buttons)) return [];
    return buttons.filter(function (b) { return b && typeof b === "object" && (b.title || b.payload); })
      .map(function (b) {
        var button = { title: String(b.title || b.payload), payload: String(b.payload || b.title) };
        if (b.url) button.url = String(b.url);
        return button;
      });
  }

  // ---- typing indicator and handoff banner ----

  function showTyping() {
    // While waiting for a person nobody answers until they join: dots would be a false promise.
    if (state.handoff.state === "waiting") return;
    ui.typing.hidden = false;
    scrollToEnd();
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(hideTyping, TYPING_TIMEOUT_MS);
  }

  function hideTyping() {
    clearTimeout(state.typingTimer);
    ui.typing.hidden = true;
  }

  function renderBanner(justBack) {
    clearTimeout(state.bannerTimer);
    var handoff = state.handoff;
    ui.banner.className = "handoff-banner " + handoff.state;
    if (handoff.state === "waiting") {
      ui.banner.textContent = label("waiting_for_person");
    } else if (handoff.state === "agent") {
      ui.banner.textContent = label("agent_joined", { agent: handoff.agent || label("a_person") });
    } else if (justBack) {
      ui.banner.textContent = label("back_with_assistant");
      state.bannerTimer = setTimeout(function () { ui.banner.hidden = true; }, BACK_NOTICE_MS);
    } else {
      ui.banner.textContent = "";
      ui.banner.hidden = true;
      return;
    }
    ui.banner.hidden = false;
  }

  function setHandoff(handoff) {
    var next = handoff && handoff.state;
    if (next !== "waiting" && next !== "agent" && next !== "bot") return;
    var previous = state.handoff.state;
    state.handoff = { state: next, agent: next === "agent" ? String(handoff.agent || "") || null : null };
    save("handoff", state.handoff);
    if (next === "waiting") hideTyping();
    renderBanner(next === "bot" && previous !== "bot");
  }

  // ---- what arrives from the server ----

  function fromServer(message) {
    if (!message || typeof message !== "object") return;
    try {
      window.dispatchEvent(new CustomEvent("supportchat:message", { detail: message }));
    } catch (e) { /* very old browsers: no CustomEvent constructor */ }
    if (message.handoff && typeof message.handoff === "object") {
      setHandoff(message.handoff); // state for the banner; never shown as a message
      return;
    }
    var record = { from: "bot" };
    if (message.sender === "agent") {
      record.from = "agent";
      record.agent = message.agent || state.handoff.agent || null;
    } else if (!message.sender && state.handoff.state === "agent") {
      record.from = "agent"; // a server without sender tags: the person has the chat
      record.agent = state.handoff.agent;
    }
    if (typeof message.text === "string" && message.text) record.text = message.text;
    var buttons = normaliseButtons(message.quick_replies || message.buttons);
    var attachment = message.attachment && typeof message.attachment === "object" ? message.attachment : null;
    var payload = (attachment && attachment.payload) || {};
    if (message.image) record.image = String(message.image);
    else if (attachment && attachment.type === "image" && payload.src) record.image = String(payload.src);
    else if (attachment && attachment.type === "template" && payload.elements) {
      var element = Array.isArray(payload.elements) ? payload.elements[0] : payload.elements;
      if (element && typeof element === "object") {
        record.text = [element.title, element.subtitle].filter(Boolean).join("\n") || record.text;
        if (element.image_url) record.image = String(element.image_url);
        buttons = buttons.concat(normaliseButtons(element.buttons));
      }
    } else if (attachment && (payload.src || payload.url)) {
      record.link = String(payload.src || payload.url);
      record.linkTitle = payload.title ? String(payload.title) : null;
    }
    if (buttons.length) record.buttons = buttons;
    if (!record.text && !record.image && !record.link && !buttons.length) return; // other custom JSON
    hideTyping();
    addMessage(record);
    if (!state.open) {
      state.unread += 1;
      ui.badge.textContent = String(state.unread);
      ui.badge.hidden = false;
    }
  }

  // ---- connection ----

  function loadSocketIo(done) {
    if (typeof window.io === "function") return done(window.io);
    var tag = document.createElement("script");
    tag.src = assetBase + "socket.io.min.js";
    tag.async = true;
    tag.onload = function () { done(typeof window.io === "function" ? window.io : null); };
    tag.onerror = function () { done(null); };
    (document.head || document.documentElement).appendChild(tag);
  }

  function flush() {
    while (state.pending.length && state.confirmed && state.socket && state.socket.connected) {
      state.socket.emit("user_uttered", { message: state.pending.shift(), session_id: sessionId() });
    }
  }

  function connect() {
    if (state.socket || state.loading) return;
    state.loading = true;
    setStatus(label("connecting"));
    loadSocketIo(function (io) {
      state.loading = false;
      if (!io) {
        setStatus(label("unavailable"));
        hideTyping();
        return;
      }
      // WebSocket first; tryAllTransports falls back to long-polling where WebSocket is refused
      // (the bot server does that on Rasa 3.6 + Python 3.11, see websocket_works() in webchat.py)
      // or blocked by a proxy.
      var socket = io(server, { path: socketPath, transports: ["websocket", "polling"], tryAllTransports: true });
      state.socket = socket;
      socket.on("connect", function () {
        state.confirmed = false;
        // On every (re)connect: join the conversation's room again, or pushed messages are lost.
        socket.emit("session_request", { session_id: sessionId() });
      });
      socket.on("session_confirm", function (confirmed) {
        var id = confirmed && typeof confirmed === "object" ? confirmed.session_id : confirmed;
        if (id && typeof id === "string" && id !== state.sessionId) {
          // A new conversation (first visit, or a kept id the server no longer accepts): no
          // person is on it, whatever the banner said for the old one.
          if (state.sessionId && state.handoff.state !== "bot") {
            state.handoff = { state: "bot", agent: null };
            save("handoff", state.handoff);
            renderBanner(false);
          }
          state.sessionId = id;
          save("session", id);
        }
        state.confirmed = true;
        setStatus("");
        flush();
      });
      socket.on("bot_uttered", fromServer);
      socket.on("disconnect", function () {
        state.confirmed = false;
        setStatus(label("reconnecting"));
      });
      socket.on("connect_error", function () { setStatus(label("reconnecting")); });
    });
  }

  function sendMessage(payload, shown) {
    payload = String(payload == null ? "" : payload).trim();
    shown = String(shown == null ? payload : shown).trim();
    if (!payload) return false;
    retireQuickReplies();
    addMessage({ from: "user", text: shown || payload });
    state.pending.push(payload);
    connect();
    flush();
    showTyping();
    return true;
  }

  // ---- open / close ----

  function open() {
    state.open = true;
    save("open", true);
    ui.root.classList.add("open");
    ui.panel.hidden = false;
    ui.launcher.setAttribute("aria-expanded", "true");
    ui.launcher.setAttribute("aria-label", label("close_chat", { title: title }));
    state.unread = 0;
    ui.badge.hidden = true;
    connect();
    scrollToEnd();
    setTimeout(function () { ui.input.focus(); }, 0);
  }

  function close() {
    var hadFocus = shadow.activeElement && ui.panel.contains(shadow.activeElement);
    state.open = false;
    save("open", false);
    ui.root.classList.remove("open");
    ui.panel.hidden = true;
    ui.launcher.setAttribute("aria-expanded", "false");
    ui.launcher.setAttribute("aria-label", label("open_chat", { title: title }));
    if (hadFocus) ui.launcher.focus();
  }

  function reset() {
    if (state.socket) state.socket.disconnect();
    state.socket = null;
    state.confirmed = false;
    state.pending = [];
    ["session", "history", "handoff"].forEach(forget);
    state.sessionId = null;
    state.history = [];
    state.handoff = { state: "bot", agent: null };
    hideTyping();
    renderBanner(false);
    renderHistory();
    if (state.open) connect();
  }

  ui.launcher.addEventListener("click", function () { if (state.open) close(); else open(); });
  ui.close.addEventListener("click", close);
  ui.panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") close();
  });
  ui.form.addEventListener("submit", function (event) {
    event.preventDefault(); // Enter in the input submits the form
    if (sendMessage(ui.input.value)) ui.input.value = "";
    ui.input.focus();
  });

  // ---- start ----

  function start() {
    document.body.appendChild(host);
    renderHistory();
    renderBanner(false);
    if (state.open) open();
    else close();
    setStatus("");
    // A returning visitor may get messages while the panel is closed (an agent's reply).
    if (state.sessionId || state.history.length) connect();
  }

  window.SupportChat = {
    version: VERSION,
    open: open,
    close: close,
    toggle: function () { if (state.open) close(); else open(); },
    send: function (text) { return sendMessage(text); },
    sessionId: function () { return state.sessionId; },
    reset: reset
  };

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
