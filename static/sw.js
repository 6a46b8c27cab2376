/* kiemdich service worker, served at /sw.js with scope "/" (kiemdich/offline/views.py stamps
   VERSION, a hash of every static file, so any change installs new caches).

   Caches, all named with VERSION; older ones are deleted on activate:
     kd-core-V  the offline page and the assets every page uses, precached on install;
     kd-keep-V  what the signed-in role needs offline (its pages, the QR decoder, the public key,
                the rules), listed by the page in <meta name="kd-offline"> and cached on its
                message; emptied when the signed-in user changes or signs out.
   Navigations: network first; a page marked X-Offline-Page is kept; without a network the kept
   copy, else the offline page. Static files: cache first. Public key and rules: the cached copy
   at once, refreshed in the background. Everything else, and every POST, goes to the network:
   writes made offline wait in the outbox (static/js/outbox.js), replayed here on Background Sync.

   A commune officer's day (static/js/offline-day.js asks for it): the day sheet /xa/hom-nay is kept
   in kd-keep with a note at /__kd/day; offline, a person's page /xa/nguoi-den/<code> that was not
   kept opens the sheet, which shows that person. Personal pages (under /xa) are forgotten at the
   end of their local day (Asia/Ho_Chi_Minh), and all of kd-keep on sign-out or when the server
   answers with the sign-in page (session over). */
"use strict";
var VERSION = "__VERSION__";
var CORE = "kd-core-" + VERSION, KEEP = "kd-keep-" + VERSION;
var OFFLINE = "/ngoai-tuyen";
var CORE_URLS = ["/static/css/app.css", "/static/vendor/htmx.min.js", "/static/js/outbox.js",
                 "/static/icons/icon.svg", "/static/icons/icon-192.png"];
var REFRESHED = ["/khoa-cong-khai.json", "/quy-tac.json"];
var USER_KEY = "/__kd/user";
var DAY_URL = "/xa/hom-nay", DAY_KEY = "/__kd/day", PERSON = /^\/xa\/nguoi-den\/[^/]+$/, LOGIN = "/dang-nhap";

importScripts("/static/js/outbox.js");

function keepable(response) {
  return response && response.ok && !response.redirected && response.type === "basic";
}

/* The role's files kept by the previous version, fetched again into this version's cache. */
function carryOver() {
  return caches.keys().then(function (names) {
    var old = names.filter(function (n) { return n.indexOf("kd-keep-") === 0 && n !== KEEP; });
    return Promise.all(old.map(function (name) {
      return caches.open(name).then(function (c) { return c.keys(); });
    })).then(function (lists) {
      var urls = [].concat.apply([], lists).map(function (r) { return new URL(r.url).pathname; });
      return keep(urls.filter(function (u) { return u !== USER_KEY && u !== DAY_KEY; }), true).then(function () {
        return Promise.all(old.map(function (name) {
          return caches.open(name).then(function (c) {
            return Promise.all([c.match(USER_KEY), c.match(DAY_KEY)]);
          }).then(function (r) {
            return caches.open(KEEP).then(function (c) {
              return Promise.all([r[0] && c.put(USER_KEY, r[0]), r[1] && c.put(DAY_KEY, r[1])]);
            });
          });
        }));
      });
    });
  });
}

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CORE).then(function (cache) {
    // Signed-out copy of the offline page: it must show no one's name.
    return fetch(OFFLINE, { credentials: "omit" }).then(function (r) {
      if (!r.ok) throw new Error("offline page: " + r.status);
      return cache.put(OFFLINE, r);
    }).then(function () { return cache.addAll(CORE_URLS); });
  }).then(function () { return carryOver()["catch"](function () { /* best effort */ }); })
    .then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) {
      return n.indexOf("kd-") === 0 && n !== CORE && n !== KEEP;
    }).map(function (n) { return caches["delete"](n); }));
  }).then(function () { return self.clients.claim(); }));
});

/* Cache the given URLs (pages must carry X-Offline-Page); with `all`, refetch those already kept. */
function keep(urls, all) {
  return caches.open(KEEP).then(function (cache) {
    return Promise.all(urls.map(function (url) {
      return cache.match(url, { ignoreSearch: true }).then(function (hit) {
        if (hit && !all) return 1;
        return fetch(url, { credentials: "same-origin" }).then(function (r) {
          var isPage = (r.headers.get("Content-Type") || "").indexOf("text/html") === 0;
          if (!keepable(r) || (isPage && r.headers.get("X-Offline-Page") !== "1")) return 0;
          return cache.put(url, r).then(function () { return 1; });
        }, function () { return 0; });
      });
    }));
  }).then(function (done) { return done.reduce(function (a, b) { return a + b; }, 0); });
}

/* A new user (or none): forget the previous one's pages, then keep what this one needs. */
function session(user, urls, client) {
  return caches.open(KEEP).then(function (cache) {
    return cache.match(USER_KEY).then(function (r) { return r ? r.text() : null; }).then(function (before) {
      var reset = before !== null && before !== user ? caches["delete"](KEEP) : Promise.resolve();
      return reset.then(function () { return caches.open(KEEP); }).then(function (c) {
        return c.put(USER_KEY, new Response(user));
      });
    });
  }).then(function () { return user ? keep(urls, false) : 0; }).then(function (count) {
    if (client) client.postMessage({ type: "kept", count: count });
  });
}

/* ---- A commune officer's day offline ------------------------------------------------------- */

/* The local (Asia/Ho_Chi_Minh) date of a moment, "YYYY-MM-DD": the day personal pages belong to. */
function localDay(moment) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Ho_Chi_Minh", year: "numeric", month: "2-digit",
                                            day: "2-digit" }).format(moment || new Date());
}
function personal(path) { return path === DAY_KEY || path === "/xa" || path.indexOf("/xa/") === 0; }
/* When a kept response was sent (ms; 0 if unknown). Some servers repeat the header: "d1, d1". */
function sentAt(response) {
  var date = (response && response.headers.get("Date")) || "";
  return Date.parse(date.split(",").slice(0, 2).join(",")) || 0;
}
function ofToday(response) { var t = sentAt(response); return t > 0 && localDay(new Date(t)) === localDay(); }

/* Sign-out or session over: nothing the user kept stays (waiting writes stay in the outbox). */
function forget() { return caches["delete"](KEEP); }

/* End of the day: the personal pages kept on an earlier day go (the role's other files stay). */
var sweptOn = "";
function sweep(force) {
  var today = localDay();
  if (sweptOn === today && !force) return Promise.resolve();
  return caches.open(KEEP).then(function (cache) {
    return cache.keys().then(function (requests) {
      return Promise.all(requests.map(function (request) {
        if (!personal(new URL(request.url).pathname)) return null;
        return cache.match(request).then(function (r) {
          if (!ofToday(r)) return cache["delete"](request);
        });
      }));
    });
  }).then(function () { sweptOn = today; });
}

/* Fetch and keep the day sheet; the note says for whom, for which day, how many people, when. */
function fetchDay() {
  return fetch(DAY_URL, { credentials: "same-origin", redirect: "manual", cache: "no-store" }).then(function (r) {
    if (r.type === "opaqueredirect" || r.status === 401) return forget().then(function () { return { error: "auth" }; });
    if (!keepable(r) || r.headers.get("X-Offline-Page") !== "1") return { error: "http" };
    var note = { user: r.headers.get("X-Offline-User") || "", day: r.headers.get("X-Offline-Day") || "",
                 n: parseInt(r.headers.get("X-Offline-Count") || "0", 10), at: Date.now() };
    return caches.open(KEEP).then(function (c) {
      return Promise.all([c.put(DAY_URL, r), c.put(DAY_KEY, new Response(JSON.stringify(note), {
        headers: { "Content-Type": "application/json", "Date": new Date().toUTCString() } }))]);
    }).then(function () { return note; });
  }, function () { return { error: "network" }; });
}

function dayNote() {
  return sweep().then(function () { return caches.open(KEEP); }).then(function (c) { return c.match(DAY_KEY); })
    .then(function (r) { return r ? r.json() : null; });
}

self.addEventListener("message", function (event) {
  var data = event.data || {};
  var reply = function (value) { if (event.ports && event.ports[0]) event.ports[0].postMessage(value); };
  if (data.type === "session") event.waitUntil(session(data.user || "", data.keep || [], event.source));
  else if (data.type === "day-fetch") event.waitUntil(sweep().then(fetchDay).then(reply));
  else if (data.type === "day-note") event.waitUntil(dayNote().then(reply));
});

function fromCache(request) {
  return caches.match(request, { ignoreSearch: true });
}

function navigate(request) {
  var url = new URL(request.url);
  return fetch(request).then(function (response) {
    if (keepable(response) && response.headers.get("X-Offline-Page") === "1") {
      var copy = response.clone();
      caches.open(KEEP).then(function (c) { return c.put(url.pathname, copy); });
    } else if (response.type === "opaqueredirect" ? personal(url.pathname)
               : response.redirected && new URL(response.url).pathname === LOGIN && url.pathname !== LOGIN) {
      // A personal page answered with a redirect: the sign-in page, the session is over.
      return forget().then(function () { return response; });
    }
    return response;
  }, function () {
    return sweep().then(function () { return caches.open(KEEP); }).then(function (c) {
      return Promise.all([c.match(url.pathname), PERSON.test(url.pathname) ? c.match(DAY_URL) : null]);
    }).then(function (hits) {
      var page = hits[0], sheet = hits[1];  // a person: their kept page, or the day sheet if newer
      if (sheet && (!page || sentAt(sheet) > sentAt(page))) page = sheet;
      if (page && personal(url.pathname) && !ofToday(page)) {  // kept yesterday: never shown, all swept
        return sweep(true).then(function () { return caches.match(OFFLINE); });
      }
      return page || caches.match(OFFLINE);
    });
  });
}

function cacheFirst(request) {
  return fromCache(request).then(function (hit) {
    return hit || fetch(request).then(function (response) {
      if (keepable(response)) {
        var copy = response.clone();
        caches.open(KEEP).then(function (c) { return c.put(request, copy); });
      }
      return response;
    });
  });
}

function refreshed(request, event) {
  var update = fetch(request).then(function (response) {
    if (keepable(response)) {
      var copy = response.clone();
      return caches.open(KEEP).then(function (c) { return c.put(new URL(request.url).pathname, copy); })
        .then(function () { return response; });
    }
    return response;
  });
  return fromCache(request).then(function (hit) {
    if (hit) { event.waitUntil(update["catch"](function () {})); return hit; }
    return update;
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") event.respondWith(navigate(request));
  else if (url.pathname.indexOf("/static/") === 0) event.respondWith(cacheFirst(request));
  else if (REFRESHED.indexOf(url.pathname) >= 0) event.respondWith(refreshed(request, event));
});

/* Background Sync (Chrome on Android): replay the outbox even with no page open. */
self.addEventListener("sync", function (event) {
  if (event.tag !== self.kdOutbox.SYNC_TAG) return;
  event.waitUntil(self.kdOutbox.flush().then(function (report) {
    if (report.retry) throw new Error("network still down; the browser retries later");
  }));
});

/* Web Push (kiemdich/notify): the server sends {title, body, url, tag}, encrypted for this browser.
   Show it; a tap opens (or focuses) the page it names. Only same-origin paths are opened: a
   message naming another site ("//host", or "/\\host", which URL parsing reads as "//host")
   opens the app's home instead. */
function samePage(url) {
  try {
    var u = new URL(typeof url === "string" && url ? url : "/", self.location.origin);
    if (u.origin === self.location.origin) return u.pathname + u.search + u.hash;
  } catch (e) { /* not a URL */ }
  return "/";
}

self.addEventListener("push", function (event) {
  var data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = { body: event.data.text() }; }
  event.waitUntil(self.registration.showNotification(data.title || "kiemdich", {
    body: data.body || "", tag: data.tag || undefined, data: { url: samePage(data.url) },
    icon: "/static/icons/icon-192.png", badge: "/static/icons/icon-192.png"
  }));
});

/* A tap: a window already at that page comes to the front; else a window of the app goes there
   (the officer's phone rarely has more than one); else a new window opens. Focusing may be refused
   (no user activation): the page is there all the same. */
function openPage(target) {
  function front(client) {
    return client && "focus" in client ? client.focus()["catch"](function () { return client; }) : client;
  }
  return self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (list) {
    var i;
    for (i = 0; i < list.length; i++) if (list[i].url === target) return front(list[i]);
    var mine = list.filter(function (c) { return "navigate" in c && new URL(c.url).origin === self.location.origin; });
    mine.sort(function (a, b) { return (b.focused ? 1 : 0) - (a.focused ? 1 : 0); });
    var tryNext = function (n) {
      if (n >= mine.length) return self.clients.openWindow(target);
      return mine[n].navigate(target).then(function (client) { return client ? front(client) : tryNext(n + 1); },
                                           function () { return tryNext(n + 1); });  // not controlled by this worker
    };
    return tryNext(0);
  });
}

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var done = openPage(new URL(samePage(event.notification.data && event.notification.data.url), self.location.origin).href);
  event.waitUntil(done);
});
