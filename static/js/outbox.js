/* kiemdich outbox: writes that must never be lost on a bad line (passages, arrival confirmations,
   daily checks). They are kept in IndexedDB, each with a client UUID, and replayed until the
   server has answered. Loaded on every page (it also registers the service worker at /sw.js)
   and importScripts()-ed by the service worker for Background Sync.

   Use from a template: any <form data-outbox method="post" action="..."> is sent through here.
     data-outbox-target="SELECTOR" or "closest SELECTOR": the element whose content becomes the
       server's answer (default: the form itself is replaced by it);
     data-outbox-label="text": the item's name in the banner (e.g. the traveller's name);
     data-outbox-open: the body carries its own credential (a returnee's signed personal token,
       on an endpoint without session or CSRF), so the item is sent even when nobody is signed in;
     data-t-queued="text": what to say under a form queued on a page without the banner;
     hidden inputs named client_uuid and client_ts, when present, are filled on the first submit
       and kept, so a double tap or a retry sends the same UUID and the server records it once.
   The csrf_token field is left out of the stored body: a fresh token goes in X-CSRFToken at send.
   From script: kdOutbox.enqueue({url, body, uuid, label}), kdOutbox.flush(), kdOutbox.items(),
   kdOutbox.dismiss(uuid). Events on document: outbox:queued {item, form}, outbox:sent {item,
   status, html}, outbox:refused {item, reason, html}, outbox:change.

   Server contract: POST, Content-Type urlencoded, headers Idempotency-Key (the UUID),
   X-CSRFToken and HX-Request. 2xx = recorded (a replay of a recorded UUID must answer 2xx too);
   4xx = refused, shown with the percent-encoded X-Outbox-Reason header until dismissed; a
   redirect (signed out) or a 400 (CSRF) keeps the item and asks to sign in again; 5xx, 429 or no
   answer = try later. Replays run on page load, on `online`, from the "Đồng bộ ngay" button,
   every 30 s while items wait, and on Background Sync where the browser has it. */
(function (root) {
  "use strict";
  var DB = "kd-outbox", SESSION_URL = "/dong-bo/phien", SYNC_TAG = "kd-outbox";
  var inWindow = typeof document !== "undefined";
  var dbPromise = null, running = null;

  function openDb() {
    if (!dbPromise) dbPromise = new Promise(function (resolve, reject) {
      var req = indexedDB.open(DB, 1);
      req.onupgradeneeded = function () {
        req.result.createObjectStore("items", { keyPath: "uuid" });
        req.result.createObjectStore("meta", { keyPath: "k" });
      };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { dbPromise = null; reject(req.error); };
    });
    return dbPromise;
  }
  function tx(store, mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(store, mode), result;
        var r = work(t.objectStore(store));
        if (r) r.onsuccess = function () { result = r.result; };
        t.oncomplete = function () { resolve(result); };
        t.onerror = t.onabort = function () { reject(t.error); };
      });
    });
  }
  function items() {
    return tx("items", "readonly", function (s) { return s.getAll(); }).then(function (all) {
      return (all || []).sort(function (a, b) { return a.created - b.created; });
    });
  }
  function put(item) { return tx("items", "readwrite", function (s) { return s.put(item); }); }
  function remove(uuid) { return tx("items", "readwrite", function (s) { return s["delete"](uuid); }); }
  function getMeta(k) { return tx("meta", "readonly", function (s) { return s.get(k); }).then(function (r) { return r ? r.v : null; }); }
  function setMeta(k, v) { return tx("meta", "readwrite", function (s) { return s.put({ k: k, v: v }); }); }

  function uuid4() {
    if (root.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16)), h = "";
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    for (var i = 0; i < 16; i++) h += (b[i] < 16 ? "0" : "") + b[i].toString(16);
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function emit(name, detail) {
    if (inWindow) document.dispatchEvent(new CustomEvent(name, { detail: detail }));
    else if (root.clients) root.clients.matchAll().then(function (list) {
      list.forEach(function (c) { c.postMessage({ type: "outbox-change" }); });
    });
  }

  /* Who is signed in and a CSRF token: from the page when it has them, else asked from the server. */
  function pageSession() {
    if (!inWindow || document.querySelector('meta[name="kd-cached"]')) return null;
    var meta = document.querySelector('meta[name="kd-user"]');
    var headers = document.body && document.body.getAttribute("hx-headers");
    try {
      var csrf = JSON.parse(headers || "{}")["X-CSRFToken"];
      return meta && meta.content && csrf ? { user: meta.content, csrf: csrf } : null;
    } catch (e) { return null; }
  }
  function serverSession() {
    return fetch(SESSION_URL, { credentials: "same-origin", redirect: "manual", cache: "no-store" })
      .then(function (r) {
        if (r.type === "opaqueredirect" || r.status === 401) return { auth: true };
        if (!r.ok) return null;
        return r.json();
      }, function () { return null; });
  }

  function send(item, csrf) {
    return fetch(item.url, {
      method: "POST", body: item.body, credentials: "same-origin", redirect: "manual", cache: "no-store",
      headers: { "Content-Type": "application/x-www-form-urlencoded", "Idempotency-Key": item.uuid,
                 "X-CSRFToken": csrf || "", "HX-Request": "true", "X-Outbox": "1" }
    }).then(function (r) {
      if (r.type === "opaqueredirect" || r.status === 401) return { kind: "auth" };
      if (r.status === 400) return { kind: "csrf" };
      if (r.status >= 500 || r.status === 429 || r.status === 408 || r.status === 0) return { kind: "retry" };
      return r.text().then(function (html) {
        if (r.ok) return { kind: "ok", status: r.headers.get("X-Outbox-Status") || "", html: html };
        var reason = r.headers.get("X-Outbox-Reason");
        try { reason = reason ? decodeURIComponent(reason) : ""; } catch (e) { reason = ""; }
        return { kind: "refused", reason: reason || ("HTTP " + r.status), html: html };
      });
    }, function () { return { kind: "retry" }; });
  }

  function run() {
    var report = { sent: 0, refused: 0, auth: false, retry: false, other: 0, left: 0 };
    return items().then(function (all) {
      var waiting = all.filter(function (i) { return i.state === "pending"; });
      if (!waiting.length) return report;
      var session = pageSession();
      return Promise.resolve(session || serverSession()).then(function (s) {
        session = s;
        if (!session) { report.retry = true; return report; }
        if (session.auth || !session.user) {  // signed out: only the open items can go
          var open = waiting.filter(function (i) { return i.open; });
          if (open.length < waiting.length) report.auth = true;
          if (!open.length) return setMeta("auth", true).then(function () { return report; });
          waiting = open;
          session = { user: "", csrf: "" };
        }
        var fresh = false;
        var next = function (k) {
          if (k >= waiting.length) return report;
          var item = waiting[k];
          if (item.owner && item.owner !== session.user) { report.other++; return next(k + 1); }
          return send(item, session.csrf).then(function (res) {
            if (res.kind === "csrf" && !fresh) {  // the page's token is stale: ask for a fresh one once
              fresh = true;
              return serverSession().then(function (s2) {
                if (!s2 || s2.auth || !s2.user) return { kind: s2 ? "auth" : "retry" };
                session = s2;
                return send(item, session.csrf);
              });
            }
            return res;
          }).then(function (res) {
            if (res.kind === "ok") {
              report.sent++;
              return remove(item.uuid).then(function () { return setMeta("last", Date.now()); })
                .then(function () { return setMeta("auth", false); })
                .then(function () { emit("outbox:sent", { item: item, status: res.status, html: res.html }); return next(k + 1); });
            }
            if (res.kind === "refused") {
              report.refused++;
              item.state = "refused"; item.reason = res.reason;
              return put(item).then(function () { emit("outbox:refused", { item: item, reason: res.reason, html: res.html }); return next(k + 1); });
            }
            if (res.kind === "auth" || res.kind === "csrf") { report.auth = true; return setMeta("auth", true).then(function () { return report; }); }
            report.retry = true;
            return report;
          });
        };
        return next(0);
      });
    }).then(function (r) {
      return items().then(function (all) {
        r.left = all.filter(function (i) { return i.state === "pending"; }).length;
        emit("outbox:change", r);
        return r;
      });
    });
  }

  /* One replay at a time in this page; across pages and the service worker too where Web Locks exist. */
  var again = null;
  function flush() {
    if (running) {  // an item queued during a replay is sent right after it
      if (!again) again = running.then(function () { again = null; return flush(); });
      return again;
    }
    var go = (root.navigator && navigator.locks) ? navigator.locks.request("kd-outbox", run) : run();
    running = go.then(function (r) { running = null; return r; }, function (e) { running = null; throw e; });
    return running;
  }

  function enqueue(item) {
    var record = { uuid: item.uuid || uuid4(), url: item.url, body: item.body, label: item.label || "",
                   owner: item.owner || ((pageSession() || {}).user || ""), created: Date.now(), open: !!item.open,
                   state: "pending", reason: "" };
    return put(record).then(function () {
      if (root.navigator && navigator.storage && navigator.storage.persist) navigator.storage.persist();
      return record;
    });
  }

  function dismiss(uuid) { return remove(uuid).then(function () { emit("outbox:change", {}); }); }

  root.kdOutbox = { enqueue: enqueue, flush: flush, items: items, dismiss: dismiss, uuid: uuid4,
                    meta: getMeta, SYNC_TAG: SYNC_TAG };
  if (!inWindow) return;

  /* ---- Page side: forms, banner, service worker ------------------------------------------ */
  var forms = {};  // uuid -> form still on this page, to show the answer in place

  function text(el, key, vars) {
    var t = (el && el.getAttribute("data-t-" + key)) || "";
    Object.keys(vars || {}).forEach(function (k) { t = t.replace("{" + k + "}", vars[k]); });
    return t;
  }
  function hhmm(ms) {
    var d = new Date(ms);
    return (d.getHours() < 10 ? "0" : "") + d.getHours() + ":" + (d.getMinutes() < 10 ? "0" : "") + d.getMinutes();
  }

  function target(form) {
    var sel = form.getAttribute("data-outbox-target");
    if (!sel) return null;
    return sel.indexOf("closest ") === 0 ? form.closest(sel.slice(8)) : document.querySelector(sel);
  }
  function show(form, html) {
    if (!form || !document.contains(form)) return;
    var box = target(form), holder = document.createElement("div");
    if (box) { box.innerHTML = html; holder = box; }
    else { holder.innerHTML = html; form.replaceWith.apply(form, Array.prototype.slice.call(holder.childNodes)); holder = document.body; }
    if (root.htmx) htmx.process(holder);
  }

  function field(form, name) { return form.querySelector('input[name="' + name + '"]'); }

  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.matches || !form.matches("form[data-outbox]")) return;
    e.preventDefault();
    if (form.hasAttribute("data-outbox-busy")) return;  // a double tap sends nothing twice
    form.setAttribute("data-outbox-busy", "");
    var idField = field(form, "client_uuid"), tsField = field(form, "client_ts");
    var id = (idField && idField.value) || form.getAttribute("data-outbox-uuid") || uuid4();
    if (idField) idField.value = id;
    form.setAttribute("data-outbox-uuid", id);
    if (tsField && !tsField.value) tsField.value = new Date().toISOString();
    var data;
    try { data = new FormData(form, e.submitter); } catch (err) {
      data = new FormData(form);
      if (e.submitter && e.submitter.name) data.append(e.submitter.name, e.submitter.value);
    }
    data["delete"]("csrf_token");
    var buttons = form.querySelectorAll("button, input[type=submit]");
    for (var i = 0; i < buttons.length; i++) buttons[i].disabled = true;
    if (e.submitter) e.submitter.classList.add("chosen");
    forms[id] = form;
    enqueue({ uuid: id, url: form.action, body: new URLSearchParams(data).toString(),
              label: form.getAttribute("data-outbox-label") || "", open: form.hasAttribute("data-outbox-open") })
      .then(function (item) {
        emit("outbox:queued", { item: item, form: form });
        return flush();
      }, function () {
        // No IndexedDB here (some private modes): send once, directly, and show the answer.
        var session = pageSession() || {};
        return send({ uuid: id, url: form.action, body: new URLSearchParams(data).toString() }, session.csrf)
          .then(function (res) {
            delete forms[id];
            if (res.html) show(form, res.html);
            else { form.removeAttribute("data-outbox-busy"); for (var j = 0; j < buttons.length; j++) buttons[j].disabled = false; }
          });
      })
      .then(function () { return items(); })
      .then(function (all) {
        var still = all.filter(function (i) { return i.uuid === id && i.state === "pending"; }).length;
        if (still && document.contains(form)) {
          var banner = document.querySelector("[data-outbox-banner]");
          form.insertAdjacentHTML("afterend", '<p class="verdict-result queued" role="status"></p>');
          form.nextElementSibling.textContent = text(banner, "queued") || form.getAttribute("data-t-queued") || "…";
          form.hidden = true;
          askBackgroundSync();
        }
      })["catch"](function () { /* no IndexedDB: the direct send above has answered */ });
  }, true);

  document.addEventListener("outbox:sent", function (e) {
    var form = forms[e.detail.item.uuid];
    delete forms[e.detail.item.uuid];
    show(form, e.detail.html);
  });
  document.addEventListener("outbox:refused", function (e) {
    var form = forms[e.detail.item.uuid];
    delete forms[e.detail.item.uuid];
    if (form && e.detail.html) show(form, e.detail.html);
  });

  function askBackgroundSync() {
    if (!("serviceWorker" in navigator)) return;
    navigator.serviceWorker.ready.then(function (reg) {
      if (reg.sync && reg.sync.register) return reg.sync.register(SYNC_TAG);
    })["catch"](function () { /* no Background Sync here: the page replays by itself */ });
  }

  /* ID cards read offline at the scan screen wait in localStorage (static/js/scan.js) until the
     assisted declaration is made with the traveller: not on the server yet either, so counted as
     waiting, with their own line linking to the screen that lists them (same key and 3-day life). */
  var CARDS_KEY = "kd.scan.cards", CARD_DAYS = 3;
  function keptCards() {
    var meta = document.querySelector('meta[name="kd-user"]'), owner = (meta && meta.content) || "";
    try {
      var since = Date.now() - CARD_DAYS * 86400000;
      return JSON.parse(root.localStorage.getItem(CARDS_KEY) || "[]").filter(function (c) {
        return c && c.owner === owner && c.t > since;
      });
    } catch (e) { return []; }
  }

  function render() {
    var banner = document.querySelector("[data-outbox-banner]");
    if (!banner) return Promise.resolve();
    var me = (pageSession() || {}).user || "";
    return Promise.all([items(), getMeta("last"), getMeta("auth")]).then(function (r) {
      var all = r[0], last = r[1], auth = r[2];
      var mine = all.filter(function (i) { return i.state === "pending" && (!i.owner || !me || i.owner === me); });
      var others = all.filter(function (i) { return i.state === "pending" && i.owner && me && i.owner !== me; });
      var refused = all.filter(function (i) { return i.state === "refused"; });
      var cards = keptCards().length, waiting = mine.length + cards;
      var parts = [];
      if (!navigator.onLine) parts.push(text(banner, "offline"));
      parts.push(waiting ? text(banner, "pending", { n: waiting }) : text(banner, "synced"));
      if (last) parts.push(text(banner, "last", { t: hhmm(last) }));
      else if (mine.length) parts.push(text(banner, "never"));
      if (others.length) parts.push(text(banner, "other", { n: others.length, u: others[0].owner }));
      banner.querySelector("[data-outbox-summary]").textContent = parts.join(" · ");
      banner.setAttribute("data-pending", String(waiting));
      var cardsBox = banner.querySelector("[data-outbox-cards]");
      if (cardsBox) {
        cardsBox.hidden = !cards;
        cardsBox.querySelector("a").textContent = text(banner, "cards", { n: cards });
      }
      var authBox = banner.querySelector("[data-outbox-auth]");
      authBox.hidden = !(auth && mine.length);
      var login = banner.querySelector("[data-outbox-login]");
      if (login) login.href = banner.getAttribute("data-login") + "?next=" + encodeURIComponent(location.pathname + location.search);
      var box = banner.querySelector("[data-outbox-refused]"), list = banner.querySelector("[data-outbox-refused-list]");
      var tpl = banner.querySelector("[data-outbox-refused-item]");
      list.textContent = "";
      refused.forEach(function (item) {
        var li = tpl.content.firstElementChild.cloneNode(true);
        li.querySelector("[data-label]").textContent = (item.label || "") + " · " + hhmm(item.created);
        li.querySelector("[data-reason]").textContent = item.reason;
        li.querySelector("[data-outbox-dismiss]").setAttribute("data-uuid", item.uuid);
        list.appendChild(li);
      });
      box.hidden = !refused.length;
      banner.hidden = !(mine.length || cards || others.length || refused.length || (auth && mine.length) ||
                        document.querySelector("[data-outbox-page]"));
    })["catch"](function () { banner.hidden = true; });  // no IndexedDB: nothing can wait here
  }

  function syncNow() {
    var banner = document.querySelector("[data-outbox-banner]");
    var summary = banner && banner.querySelector("[data-outbox-summary]");
    if (summary) summary.textContent = text(banner, "sending");
    return flush().then(render, render);
  }

  document.addEventListener("click", function (e) {
    var el = e.target.closest && e.target.closest("[data-outbox-sync], [data-outbox-dismiss]");
    if (!el) return;
    if (el.hasAttribute("data-outbox-sync")) syncNow();
    else dismiss(el.getAttribute("data-uuid"));
  });
  document.addEventListener("outbox:change", function () { render(); });
  document.addEventListener("outbox:queued", function () { render(); });
  root.addEventListener("storage", function (e) { if (e.key === CARDS_KEY) render(); });
  root.addEventListener("online", function () { syncNow(); });
  root.addEventListener("offline", function () { render(); });
  setInterval(function () {
    items().then(function (all) {
      if (navigator.onLine && all.some(function (i) { return i.state === "pending"; })) syncNow();
    })["catch"](function () { /* no IndexedDB */ });
  }, 30000);

  function registerWorker() {
    if (!("serviceWorker" in navigator)) return;
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (reg) {
      if (document.querySelector('meta[name="kd-cached"]') || !reg.active) return;
      var keep = document.querySelector('meta[name="kd-offline"]');
      var user = document.querySelector('meta[name="kd-user"]');
      reg.active.postMessage({ type: "session", user: user ? user.content : "",
                               keep: keep ? keep.content.split(" ").filter(Boolean) : [] });
    })["catch"](function () { /* no service worker (private mode): pages work online only */ });
    navigator.serviceWorker.addEventListener("message", function (e) {
      var type = e.data && e.data.type;
      if (type === "outbox-change") render();
      else if (type === "outbox-flush") syncNow();
      else if (type === "kept") document.documentElement.setAttribute("data-offline-ready", e.data.count);
    });
  }

  function start() {
    registerWorker();
    if (document.querySelector("[data-outbox-page]") && navigator.storage && navigator.storage.persist) {
      navigator.storage.persist();
    }
    render().then(function () { if (navigator.onLine) return syncNow(); })["catch"](function () { /* no IndexedDB */ });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})(typeof self !== "undefined" ? self : window);
