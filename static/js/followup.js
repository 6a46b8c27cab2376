/* kiemdich, commune follow-up and the returnee's own actions. The writes that must survive a bad
   line (arrival confirmations, daily checks) go through the outbox (static/js/outbox.js); this
   file only takes the optional one-off position when the person ticks the box, so that the
   server can answer "near the commune: yes/no" (it keeps nothing else). Loaded with
   <script defer>; no inline script (strict CSP). */
(function () {
  "use strict";

  function locate(box) {
    var form = box.form;
    var lat = form && form.querySelector("input[name=lat]"), lon = form && form.querySelector("input[name=lon]");
    if (!lat || !lon) return;
    lat.value = lon.value = "";
    if (!box.checked || !navigator.geolocation) return;
    navigator.geolocation.getCurrentPosition(function (pos) {
      if (!box.checked) return;
      lat.value = pos.coords.latitude.toFixed(5);
      lon.value = pos.coords.longitude.toFixed(5);
    }, function () { box.checked = false; }, { enableHighAccuracy: false, timeout: 10000, maximumAge: 600000 });
  }

  document.addEventListener("change", function (evt) {
    if (evt.target.matches && evt.target.matches("input[data-kd-geo-opt]")) locate(evt.target);
  });
})();
