// Keyboard shortcuts (listed on the "?" overlay, templates/console/_shortcuts.html). On the list:
// j / k next / previous row, Enter opens it. On a ticket: t take, n note, r resolve, g then l back
// to the list. Never while the operator types in a field, nor with Ctrl, Alt or Cmd held.
(function () {
  "use strict";
  var help = document.getElementById("shortcuts");
  var current = null; // the current row's ticket number, kept across live updates of the list
  var afterG = false;
  var gTimer = null;

  function typing(target) {
    var tag = target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable;
  }

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("table.tickets tbody tr"));
  }

  function mark(row, focus) {
    rows().forEach(function (other) { other.classList.remove("current"); });
    if (!row) {
      return;
    }
    row.classList.add("current");
    current = row.getAttribute("data-number");
    var link = row.querySelector(".col-number a");
    if (focus && link) {
      link.focus();
    }
  }

  function move(step) {
    var all = rows();
    if (!all.length) {
      return;
    }
    var at = all.findIndex(function (row) { return row.classList.contains("current"); });
    at = at < 0 ? (step > 0 ? 0 : all.length - 1) : Math.min(Math.max(at + step, 0), all.length - 1);
    mark(all[at], true);
  }

  function field(action, selector) {
    // A form's action may carry an anchor (".../take#actions"), where the page lands after it.
    var inside = " " + (selector || "");
    return document.querySelector('form[action$="/' + action + '"]' + inside + ', form[action*="/' + action + '#"]' + inside);
  }

  document.addEventListener("ticketlist:updated", function () {
    mark(rows().filter(function (row) { return row.getAttribute("data-number") === current; })[0], false);
  });

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) {
      return;
    }
    var key = event.key;
    if (help && help.open) {
      if (key === "?") {
        help.close();
        event.preventDefault();
      }
      return; // Escape closes the dialog by itself
    }
    if (afterG) {
      afterG = false;
      if (key === "l") {
        event.preventDefault();
        window.location.href = document.querySelector(".bar .brand").href;
      }
      return;
    }
    var target = null;
    if (key === "?" && help) {
      help.showModal();
    } else if (key === "g") {
      afterG = true;
      clearTimeout(gTimer);
      gTimer = setTimeout(function () { afterG = false; }, 1500);
    } else if (key === "j" || key === "k") {
      move(key === "j" ? 1 : -1);
    } else if (key === "Enter" && (event.target === document.body || event.target.tagName === "MAIN")) {
      var row = document.querySelector("table.tickets tbody tr.current .col-number a");
      if (!row) {
        return;
      }
      window.location.href = row.href;
    } else if (key === "t" && (target = field("take"))) {
      target.requestSubmit();
    } else if (key === "n" && (target = field("note", "textarea"))) {
      target.focus();
    } else if (key === "r" && (target = field("resolve", "textarea"))) {
      target.focus();
    } else {
      return;
    }
    event.preventDefault();
  });
})();
