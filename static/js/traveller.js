/* kiemdich, traveller pages: remember the personal link on this phone, show its status, offer
   self check-in at a checkpoint, and small helpers of the declaration form.
   Loaded with <script defer>; no inline script anywhere (strict CSP). */
(function () {
  "use strict";
  var KEY = "kd.trip";

  function bytes(token) {
    var text = token.replace(/-/g, "+").replace(/_/g, "/");
    while (text.length % 4) text += "=";
    var raw = atob(text), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  /* Reads the fields this page needs; the layout is documented in kiemdich/tokens.py.
     No signature check here: the server verifies when the status is asked for, and the
     checkpoint scanner verifies with WebCrypto. */
  function parse(token) {
    try {
      var b = bytes(token);
      if (b[0] !== 1 || b.length < 90) return null;
      var until = ((b[9] << 24) >>> 0) + (b[10] << 16) + (b[11] << 8) + b[12];
      var n = b[25];
      return { until: until * 1000, name: String.fromCharCode.apply(null, b.subarray(26, 26 + n)) };
    } catch (e) { return null; }
  }

  function stored() {
    try {
      var v = JSON.parse(localStorage.getItem(KEY) || "null");
      return v && v.token && parse(v.token) ? v : null;
    } catch (e) { return null; }
  }
  /* The declared name (with its diacritics) is kept beside the token, whose name is upper-case ASCII. */
  function remember(token, name) {
    try {
      var old = stored(), keep = name || (old && old.token === token ? old.name : "");
      localStorage.setItem(KEY, JSON.stringify({ token: token, saved: Date.now(), name: keep || "" }));
    } catch (e) { /* private mode */ }
  }
  function forget() { try { localStorage.removeItem(KEY); } catch (e) { /* ignore */ } }

  function randomHex(n) {
    var a = new Uint8Array(n), s = "";
    crypto.getRandomValues(a);
    for (var i = 0; i < n; i++) s += (a[i] < 16 ? "0" : "") + a[i].toString(16);
    return s;
  }
  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID();
    var h = randomHex(16);
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-4" + h.slice(13, 16) + "-a" + h.slice(17, 20) + "-" + h.slice(20);
  }

  function loadStatus(box, token) {
    box.hidden = false;
    window.htmx.ajax("POST", box.getAttribute("data-kd-status"),
                     { target: box, swap: "innerHTML", values: { token: token } });
  }

  function setIdKeyboard(select) {
    var input = document.querySelector("[data-kd-id-number]");
    if (!input) return;
    var passport = select.value === "passport";
    input.setAttribute("inputmode", passport ? "text" : "numeric");
    input.setAttribute("autocapitalize", passport ? "characters" : "off");
  }

  /* A CCCD number tells the year of birth and the sex (digit 4: 0/1 male/female born 19xx, 2/3 born
     20xx, ...; digits 5-6: the year), as kiemdich/declarations/rules.py:from_cccd reads it. Filled in
     visibly, only into fields the traveller has not filled, and said so under them. */
  function fromCccd() {
    var type = document.querySelector("[data-kd-id-type]"), input = document.querySelector("[data-kd-id-number]");
    var year = document.querySelector("[data-kd-birth-year]"), note = document.querySelector("[data-kd-from-cccd]");
    if (!type || !input || !year || type.value !== "cccd") return;
    var digits = input.value.replace(/[\s.\-]/g, "");
    if (!/^\d{12}$/.test(digits)) return;
    var d = Number(digits.charAt(3)), filled = false;
    if (!year.value || year.hasAttribute("data-kd-auto")) {
      year.value = String(1900 + 100 * Math.floor(d / 2) + Number(digits.slice(4, 6)));
      year.setAttribute("data-kd-auto", "");
      filled = true;
    }
    var sexes = document.querySelectorAll("input[name=sex]"), chosen = null;
    for (var i = 0; i < sexes.length; i++) if (sexes[i].checked) chosen = sexes[i];
    if (!chosen || chosen.hasAttribute("data-kd-auto")) {
      for (var j = 0; j < sexes.length; j++) {
        sexes[j].checked = sexes[j].value === (d % 2 ? "nu" : "nam");
        sexes[j].toggleAttribute("data-kd-auto", sexes[j].checked);
      }
      filled = true;
    }
    if (note && filled) note.hidden = false;
  }

  /* data-kd-show-when="name:v1,v2": the field matters only while control `name` has one of these
     values ("name:" = while unticked), e.g. the number plate for motor vehicles. Without script
     every field stays visible, each saying its condition. */
  function valueOf(form, name) {
    var controls = form.querySelectorAll("[name='" + name + "']");
    for (var i = 0; i < controls.length; i++) {
      var c = controls[i];
      if (c.type === "radio") { if (c.checked) return c.value; }
      else if (c.type === "checkbox") return c.checked ? c.value : "";
      else return c.value;
    }
    return "";
  }
  function applyConditions() {
    var form = document.getElementById("declaration-form");
    if (!form) return;
    var parts = form.querySelectorAll("[data-kd-show-when]");
    for (var i = 0; i < parts.length; i++) {
      var rule = parts[i].getAttribute("data-kd-show-when"), at = rule.indexOf(":");
      var wanted = rule.slice(at + 1).split(",");
      var show = wanted.indexOf(valueOf(form, rule.slice(0, at))) !== -1;
      // A field the server found wrong stays in sight whatever the condition says.
      parts[i].hidden = !show && !parts[i].querySelector("[aria-invalid=true]");
    }
  }

  /* Runs on the first page and on every piece of content htmx swaps in. */
  function onContent(root) {
    var kept = root.querySelectorAll ? root.querySelectorAll("[data-kd-remember]") : [];
    for (var i = 0; i < kept.length; i++) remember(kept[i].getAttribute("data-kd-token"), kept[i].getAttribute("data-kd-name"));
    if (root.matches && root.matches("[data-kd-remember]")) remember(root.getAttribute("data-kd-token"), root.getAttribute("data-kd-name"));
    var idType = document.querySelector("[data-kd-id-type]");
    if (idType) setIdKeyboard(idType);
    applyConditions();
    var invalid = root.querySelector && root.querySelector("[aria-invalid=true]");
    if (invalid && root.id === "declaration-form") invalid.focus();
  }

  function start() {
    // A fresh one-time key per form shown, so a page restored from cache never reuses one.
    var nonce = document.querySelector("[data-kd-nonce]");
    if (nonce) nonce.value = randomHex(8);

    var trip = stored();
    var box = document.querySelector("[data-kd-status]");
    if (box) {
      var fromLink = location.hash.length > 1 && !box.hasAttribute("data-kd-stored-only") ? location.hash.slice(1) : "";
      if (fromLink) remember(fromLink);
      var token = fromLink || (trip && trip.token);
      if (token) loadStatus(box, token);
      else if (!box.hasAttribute("data-kd-stored-only")) {
        box.hidden = true;
        var none = document.querySelector("[data-kd-none]");
        if (none) none.hidden = false;
      }
    }

    var checkin = document.querySelector("[data-kd-checkin]");
    if (checkin && trip) {
      var data = parse(trip.token);
      if (data && data.until > Date.now()) {
        checkin.querySelector("[data-kd-name]").textContent = trip.name || data.name;
        checkin.querySelector("[data-kd-name-note]").hidden = !!trip.name;
        checkin.querySelector("[data-kd-token-input]").value = trip.token;
        checkin.querySelector("[data-kd-uuid]").value = uuid();
        checkin.hidden = false;
      }
    }
    var links = document.querySelectorAll("[data-kd-personal-link]");
    for (var i = 0; i < links.length; i++) if (trip) links[i].href = "/q#" + trip.token;

    onContent(document);
    if (window.htmx) window.htmx.onLoad(onContent);
  }

  document.addEventListener("change", function (e) {
    if (!e.target.matches) return;
    if (e.target.matches("[data-kd-id-type]")) { setIdKeyboard(e.target); fromCccd(); }
    if (e.target.name === "sex") {  // chosen by hand: never overwritten
      var sexes = document.querySelectorAll("input[name=sex]");
      for (var i = 0; i < sexes.length; i++) sexes[i].removeAttribute("data-kd-auto");
    }
    if (e.target.form && e.target.form.id === "declaration-form") applyConditions();
  });
  document.addEventListener("input", function (e) {
    if (!e.target.matches) return;
    if (e.target.matches("[data-kd-id-number]")) fromCccd();
    else if (e.target.matches("[data-kd-birth-year]")) e.target.removeAttribute("data-kd-auto");
  });
  document.addEventListener("click", function (e) {
    var el = e.target.closest ? e.target.closest("[data-kd-print], [data-kd-forget]") : null;
    if (!el) return;
    if (el.hasAttribute("data-kd-print")) window.print();
    else { forget(); location.href = "/"; }
  });
  document.addEventListener("htmx:afterSwap", function (e) {
    // Links swapped in (self check-in result) point at the personal page of this phone.
    var trip = stored(), links = e.target.querySelectorAll("[data-kd-personal-link]");
    for (var i = 0; i < links.length; i++) if (trip) links[i].href = "/q#" + trip.token;
  });

  // After a declaration the address is the personal link (/q#token, pushed by the server). The
  // app keeps no page copies in localStorage (historyCacheSize 0), so Back and Forward load the
  // page again in full, which runs this script and shows the right thing for that address.
  if (window.htmx) window.htmx.config.refreshOnHistoryMiss = true;

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
