/* kiemdich scan screen (/chot/quet): read a personal QR with the camera, a handheld scanner
   (it types the URL and Enter into the code field) or by hand; verify its ECDSA P-256 signature
   here with WebCrypto and the public key kept on the phone, so a forged, expired or foreign code
   is refused in red even with no network; show the verdict at once, then the server's fuller
   card when it answers. Decisions are sent through the outbox (outbox.js).
   Camera: the native BarcodeDetector where the browser has one, else qr-scanner's decoder,
   loaded only when the camera starts (static/vendor, a same-origin worker: no CSP exception).
   Token layout: kiemdich/tokens.py. */
/* The clear-text QR codes people carry besides ours (chip ID card CCCD, PC-Covid's personal QR):
   the twin of kiemdich/scan/idcard.py (layouts described there), for the offline path.
   tests/test_idcard.py runs both on the same generated strings. */
(function (root) {
  "use strict";
  var SEXES = { nam: "nam", nu: "nu" };
  function fold(text) {
    return (text || "").replace(/đ/g, "d").replace(/Đ/g, "D").normalize("NFD").replace(/[\u0300-\u036f]/g, "")
      .replace(/\s+/g, " ").trim().toLowerCase();
  }
  function squash(text) { return (text || "").normalize("NFC").split(/\s+/).filter(Boolean).join(" "); }
  function name(raw) {
    var n = squash(raw);
    if (!n || n.length > 120 || !/^[\p{L} .'-]+$/u.test(n)) return null;
    return n;
  }
  function mkdate(d, m, y) {
    var dt = new Date(Date.UTC(+y, +m - 1, +d));
    if (dt.getUTCFullYear() !== +y || dt.getUTCMonth() !== +m - 1 || dt.getUTCDate() !== +d) return null;
    return y + "-" + m + "-" + d;
  }
  function dmy(text) { var m = /^(\d{2})(\d{2})(\d{4})$/.exec(text); return m ? mkdate(m[1], m[2], m[3]) : null; }
  function cccd(parts, today) {
    if (parts.length === 6) parts = [parts[0], ""].concat(parts.slice(1));
    var n = name(parts[2]), born = dmy(parts[3]), issued = dmy(parts[6]), address = squash(parts[5]);
    if (!/^\d{12}$/.test(parts[0]) || !/^(\d{9}|\d{12})?$/.test(parts[1]) || !n || !born || !issued) return null;
    if (+born.slice(0, 4) < 1900 || born > today || issued > today || issued < born || !address) return null;
    var sex = SEXES[fold(parts[4])];
    if (!sex) return null;
    return { kind: "cccd", id_number: parts[0], full_name: n, birth_year: +born.slice(0, 4), birth_date: born,
             sex: sex, address: address.slice(0, 200), old_id: parts[1], id_type: "cccd" };
  }
  function pccovid(parts, today) {
    var n = name(parts[1]), m = /^(\d{4})-(\d{2}|\*\*)-(\d{2}|\*\*)$/.exec(parts[2]), number = parts[0], type;
    if (!n || !m || (parts[3] !== "0" && parts[3] !== "1") || !parts[4].trim()) return null;
    if (/^(\d{9}|\d{12}|[A-Z]\d{7})$/.test(number)) type = number.length === 12 ? "cccd" : number.length === 9 ? "cmnd" : "passport";
    else if (/^\*{6}(\d{3}|\d{6}|\d{2})$/.test(number)) { number = ""; type = "cccd"; }
    else return null;
    var masked = (m[2] + m[3]).indexOf("*") >= 0, born = masked ? null : mkdate(m[3], m[2], m[1]);
    if ((!masked && !born) || +m[1] < 1900 || +m[1] > +today.slice(0, 4) || (born && born > today)) return null;
    return { kind: "pccovid", id_number: number, full_name: n, birth_year: +m[1], birth_date: born,
             sex: "", address: "", old_id: "", id_type: type };
  }
  /* today: "yyyy-mm-dd" (local day); the card, or null. */
  function parse(text, today) {
    text = (text || "").trim();
    if (!text || text.length > 400 || text.indexOf("|") < 0) return null;
    var parts = text.split("|").map(function (p) { return p.trim(); });
    if (parts.length === 6 || parts.length === 7) {
      var card = cccd(parts, today);
      if (card) return card;
    }
    return parts.length === 6 ? pccovid(parts, today) : null;
  }
  root.kdIdCard = { parse: parse };
})(typeof self !== "undefined" ? self : globalThis);

(function () {
  "use strict";
  var box = document.querySelector("[data-scan]");
  if (!box) return;
  var verdictBox = box.querySelector("[data-verdict]");
  var input = box.querySelector("[data-manual-input]");
  var checkpoint = box.getAttribute("data-checkpoint");
  var DONE_KEY = "kd.scan.done";
  var labels = {};
  var tplLabels = document.querySelector("template[data-labels]");
  Array.prototype.forEach.call(tplLabels.content.querySelectorAll("[data-k]"), function (el) {
    labels[el.getAttribute("data-k")] = el.textContent.trim();
  });
  function L(key, vars) {
    var t = labels[key] || key;
    Object.keys(vars || {}).forEach(function (k) { t = t.replace("{" + k + "}", vars[k]); });
    return t;
  }

  /* ---- The public keys and the rules, cached by the service worker ----
     A JWK set: the signing key, a prepared next one, retired ones whose codes may still pass
     (key rotation, kiemdich/tokens.py); a copy cached before sets existed is a single JWK. */
  var keysPromise = fetch(box.getAttribute("data-key-url"), { credentials: "same-origin" })
    .then(function (r) { if (!r.ok) throw new Error("key"); return r.json(); })
    .then(function (data) {
      var list = data && data.keys ? data.keys : [data];
      return Promise.all(list.map(function (jwk) {
        return crypto.subtle.importKey("jwk", { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, ext: true },
                                       { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"])
          ["catch"](function () { return null; });
      }));
    })
    .then(function (keys) { return keys.filter(Boolean); }, function () { return []; });
  var rules = null;
  fetch(box.getAttribute("data-rules-url"), { credentials: "same-origin" })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (data) { rules = data; }, function () { rules = null; });

  /* ---- Token ---- */
  function b64(text) {
    var s = text.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var raw = atob(s), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }
  function u(b, at, n) { var v = 0; for (var i = 0; i < n; i++) v = v * 256 + b[at + i]; return v; }
  function ascii(b) { return String.fromCharCode.apply(null, b); }
  function hex(b) { var h = ""; for (var i = 0; i < b.length; i++) h += (b[i] < 16 ? "0" : "") + b[i].toString(16); return h; }

  function parse(token) {
    var b;
    try { b = b64(token); } catch (e) { return null; }
    if (b.length < 90 || b[0] !== 1) return null;
    var n = b[25];
    if (n > 40 || b.length !== 26 + n + 64) return null;
    var commune = u(b, 17, 3);
    return {
      payload: b.subarray(0, 26 + n), signature: b.subarray(26 + n),
      id: hex(b.subarray(1, 9)), until: u(b, 9, 4) * 1000, birthYear: u(b, 15, 2),
      dest: commune ? ("00000" + commune).slice(-5) : "",
      vaccination: ["none", "partial", "full", "recovered"][b[20] & 3],
      symptoms: !!(b[20] & 4), onBehalf: !!(b[20] & 8),
      last4: ascii(b.subarray(21, 25)), name: ascii(b.subarray(26, 26 + n))
    };
  }

  /* The token names no key: try each (the signing one first; a handful at most). */
  function signedByOneOf(keys, i, data) {
    if (i >= keys.length) return Promise.resolve(false);
    return crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, keys[i], data.signature, data.payload)
      .then(function (good) { return good || signedByOneOf(keys, i + 1, data); });
  }

  /* {ok, reason, data}: reason is malformed, signature, expired or nokey. */
  function verify(token) {
    var data = parse(token);
    if (!data) return Promise.resolve({ ok: false, reason: "malformed" });
    return keysPromise.then(function (keys) {
      if (!keys.length) return { ok: false, reason: "nokey" };
      return signedByOneOf(keys, 0, data).then(function (good) {
        if (!good) return { ok: false, reason: "signature" };
        if (Date.now() > data.until) return { ok: false, reason: "expired", data: data };
        return { ok: true, data: data };
      });
    });
  }

  /* What the scanner read: a personal link, a poster, a declaration code, or nothing of ours. */
  function classify(text) {
    text = (text || "").trim();
    var hash = text.indexOf("#");
    if (/\/c\/[0-9A-Za-z]+\/?$/.test(text)) return { kind: "poster" };
    if (hash >= 0 && /\/q$/.test(text.slice(0, hash))) return { kind: "token", token: text.slice(hash + 1) };
    if (/^[A-Za-z0-9_-]{100,}$/.test(text)) return { kind: "token", token: text };
    var card = window.kdIdCard.parse(text, localDay(0));
    if (card) return { kind: "card", card: card, text: text };
    var code = text.toUpperCase().replace(/[\s-]/g, "").replace(/O/g, "0").replace(/[IL]/g, "1");
    if (/^[0-9A-HJKMNP-TV-Z]{8}$/.test(code)) return { kind: "code", code: code };
    return { kind: "bad" };
  }

  function localDay(offset) {
    var d = new Date(Date.now() + offset * 86400000), p = function (n) { return (n < 10 ? "0" : "") + n; };
    return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate());
  }

  /* ---- ID cards read without a network, kept on this phone to declare on their behalf later ----
     Nothing can be written on the server for them yet (the assisted declaration needs the trip,
     confirmed with the traveller), so the card waits here, listed on this screen, for 3 days at most,
     and only for the staff member who read it (a shared phone shows no one else's). */
  var CARDS_KEY = "kd.scan.cards", CARD_DAYS = 3;
  var me = (document.querySelector('meta[name="kd-user"]') || {}).content || "";
  function allCards() {
    try {
      var now = Date.now();
      return JSON.parse(localStorage.getItem(CARDS_KEY) || "[]").filter(function (c) { return c.t > now - CARD_DAYS * 86400000; });
    } catch (e) { return []; }
  }
  function keptCards() { return allCards().filter(function (c) { return c.owner === me; }); }
  function saveCards(mine) {
    var others = allCards().filter(function (c) { return c.owner !== me; });
    try { localStorage.setItem(CARDS_KEY, JSON.stringify(others.concat(mine))); } catch (e) { /* full or private */ }
    renderKept();
    document.dispatchEvent(new CustomEvent("outbox:change"));  // the banner counts them (outbox.js)
  }
  function keepCard(text, card) {
    var list = keptCards().filter(function (c) { return c.id !== card.id_number || c.name !== card.full_name; });
    list.push({ text: text, t: Date.now(), id: card.id_number, name: card.full_name, owner: me });
    saveCards(list);
  }
  function forgetCard(text) {
    var list = keptCards(), left = list.filter(function (c) { return c.text !== text; });
    if (left.length !== list.length) saveCards(left);
  }

  /* ---- Decisions already taken on this phone (a second scan says so, even offline) ---- */
  function doneMap() {
    try {
      var all = JSON.parse(localStorage.getItem(DONE_KEY) || "{}"), now = Date.now(), kept = {};
      Object.keys(all).forEach(function (k) { if (all[k].until > now) kept[k] = all[k]; });
      return kept;
    } catch (e) { return {}; }
  }
  function markDone(data) {
    var all = doneMap();
    all[data.id + "|" + checkpoint] = { t: Date.now(), name: data.name, until: data.until };
    try { localStorage.setItem(DONE_KEY, JSON.stringify(all)); } catch (e) { /* full or private */ }
  }

  /* ---- Rendering ---- */
  var current = 0;  // which scan the verdict box shows; late answers for older scans are dropped
  function clone(selector) { return document.querySelector(selector).content.firstElementChild.cloneNode(true); }
  function setField(card, name, value) { var el = card.querySelector('[data-f="' + name + '"]'); if (el) el.textContent = value; }
  function when(ms) {
    var d = new Date(ms), p = function (n) { return (n < 10 ? "0" : "") + n; };
    return p(d.getHours()) + ":" + p(d.getMinutes()) + " " + p(d.getDate()) + "/" + p(d.getMonth() + 1);
  }
  function put(card) {
    Array.prototype.forEach.call(card.querySelectorAll('input[name="chot"]'), function (el) { el.value = checkpoint; });
    verdictBox.textContent = "";
    verdictBox.appendChild(card);
    reveal();
  }

  /* The decision on screen: the card scrolled to the top, its decision buttons inside the
     viewport (scrolled up a little more when the card is taller), the primary one focused. */
  function reveal() {
    var card = verdictBox.querySelector(".verdict") || verdictBox;
    card.scrollIntoView({ block: "start" });
    var decide = verdictBox.querySelector("[data-decide]");
    if (decide) {
      var bottom = decide.getBoundingClientRect().bottom, room = window.innerHeight;
      if (bottom > room) window.scrollBy(0, bottom - room + 12);
    }
    var primary = verdictBox.querySelector("[data-primary]");
    if (primary) primary.focus({ preventScroll: true });
  }

  function refuse(reason) {
    var card = clone("template[data-tpl-bad]");
    setField(card, "reason", L(reason));
    put(card);
  }

  function lineFor(vaccination, level) {
    return rules ? rules.rules.filter(function (r) { return r[0] === level && r[1] === vaccination; })[0] || null : null;
  }
  function instructionFor(vaccination, level) {
    if (!rules) return "";
    var line = lineFor(vaccination, level);
    if (!line || !line[2]) return L("declaration-only");
    return L("code", { n: line[2] }) + " · " + (rules.instructions[String(line[2])] || "");
  }

  /* The stance the rules give (kiemdich/scan/operations.py STANCES, the same table). */
  var STANCES = { declaration_only: "allow", self_monitoring: "conditions", home_quarantine: "conditions",
                  central_quarantine: "quarantine", refuse: "refuse" };
  var RANK = { allow: 0, conditions: 1, quarantine: 2, refuse: 3 };
  function stanceOf(line) { return line ? STANCES[line[3]] || "conditions" : "allow"; }
  /* Origin unknown: the strictest line any level gives for this vaccination. */
  function strictest(vaccination) {
    var worst = null;
    rules.rules.forEach(function (r) {
      if (r[1] === vaccination && (!worst || RANK[stanceOf(r)] > RANK[stanceOf(worst)])) worst = r;
    });
    return worst;
  }
  function day(offset) {
    var d = new Date(Date.now() + offset * 86400000), p = function (n) { return (n < 10 ? "0" : "") + n; };
    return p(d.getDate()) + "/" + p(d.getMonth() + 1);
  }
  function conditionsOf(line) {
    if (!line) return [];
    var out = [], days = line[4] || 0;
    if (line[3] !== "declaration_only") out.push(L("m-until", { d: day(Math.max(days, 1) - 1) }));
    if (line[6]) out.push(L("m-after", { d: day(Math.max(days, 1) - 1 + line[6]) }));
    if (line[5] && line[5].length) out.push(L("m-tests", { days: line[5].join(", ") }));
    return out;
  }
  /* Band, conditions and decision buttons of a local card for the origin chosen (or not yet). */
  function applyStance(card, vaccination, level) {
    var line = null, stance = "conditions", notes = [];
    if (rules) {
      line = level ? lineFor(vaccination, level) : strictest(vaccination);
      stance = stanceOf(line);
      if (!level) notes.push(L("origin-unknown"));
    }
    var colour = { allow: "ok", conditions: "amber", quarantine: "red", refuse: "red" }[stance];
    card.className = "verdict " + colour;
    card.setAttribute("data-stance", stance);
    var band = card.querySelector('[data-f="band"]');
    band.className = "band " + colour;
    band.textContent = L("band-" + stance);
    var list = card.querySelector('[data-f="conditions"]');
    list.textContent = "";
    (stance === "allow" ? [] : conditionsOf(line)).concat(notes).forEach(function (text) {
      var li = document.createElement("li"); li.textContent = text; list.appendChild(li);
    });
    card.querySelector("[data-f-shown]").value = stance;
    var old = card.querySelector("[data-decide]");
    if (old.getAttribute("data-stance") !== stance) {
      var fresh = document.querySelector('template[data-tpl-decide="' + stance + '"]').content.firstElementChild.cloneNode(true);
      old.parentNode.replaceChild(fresh, old);
    }
  }
  function instructionSummary(vaccination) {
    if (!rules) return "";
    var levels = [], seen = {};
    rules.rules.forEach(function (r) { if (!seen[r[0]]) { seen[r[0]] = 1; levels.push(r[0]); } });
    var groups = [];  // consecutive levels with the same instruction are shown once: "Cấp 1–2"
    levels.sort(function (a, b) { return a - b; }).forEach(function (l) {
      var text = instructionFor(vaccination, l), last = groups[groups.length - 1];
      if (last && last.text === text) last.to = l; else groups.push({ from: l, to: l, text: text });
    });
    return groups.map(function (g) {
      return L("by-level", { l: g.from === g.to ? g.from : g.from + "–" + g.to }) + ": " + g.text;
    }).join(" · ");
  }

  function showLocal(data, token, serial) {
    var card = clone("template[data-tpl-ok]");
    setField(card, "until", when(data.until));
    setField(card, "name", data.name);
    setField(card, "born", L("born", { y: data.birthYear }));
    setField(card, "id", "••••" + data.last4);
    var communes = (rules && rules.communes) || {};
    setField(card, "dest", communes[data.dest] || (data.dest ? L("transit") + " · " + data.dest : "—"));
    setField(card, "vacc", L("vacc-" + data.vaccination));
    setField(card, "symptoms", data.symptoms ? L("symptoms-yes") : L("symptoms-no"));
    if (data.symptoms) card.querySelector('[data-f="symptoms"]').classList.add("warn-text");
    setField(card, "instruction", instructionSummary(data.vaccination));
    applyStance(card, data.vaccination, 0);
    setField(card, "state", navigator.onLine ? L("loading") : L("offline"));
    var origin = card.querySelector("[data-origin]");
    ((rules && rules.provinces) || []).forEach(function (p) {
      var o = document.createElement("option");
      o.value = p[2]; o.textContent = p[1] + " · " + L("by-level", { l: p[2] });
      origin.appendChild(o);
    });
    origin.addEventListener("change", function () {
      setField(card, "instruction", origin.value ? instructionFor(data.vaccination, Number(origin.value))
                                                  : instructionSummary(data.vaccination));
      applyStance(card, data.vaccination, Number(origin.value) || 0);
    });
    card.querySelector("[data-f-token]").value = token;
    card.querySelector("form").setAttribute("data-outbox-label", data.name);
    put(card);
    if (navigator.onLine) askServer({ token: token }, serial);
  }

  /* A typed code the phone cannot look up: neither green nor red; a decision can still wait. */
  function showUnknown(code) {
    var card = clone("template[data-tpl-unknown]");
    setField(card, "code", code);
    card.querySelector("[data-f-code]").value = code;
    card.querySelector("form").setAttribute("data-outbox-label", code);
    put(card);
  }

  /* An ID card read offline: kept for the assisted declaration, a neutral card says so. */
  function showKept(what) {
    keepCard(what.text, what.card);
    var card = clone("template[data-tpl-kept]"), c = what.card;
    setField(card, "name", c.full_name);
    setField(card, "born", (c.birth_date ? c.birth_date.split("-").reverse().join("/") : L("born", { y: c.birth_year }))
                           + (c.id_number ? " · ••••" + c.id_number.slice(-4) : ""));
    put(card);
  }

  function showDone(entry) {
    var card = clone("template[data-tpl-done]");
    setField(card, "when", L("already", { t: when(entry.t).slice(0, 5) }));
    setField(card, "name", entry.name);
    put(card);
  }

  /* The server's card (origin, level, symptoms, the instruction it computes), unless the staff
     member already acted on the local one. */
  function askServer(fields, serial, url) {
    var body = new URLSearchParams(fields);
    body.set("chot", checkpoint);
    var csrf = "";
    try { csrf = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || ""; } catch (e) { csrf = ""; }
    return fetch(url || box.getAttribute("data-verdict-url"), {
      method: "POST", body: body, credentials: "same-origin", redirect: "manual",
      headers: { "X-CSRFToken": csrf, "HX-Request": "true" }
    }).then(function (r) {
      if (r.status !== 200 && r.status !== 422) return null;
      return r.text();
    }).then(function (html) {
      if (html !== null && fields.card) forgetCard(fields.card);  // looked up: it needs no keeping
      if (html === null || serial !== current) return;
      var local = verdictBox.querySelector("[data-local] form");
      if (local && local.hasAttribute("data-outbox-busy")) return;
      verdictBox.innerHTML = html;
      if (window.htmx) htmx.process(verdictBox);
      reveal();
    }, function () {
      if (serial !== current) return;
      var state = verdictBox.querySelector('[data-f="state"]');
      if (state) state.textContent = L("offline");
      else if (fields.code) showUnknown(fields.code);  // not checked, so not refused
      else if (fields.card) showKept(classify(fields.card));  // the network is gone: keep the card
    });
  }

  function handle(text) {
    var serial = ++current;
    var what = classify(text);
    if (what.kind === "poster") return refuse("poster");
    if (what.kind === "bad") return refuse("malformed");
    if (what.kind === "card") {
      if (!navigator.onLine) return showKept(what);
      return askServer({ card: what.text }, serial, box.getAttribute("data-lookup-url"));
    }
    if (what.kind === "code") {
      if (!navigator.onLine) return showUnknown(what.code);
      return askServer({ code: what.code }, serial);
    }
    return verify(what.token).then(function (result) {
      if (serial !== current) return;
      if (!result.ok) return refuse(result.reason);
      var done = doneMap()[result.data.id + "|" + checkpoint];
      if (done) return showDone(done);
      showLocal(result.data, what.token, serial);
    });
  }

  box.querySelector("[data-manual]").addEventListener("submit", function (e) {
    e.preventDefault();
    var value = input.value;
    input.value = "";
    if (value.trim()) handle(value);
  });

  /* A handheld scanner types into whatever has the focus: when the focus is on a decision
     button, its first character moves the focus to the code field, so the scanner's Enter looks
     up the next person instead of deciding for the previous one. */
  document.addEventListener("keydown", function (e) {
    var el = document.activeElement;
    if (e.key.length !== 1 || e.key === " " || e.ctrlKey || e.metaKey || e.altKey || !el || !box.contains(el)) return;
    if (el.tagName === "BUTTON" || el.tagName === "SUMMARY" || el.tagName === "A") input.focus();
  }, true);

  /* A passage written here (or waiting): the self check-in it answers leaves the list at once,
     and the list is asked again. */
  function answered(form) {
    var checkin = form && form.querySelector('input[name="checkin"]');
    if (checkin && checkin.value) {
      var row = document.getElementById("checkin-" + checkin.value);
      if (row) row.parentNode.removeChild(row);
    }
    setTimeout(loadPending, 0);
  }
  document.addEventListener("outbox:sent", function () { setTimeout(loadPending, 0); });

  document.addEventListener("outbox:queued", function (e) {
    var form = e.detail.form;
    if (form && box.contains(form)) answered(form);
    if (!form || !verdictBox.contains(form)) return;
    var token = form.querySelector('input[name="token"]');
    var data = token && token.value ? parse(token.value) : null;
    if (data) markDone(data);
    input.focus();
  });

  /* ---- Camera ---- */
  var video = box.querySelector("[data-video]"), stream = null, timer = null, detect = null;
  var status = box.querySelector("[data-camera-status]");
  var startBtn = box.querySelector("[data-camera-start]"), stopBtn = box.querySelector("[data-camera-stop]");
  var lastText = "", lastAt = 0;

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var s = document.createElement("script");
      s.src = src; s.onload = resolve; s.onerror = reject;
      document.head.appendChild(s);
    });
  }

  function detector() {
    var native = "BarcodeDetector" in window
      ? BarcodeDetector.getSupportedFormats().then(function (f) { return f.indexOf("qr_code") >= 0; }, function () { return false; })
      : Promise.resolve(false);
    return native.then(function (ok) {
      if (ok) {
        var d = new BarcodeDetector({ formats: ["qr_code"] });
        return function (v) { return d.detect(v).then(function (r) { return r.length ? r[0].rawValue : null; }); };
      }
      return loadScript(box.getAttribute("data-decoder")).then(function () {
        var worker = new Worker(box.getAttribute("data-worker"));
        var canvas = document.createElement("canvas");
        return function (v) {
          return window.QrScanner.scanImage(v, { qrEngine: worker, canvas: canvas, returnDetailedScanResult: true })
            .then(function (r) { return r.data; }, function () { return null; });
        };
      });
    });
  }

  function tick() {
    if (!stream) return;
    var go = video.readyState >= 2 ? detect(video) : Promise.resolve(null);
    go.then(function (text) {
      if (text) {
        var now = Date.now();
        if (text !== lastText || now - lastAt > 8000) handle(text);  // the same QR held in view: once
        lastText = text; lastAt = now;
      }
    }, function () { /* a frame the decoder could not read */ }).then(function () {
      if (stream) timer = setTimeout(tick, 200);
    });
  }

  function stopCamera() {
    clearTimeout(timer);
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    stream = null;
    box.querySelector("[data-camera]").hidden = true;
    startBtn.hidden = false; stopBtn.hidden = true; status.textContent = "";
  }

  startBtn.addEventListener("click", function () {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { status.textContent = L("camera-none"); return; }
    status.textContent = L("camera-loading");
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (s) {
        stream = s;
        video.srcObject = s;
        box.querySelector("[data-camera]").hidden = false;
        startBtn.hidden = true; stopBtn.hidden = false;
        return Promise.all([video.play(), detect ? detect : detector()]);
      })
      .then(function (r) { detect = r[1]; status.textContent = L("camera-on"); tick(); })
      ["catch"](function () { stopCamera(); status.textContent = L("camera-none"); });
  });
  stopBtn.addEventListener("click", stopCamera);
  document.addEventListener("visibilitychange", function () { if (document.hidden) stopCamera(); });

  /* Self check-ins waiting here: refreshed while online (never from the offline copy). */
  var pendingBox = document.querySelector("[data-pending-url]");
  function loadPending() {
    if (!pendingBox || !navigator.onLine) return;
    var url = pendingBox.getAttribute("data-pending-url") + "?chot=" + encodeURIComponent(checkpoint);
    fetch(url, { credentials: "same-origin", redirect: "manual",
                                                         headers: { "HX-Request": "true" } })
      .then(function (r) { return r.status === 200 ? r.text() : null; })
      .then(function (html) {
        if (html === null || pendingBox.querySelector("[data-outbox-busy]")
            || url !== pendingBox.getAttribute("data-pending-url") + "?chot=" + encodeURIComponent(checkpoint)) return;
        pendingBox.innerHTML = html;
        if (window.htmx) htmx.process(pendingBox);
      }, function () { /* offline meanwhile */ });
  }
  /* Server cards swapped in by htmx (lookup results, "Confirm" on a waiting check-in). */
  document.body.addEventListener("htmx:afterSwap", function (e) {
    if (e.target === verdictBox) { ++current; reveal(); }
  });

  /* ---- Which checkpoint: one tap, no reload; remembered on this phone ---- */
  var CP_KEY = "kd.scan.checkpoint";
  var switches = box.querySelectorAll("[data-switch]");
  function useCheckpoint(link) {
    checkpoint = link.getAttribute("data-switch");
    box.setAttribute("data-checkpoint", checkpoint);
    Array.prototype.forEach.call(switches, function (a) {
      if (a === link) a.setAttribute("aria-current", "true"); else a.removeAttribute("aria-current");
    });
    box.querySelector("[data-checkpoint-name]").textContent = link.getAttribute("data-name");
    var today = box.querySelector("[data-today-link]");
    today.href = today.getAttribute("data-base") + "?chot=" + encodeURIComponent(checkpoint);
    Array.prototype.forEach.call(box.querySelectorAll("[data-chot]"), function (el) { el.value = checkpoint; });
    ++current;
    verdictBox.textContent = "";
    if (pendingBox) pendingBox.textContent = "";
    try { localStorage.setItem(CP_KEY, checkpoint); } catch (e) { /* private mode */ }
    loadPending();
  }
  Array.prototype.forEach.call(switches, function (link) {
    link.addEventListener("click", function (e) {
      e.preventDefault();
      useCheckpoint(link);
      history.replaceState(null, "", "?chot=" + encodeURIComponent(checkpoint));
      input.focus();
    });
  });
  /* The checkpoint asked for in the address, else the one last used on this phone. The offline copy
     of this page was rendered for one checkpoint: this also corrects it for the others. */
  var asked = (/[?&]chot=([^&]+)/.exec(location.search) || [])[1], wanted = asked ? decodeURIComponent(asked).toUpperCase() : null;
  if (!wanted) { try { wanted = localStorage.getItem(CP_KEY); } catch (e) { wanted = null; } }
  Array.prototype.forEach.call(switches, function (link) {
    if (wanted && link.getAttribute("data-switch") === wanted && wanted !== checkpoint) useCheckpoint(link);
  });

  /* The cards kept offline, listed under the scan field: each opens its card once online. */
  var keptBox = box.querySelector("[data-kept]");
  function renderKept() {
    if (!keptBox) return;
    var list = keptCards(), ul = keptBox.querySelector("ul");
    keptBox.hidden = !list.length;
    keptBox.querySelector("[data-kept-count]").textContent = String(list.length);
    ul.textContent = "";
    list.forEach(function (c) {
      var li = clone("template[data-tpl-kept-row]");
      li.querySelector("[data-f=name]").textContent = c.name;
      li.querySelector("[data-f=when]").textContent = when(c.t);
      li.querySelector("[data-kept-open]").addEventListener("click", function () {
        handle(c.text);
      });
      li.querySelector("[data-kept-drop]").addEventListener("click", function () { forgetCard(c.text); });
      ul.appendChild(li);
    });
  }
  window.addEventListener("storage", function (e) { if (e.key === CARDS_KEY) renderKept(); });
  renderKept();

  loadPending();
  setInterval(loadPending, 60000);
  window.addEventListener("online", loadPending);

  input.focus();
})();
