// Daiyun's chat widget, for a merchant's own shop: <script src=".../widget/KEY.js" async></script>
// Plain JavaScript, no build step. It reads its key and the platform's address from its own URL,
// draws a chat button and panel inside a shadow root (so the shop's styles and ours never mix),
// keeps the visitor's token in localStorage, and follows the conversation over server-sent
// events, which reconnect on their own and resume after the last message shown.
(function () {
  "use strict";
  var me = document.currentScript || (function () {
    var found = document.querySelectorAll("script[src*='/widget/']");
    return found[found.length - 1];
  })();
  if (!me || window.__daiyunWidget) { return; }
  window.__daiyunWidget = true;
  var url = new URL(me.src, window.location.href);
  var key = decodeURIComponent(url.pathname.split("/").pop().replace(/\.js$/, ""));
  var base = url.origin + "/widget/" + encodeURIComponent(key);
  var stored = "daiyun-widget:" + key;
  var zh = /^zh/i.test(navigator.language || "");
  var say = zh
    ? { open: "在线客服", title: "联系我们", send: "发送", placeholder: "输入消息…",
        failed: "发送失败，请稍后再试", busy: "消息太多，请稍候", you: "您", agent: "客服" }
    : { open: "Chat with us", title: "Chat with us", send: "Send", placeholder: "Type a message…",
        failed: "Not sent; please try again", busy: "Too many messages; please wait", you: "You",
        agent: "Agent" };

  var host = document.createElement("div");
  host.setAttribute("data-daiyun-widget", key);
  var root = host.attachShadow({ mode: "open" });
  root.innerHTML =
    "<style>" +
    ":host{all:initial}" +
    ".bubble{position:fixed;right:20px;bottom:20px;z-index:2147483000;border:0;border-radius:24px;" +
    "padding:12px 18px;background:#c2410c;color:#fff;font:15px/1.2 system-ui,sans-serif;cursor:pointer}" +
    ".panel{position:fixed;right:20px;bottom:76px;z-index:2147483000;width:320px;max-width:calc(100vw - 40px);" +
    "height:420px;display:flex;flex-direction:column;background:#fff;color:#1f2937;border-radius:12px;" +
    "box-shadow:0 8px 30px rgba(0,0,0,.2);font:14px/1.4 system-ui,sans-serif}" +
    ".panel[hidden]{display:none}" +
    "header{padding:12px 14px;background:#c2410c;color:#fff;border-radius:12px 12px 0 0;font-weight:600}" +
    ".log{flex:1;overflow-y:auto;padding:10px 12px}" +
    ".msg{margin:6px 0;padding:8px 10px;border-radius:10px;max-width:85%;white-space:pre-wrap;word-wrap:break-word}" +
    ".visitor{margin-left:auto;background:#ffedd5}.agent{background:#f3f4f6}" +
    ".greeting{color:#6b7280}.error{color:#b91c1c;padding:0 12px}" +
    "form{display:flex;gap:6px;padding:10px;border-top:1px solid #e5e7eb}" +
    "textarea{flex:1;resize:none;height:40px;font:inherit;padding:6px;border:1px solid #d1d5db;border-radius:6px}" +
    "button.send{border:0;border-radius:6px;background:#c2410c;color:#fff;padding:0 12px;cursor:pointer}" +
    "</style>" +
    "<button class='bubble' type='button'></button>" +
    "<section class='panel' role='dialog' hidden>" +
    "<header></header><div class='log' role='log' aria-live='polite'></div>" +
    "<p class='error' role='alert'></p>" +
    "<form><textarea name='body' required></textarea><button class='send' type='submit'></button></form>" +
    "</section>";
  var bubble = root.querySelector(".bubble");
  var panel = root.querySelector(".panel");
  var log = root.querySelector(".log");
  var error = root.querySelector(".error");
  var form = root.querySelector("form");
  var box = root.querySelector("textarea");
  bubble.textContent = say.open;
  root.querySelector("header").textContent = say.title;
  root.querySelector("button.send").textContent = say.send;
  box.setAttribute("placeholder", say.placeholder);
  box.setAttribute("aria-label", say.placeholder);

  var shown = {};
  var token = null;
  var stream = null;

  function add(message) {
    if (shown[message.id]) { return; }
    shown[message.id] = true;
    var line = document.createElement("div");
    line.className = "msg " + message.author;
    line.setAttribute("data-id", message.id);
    line.setAttribute("aria-label", message.author === "visitor" ? say.you : say.agent);
    line.textContent = message.body;
    log.appendChild(line);
    log.scrollTop = log.scrollHeight;
  }

  function call(method, path, body) {
    var headers = { "Content-Type": "application/json" };
    if (token) { headers.Authorization = "Bearer " + token; }
    return fetch(base + path, {
      method: method, headers: headers, body: body ? JSON.stringify(body) : undefined,
      credentials: "omit", mode: "cors"
    });
  }

  function begin() {
    token = window.localStorage.getItem(stored);
    if (token) { return Promise.resolve(null); }
    return call("POST", "/visitors").then(function (answer) {
      if (!answer.ok) { throw new Error(say.failed); }
      return answer.json();
    }).then(function (session) {
      token = session.token;
      window.localStorage.setItem(stored, token);
      return session;
    });
  }

  function follow() {
    if (stream) { stream.close(); }
    stream = new EventSource(base + "/events?token=" + encodeURIComponent(token));
    stream.addEventListener("message", function (event) { add(JSON.parse(event.data)); });
  }

  function greet(session) {
    if (session && session.greeting) {
      var line = document.createElement("div");
      line.className = "msg agent greeting";
      line.textContent = session.greeting;
      log.appendChild(line);
    }
  }

  var started = null;
  function open() {
    panel.hidden = !panel.hidden;
    if (panel.hidden) { return; }
    box.focus();
    if (!started) {
      started = begin().then(function (session) { greet(session); follow(); });
    }
  }

  function newId() {
    var bytes = new Uint8Array(12);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function send(text, clientId, again) {
    return call("POST", "/messages", { body: text, client_id: clientId }).then(function (answer) {
      if (answer.status === 401 && !again) {
        // The token ran out: start afresh as a new visitor, and send once more.
        window.localStorage.removeItem(stored);
        token = null;
        return begin().then(function () { follow(); return send(text, clientId, true); });
      }
      if (!answer.ok) { throw new Error(answer.status === 429 ? say.busy : say.failed); }
      return answer.json().then(add);
    });
  }

  bubble.addEventListener("click", open);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = box.value.trim();
    if (!text) { return; }
    error.textContent = "";
    (started || begin()).then(function () {
      return send(text, newId(), false);
    }).then(function () {
      box.value = "";
    }).catch(function (problem) {
      // Our own errors carry the words to show; a network failure does not.
      var known = problem && (problem.message === say.busy || problem.message === say.failed);
      error.textContent = known ? problem.message : say.failed;
    });
  });
  box.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit"));
    }
  });
  document.body.appendChild(host);
})();
