/* kiemdich: a commune officer's day offline. Loaded on every signed-in page (offline/_head.html).

   - [data-offline-day-box] (the /xa home and the day sheet): "Tải danh sách hôm nay" asks the
     service worker (static/sw.js) to keep the day sheet /xa/hom-nay (kiemdich/followup/day.py);
     on the home, it happens by itself when the kept sheet is not from today or older than 10
     minutes. The box then says "Sẵn sàng ngoại tuyến: N người · HH:MM".
   - [data-day-sheet] opened for /xa/nguoi-den/<code> (the service worker's answer without a
     network): shows that person's card and the confirmation and check forms, their actions set
     to that person; the forms go through the outbox (static/js/outbox.js). A form whose write
     already waits in the outbox shows it is queued instead, so a reload offline sends nothing twice.
   - Personal data kept on the phone goes on sign-out (before the form is sent, so also without a
     network) and at the end of the local day (Asia/Ho_Chi_Minh); the service worker itself forgets
     it when the server answers with the sign-in page. Waiting writes stay in the outbox. */
(function () {
  "use strict";
  var STALE_MS = 10 * 60 * 1000, VN_OFFSET_MS = 7 * 3600 * 1000;  // Viet Nam: UTC+7 all year
  var PERSON = /^\/xa\/nguoi-den\/([^/]+)$/;

  function meta(name) { var m = document.querySelector('meta[name="' + name + '"]'); return m ? m.content : ""; }
  function hhmm(ms) {
    var d = new Date(ms);
    return (d.getHours() < 10 ? "0" : "") + d.getHours() + ":" + (d.getMinutes() < 10 ? "0" : "") + d.getMinutes();
  }
  function localDay() { return new Date(Date.now() + VN_OFFSET_MS).toISOString().slice(0, 10); }
  function later(ms, value) { return new Promise(function (resolve) { setTimeout(function () { resolve(value); }, ms); }); }

  /* A question to the service worker, answered through a MessageChannel (null if it cannot answer).
     Asked again if the worker was replaced meanwhile (a new version activating drops the message). */
  function ask(message, wait, tries) {
    if (!("serviceWorker" in navigator)) return Promise.resolve(null);
    tries = tries === undefined ? 2 : tries;
    var asked = navigator.serviceWorker.ready.then(function (reg) {
      return new Promise(function (resolve) {
        var channel = new MessageChannel(), worker = reg.active;
        channel.port1.onmessage = function (e) { resolve(e.data); };
        worker.postMessage(message, [channel.port2]);
        worker.addEventListener("statechange", function () {
          if (worker.state === "redundant") resolve(tries > 0 ? ask(message, wait, tries - 1) : null);
        });
      });
    });
    return Promise.race([asked, later(wait || 15000, null)]);
  }

  /* Delete every kept page and note (the service worker's kd-keep caches) from the page itself. */
  function forget() {
    if (!window.caches) return Promise.resolve();
    return caches.keys().then(function (names) {
      return Promise.all(names.filter(function (n) { return n.indexOf("kd-keep-") === 0; })
        .map(function (n) { return caches["delete"](n); }));
    })["catch"](function () { /* nothing kept */ });
  }

  /* ---- The readiness box --------------------------------------------------------------------- */
  function current(note) { return !!note && !note.error && note.user === meta("kd-user") && note.day === localDay(); }
  function say(box, key, note, extra) {
    var text = (box.getAttribute("data-t-" + key) || "").replace("{n}", note ? note.n : "")
      .replace("{t}", note ? hhmm(note.at) : "");
    box.querySelector("[data-offline-day-status]").textContent = extra ? extra + " " + text : text;
    box.setAttribute("data-state", key);
  }
  function download(box) {
    say(box, "loading");
    return ask({ type: "day-fetch" }, 60000).then(function (note) {
      if (current(note)) return say(box, "ready", note);
      return ask({ type: "day-note" }).then(function (kept) {
        if (current(kept)) say(box, "ready", kept, box.getAttribute("data-t-failed"));
        else say(box, "failed");
      });
    });
  }
  function readiness(box) {
    box.querySelector("[data-offline-day-fetch]").addEventListener("click", function () { download(box); });
    if (meta("kd-cached")) return;
    ask({ type: "day-note" }).then(function (note) {
      say(box, current(note) ? "ready" : "none", note);
      var old = !current(note) || Date.now() - note.at > STALE_MS;
      if (old && navigator.onLine && box.hasAttribute("data-offline-day-auto")) download(box);
    });
  }

  /* ---- The day sheet opened for one person --------------------------------------------------- */
  function queued(root) {
    if (!window.kdOutbox) return;
    kdOutbox.items().then(function (all) {
      var waiting = all.filter(function (i) { return i.state === "pending"; });
      root.querySelectorAll("form[data-outbox]").forEach(function (form) {
        if (!waiting.some(function (i) { return i.url === form.action; })) return;
        var note = document.createElement("p");
        note.className = "verdict-result queued";
        note.setAttribute("role", "status");
        note.textContent = form.getAttribute("data-t-queued") || "";
        form.hidden = true;
        form.after(note);
      });
      root.querySelectorAll("a[href^='/xa/nguoi-den/']").forEach(function (a) {
        var url = new URL(a.href);
        if (!waiting.some(function (i) { return i.url.indexOf(url.origin + url.pathname + "/") === 0; })) return;
        var li = a.closest("li");
        if (li) li.classList.add("queued");
      });
    })["catch"](function () { /* no IndexedDB */ });
  }

  function person(sheet) {
    var match = PERSON.exec(location.pathname);
    if (!match) return queued(sheet);
    var code = decodeURIComponent(match[1]), box = sheet.querySelector("[data-day-person]");
    sheet.querySelector("[data-day-lists]").hidden = true;
    box.hidden = false;
    var card = null;
    sheet.querySelectorAll("template[data-person]").forEach(function (t) {
      if (t.getAttribute("data-person") === code) card = t;
    });
    if (!card) {
      var missing = document.createElement("p");
      missing.className = "card alert";
      missing.textContent = box.getAttribute("data-t-missing");
      box.appendChild(missing);
      return;
    }
    var view = card.content.cloneNode(true), forms = sheet.querySelector("template[data-day-forms]").content.cloneNode(true);
    var queuedText = document.querySelector("[data-outbox-banner]");
    forms.querySelectorAll("form").forEach(function (form) {
      form.setAttribute("action", location.pathname + form.getAttribute("action"));
      form.setAttribute("data-outbox-label", card.getAttribute("data-name"));
      if (queuedText) form.setAttribute("data-t-queued", queuedText.getAttribute("data-t-queued"));
    });
    if (card.getAttribute("data-status") !== "expected") forms.querySelector("[data-day-confirm]").remove();
    view.firstElementChild.appendChild(forms);
    box.appendChild(view);
    document.title = card.getAttribute("data-name") + " · " + document.title;
    queued(box);
  }

  /* ---- Start ----------------------------------------------------------------------------------- */
  function start() {
    var signout = meta("kd-signout");
    document.addEventListener("submit", function (e) {
      var form = e.target;
      if (!signout || !form.matches || form.getAttribute("action") !== signout) return;
      e.preventDefault();
      Promise.race([forget(), later(3000)]).then(function () { form.submit(); });
    }, true);
    var sheet = document.querySelector("[data-day-sheet]");
    if (sheet) person(sheet);
    document.querySelectorAll("[data-offline-day-box]").forEach(readiness);
    if (!meta("kd-cached")) ask({ type: "day-note" });  // the service worker sweeps yesterday's pages
    // At local midnight, yesterday's people go: sweep, then show what is left (the offline page).
    var untilMidnight = 86400000 - ((Date.now() + VN_OFFSET_MS) % 86400000) + 1000;
    setTimeout(function () {
      ask({ type: "day-note" }).then(function () { if (location.pathname.indexOf("/xa") === 0) location.reload(); });
    }, untilMidnight);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
