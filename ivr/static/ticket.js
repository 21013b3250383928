// A ticket's page: saved replies fill the form's text, which the operator edits before the
// preview; a text kept after a refused action can be copied. Without JavaScript the page still
// works: a "use" button puts the saved reply into the form on the server, and the text can be
// selected by hand. A file of its own because the console's CSP allows no inline script.
(function () {
  "use strict";

  function textOf(form) {
    return form.querySelector("textarea[name=text]");
  }

  document.querySelectorAll("select.saved-reply").forEach(function (select) {
    var form = select.form;
    var used = form.querySelector("button.use-reply");
    if (used) {
      used.remove(); // the choice fills the text at once; Enter in the form then previews
    }
    var inserted = "";
    select.addEventListener("change", function () {
      var option = select.options[select.selectedIndex];
      var text = option.getAttribute("data-text");
      var box = textOf(form);
      if (!text || !box) {
        return;
      }
      // Never overwrite what the operator wrote without asking.
      var typed = box.value.trim();
      if (typed && typed !== inserted && !window.confirm(select.getAttribute("data-confirm"))) {
        select.selectedIndex = 0;
        return;
      }
      box.value = inserted = text;
      box.focus();
      box.setSelectionRange(text.length, text.length);
    });
  });

  document.querySelectorAll("button.copy-text").forEach(function (button) {
    var box = document.getElementById(button.getAttribute("data-copy"));
    if (!box) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      function copied() {
        button.textContent = button.getAttribute("data-done");
      }
      box.focus();
      box.select();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(box.value).then(copied, function () {});
      } else if (document.execCommand && document.execCommand("copy")) {
        copied();
      }
    });
  });
})();
