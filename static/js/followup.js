/* kiemdich, commune follow-up and the returnee's own actions: a fresh client UUID per form shown
   (replays and double taps are then stored once), the device's time of the action (an offline
   check made before midnight counts for that day), and the optional one-off position for
   "near the commune: yes/no". Loaded with <script defer>; no inline script (strict CSP). */
(function () {
  "use strict";

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var a = new Uint8Array(16), h = "";
    crypto.getRandomValues(a);
    a[6] = (a[6] & 15) | 64; a[8] = (a[8] & 63) | 128;
    for (var i = 0; i < 16; i++) h += (a[i] < 16 ? "0" : "") + a[i].toString(16);
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function fill(root) {
    var inputs = (root.querySelectorAll ? root : document).querySelectorAll("input[data-kd-uuid]");
    for (var i = 0; i < inputs.length; i++) if (!inputs[i].value) inputs[i].value = uuid();
  }

  function stamp(form) {
    var ts = form.querySelector("input[data-kd-ts]");
    if (ts) ts.value = String(Date.now());
  }

  // Ask for the position only when the person ticked the box, once, with a short timeout;
  // a refusal or a timeout sends the form without it.
  function withPosition(form, go) {
    var opt = form.querySelector("[data-kd-geo-opt]");
    var lat = form.querySelector("input[name=lat]"), lon = form.querySelector("input[name=lon]");
    if (!opt || !opt.checked || !navigator.geolocation || !lat || (lat.value && lon.value)) return go();
    navigator.geolocation.getCurrentPosition(function (pos) {
      lat.value = pos.coords.latitude.toFixed(5);
      lon.value = pos.coords.longitude.toFixed(5);
      go();
    }, function () { go(); }, { enableHighAccuracy: false, timeout: 8000, maximumAge: 600000 });
  }

  document.addEventListener("htmx:confirm", function (evt) {
    var form = evt.detail.elt && evt.detail.elt.closest ? evt.detail.elt.closest("form") : null;
    if (!form) return;
    stamp(form);
    if (form.hasAttribute("data-kd-geo")) {
      evt.preventDefault();
      withPosition(form, function () { evt.detail.issueRequest(true); });
    }
  });
  // Plain submissions (no htmx yet) get the same stamp.
  document.addEventListener("submit", function (evt) { if (evt.target.tagName === "FORM") stamp(evt.target); }, true);
  document.addEventListener("htmx:afterSwap", function (evt) { fill(evt.detail.target || document); });
  document.addEventListener("htmx:load", function (evt) { fill(evt.detail.elt || document); });
  if (document.readyState !== "loading") fill(document);
  else document.addEventListener("DOMContentLoaded", function () { fill(document); });
})();
