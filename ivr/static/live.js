// The live card: every 2 seconds, the console asks for the card of the call the signed-in
// operator is on (server-rendered HTML, empty when none) and shows it without a reload.
// A file of its own because the console's Content-Security-Policy allows no inline script.
(function () {
  "use strict";
  var slot = document.getElementById("live-call");
  if (!slot || !window.fetch) {
    return;
  }
  var url = slot.getAttribute("data-src");
  var EVERY_MS = 2000;
  var shown = "";
  var timer = null;
  var stopped = false;
  var busy = false;

  function show(html) {
    // Replacing identical HTML would reset a link's focus for no reason.
    if (html === shown) {
      return;
    }
    shown = html;
    slot.innerHTML = html;
    slot.hidden = html.trim() === "";
  }

  function poll() {
    clearTimeout(timer);
    // A hidden tab is polled again when it is looked at; one request at a time.
    if (stopped || busy || document.hidden) {
      return;
    }
    busy = true;
    fetch(url, {credentials: "same-origin", redirect: "manual", cache: "no-store"})
      .then(function (response) {
        if (response.type === "opaqueredirect") {
          stopped = true; // signed out: the next page the operator opens asks them to sign in
          return null;
        }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html !== null) {
          show(html);
        }
      })
      .catch(function () {})
      .then(function () {
        busy = false;
        timer = setTimeout(poll, EVERY_MS);
      });
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) {
      poll();
    }
  });
  poll();
})();
