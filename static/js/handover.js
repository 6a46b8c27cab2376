/* kiemdich, hand-over of a returnee's status link (templates/followup/_handover.html): the share
   button appears only where the phone has a share sheet (navigator.share: Zalo, Messenger...);
   the SMS link and the QR work without this file. No inline script (strict CSP). */
(function () {
  "use strict";

  function reveal(root) {
    if (!navigator.share || !root.querySelectorAll) return;
    var buttons = root.querySelectorAll("[data-kd-share]");
    for (var i = 0; i < buttons.length; i++) buttons[i].hidden = false;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-kd-share]");
    if (!button || !navigator.share) return;
    navigator.share({ title: button.getAttribute("data-share-title"),
                      text: button.getAttribute("data-share-text"),
                      url: button.getAttribute("data-share-url") })["catch"](function () {
      /* the officer closed the sheet: nothing to do */
    });
  });
  /* The sheet just opened: bring it into view with its heading focused (screen readers read it). */
  function present(root) {
    var sheet = root.id === "handover-sheet" ? root : root.querySelector && root.querySelector("#handover-sheet");
    if (!sheet) return;
    sheet.scrollIntoView({ block: "start" });
    var title = sheet.querySelector("h2");
    if (title) { title.setAttribute("tabindex", "-1"); title.focus({ preventScroll: true }); }
  }

  document.addEventListener("htmx:load", function (event) { reveal(event.target); present(event.target); });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { reveal(document); });
  } else {
    reveal(document);
  }
}());
