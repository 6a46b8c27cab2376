/* kiemdich, notifications on a commune officer's phone (Web Push): the button on the commune home
   subscribes this browser with the server's VAPID public key and sends the subscription to the
   server (templates/notify/_push_button.html); static/sw.js shows what arrives. Signing out
   unsubscribes the browser here and the server forgets it. No inline script (strict CSP). */
(function () {
  "use strict";

  function keyBytes(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) b64 += "=";
    var raw = atob(b64), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  function csrf() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || ""; }
    catch (e) { return ""; }
  }

  function post(url, body) {
    return fetch(url, { method: "POST", credentials: "same-origin", body: JSON.stringify(body),
                        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() } })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r; });
  }

  function supported() {
    return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
  }

  function show(box, on, note) {
    box.querySelector("[data-kd-push-on]").hidden = on;
    box.querySelector("[data-kd-push-off]").hidden = !on;
    var status = box.querySelector("[data-kd-push-status]");
    status.textContent = note ? status.getAttribute("data-t-" + note) : "";
  }

  /* The sign-out form names this device's subscription, so the server forgets it even when the
     session cookie lost the endpoint (another request's answer may overwrite the cookie). */
  function remember(sub) {
    var form = document.querySelector('form[action$="/dang-xuat"]');
    if (!form) return;
    var input = form.querySelector('input[name="push_endpoint"]');
    if (!input) {
      input = document.createElement("input");
      input.type = "hidden";
      input.name = "push_endpoint";
      form.appendChild(input);
    }
    input.value = sub ? sub.endpoint : "";
  }

  function setUp(box) {
    navigator.serviceWorker.ready.then(function (reg) {
      return reg.pushManager.getSubscription().then(function (sub) {
        remember(sub);
        box.hidden = false;
        show(box, !!sub, sub ? "on" : (Notification.permission === "denied" ? "denied" : ""));
        box.querySelector("[data-kd-push-on]").addEventListener("click", function () {
          Notification.requestPermission().then(function (permission) {
            if (permission !== "granted") { show(box, false, "denied"); return; }
            return reg.pushManager.subscribe({ userVisibleOnly: true,
                                               applicationServerKey: keyBytes(box.getAttribute("data-key")) })
              .then(function (s) { remember(s); return post(box.getAttribute("data-subscribe"), s.toJSON()); })
              .then(function () { show(box, true, "on"); });
          })["catch"](function () { show(box, false, "failed"); });
        });
        box.querySelector("[data-kd-push-off]").addEventListener("click", function () {
          reg.pushManager.getSubscription().then(function (s) {
            if (!s) return null;
            var endpoint = s.endpoint;
            remember(null);
            return s.unsubscribe().then(function () {
              return post(box.getAttribute("data-unsubscribe"), { endpoint: endpoint });
            });
          }).then(function () { show(box, false, ""); }, function () { show(box, false, ""); });
        });
      });
    });
  }

  /* Signing out: the server forgets this device's subscription; the browser drops it too. */
  function onSignOut() {
    var form = document.querySelector('form[action$="/dang-xuat"]');
    if (!form || !supported()) return;
    form.addEventListener("submit", function () {
      navigator.serviceWorker.ready.then(function (reg) { return reg.pushManager.getSubscription(); })
        .then(function (s) { if (s) s.unsubscribe(); })["catch"](function () { /* best effort */ });
    });
  }

  function start() {
    var box = document.querySelector("[data-kd-push]");
    if (box && supported()) setUp(box);
    onSignOut();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
}());
