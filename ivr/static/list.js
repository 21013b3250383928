// The work list, live. Every few seconds (data-every, 10 by default) it asks the server for a
// token that changes whenever any ticket does (console.tickets_version: one small JSON built
// from the database, no state in the server process, so any gunicorn worker can answer). On a
// change it fetches this same page and swaps in its parts marked data-live-part; the filter form
// is never replaced, so whatever the operator is typing stays. Ticked rows and the current row
// (keys.js) stay as they were. Also: "select all" and the count of ticked rows for bulk actions.
// A file of its own because the console's Content-Security-Policy allows no inline script.
(function () {
  "use strict";
  var list = document.getElementById("ticket-list");
  if (!list) {
    return;
  }
  var versionUrl = list.getAttribute("data-version-src");
  var version = list.getAttribute("data-version");
  var everyMs = 1000 * (parseFloat(list.getAttribute("data-every")) || 10);
  var note = document.getElementById("live-note");
  var timer = null;
  var busy = false;
  var stopped = false;

  function ticked() {
    return Array.prototype.map.call(
      document.querySelectorAll("#ticket-list input[name=ticket]:checked"), function (box) { return box.value; });
  }

  function showCount() {
    var count = document.getElementById("bulk-count");
    if (count) {
      count.textContent = count.getAttribute("data-template").replace("{count}", ticked().length);
    }
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.id === "select-all") {
      Array.prototype.forEach.call(document.querySelectorAll("#ticket-list input[name=ticket]"), function (box) {
        box.checked = target.checked;
      });
    }
    if (target.id === "select-all" || target.name === "ticket") {
      showCount();
    }
  });

  function swap(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html");
    var keep = ticked();
    var focused = document.activeElement;
    var focusedHref = focused && focused.closest("[data-live-part]") ? focused.getAttribute("href") : null;
    Array.prototype.forEach.call(document.querySelectorAll("[data-live-part]"), function (part) {
      var replacement = fresh.getElementById(part.id);
      if (replacement) {
        part.replaceWith(document.importNode(replacement, true));
      }
    });
    list = document.getElementById("ticket-list");
    Array.prototype.forEach.call(document.querySelectorAll("#ticket-list input[name=ticket]"), function (box) {
      box.checked = keep.indexOf(box.value) >= 0;
    });
    if (focusedHref) {
      var again = document.querySelector('[data-live-part] [href="' + focusedHref.replace(/"/g, "") + '"]');
      if (again) {
        again.focus();
      }
    }
    showCount();
    document.dispatchEvent(new CustomEvent("ticketlist:updated"));
    if (note) {
      note.textContent = note.getAttribute("data-updated");
    }
  }

  function get(url, as) {
    return fetch(url, {credentials: "same-origin", redirect: "manual", cache: "no-store"}).then(function (response) {
      if (response.type === "opaqueredirect") {
        stopped = true; // signed out: the next page the operator opens asks them to sign in
        return null;
      }
      return response.ok ? response[as]() : null;
    });
  }

  function poll() {
    clearTimeout(timer);
    // A hidden tab is asked again when it is looked at; one request at a time.
    if (stopped || busy || document.hidden) {
      return;
    }
    busy = true;
    get(versionUrl, "json")
      .then(function (answer) {
        if (!answer || answer.version === version) {
          return null;
        }
        return get(window.location.href, "text").then(function (html) {
          if (html !== null) {
            swap(html);
            version = list.getAttribute("data-version") || answer.version;
          }
        });
      })
      .catch(function () {})
      .then(function () {
        busy = false;
        timer = setTimeout(poll, everyMs);
      });
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) {
      poll();
    }
  });
  timer = setTimeout(poll, everyMs);
})();
