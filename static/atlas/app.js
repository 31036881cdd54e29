// The web UI's own behaviour, loaded on every page (no inline script: the
// Content-Security-Policy allows scripts from this server's static files only).
(function () {
  "use strict";

  // Notices close with their [data-dismiss] button.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-dismiss]");
    if (button) button.parentElement.remove();
  });

  // A [data-copy="<input id>"] button copies that input's value (a new token).
  function setUpCopy(button) {
    var input = document.getElementById(button.dataset.copy);
    var status = document.querySelector("[data-copy-status]");
    function say(text) {
      if (status) status.textContent = text;
    }
    function copied() {
      button.textContent = "Copied";
      say("The token is on your clipboard.");
    }
    function copyBySelection() {
      input.select();
      try {
        if (document.execCommand("copy")) return copied();
      } catch (error) {}
      say("Select the token and copy it by hand.");
    }
    input.addEventListener("focus", function () { input.select(); });
    button.addEventListener("click", function () {
      input.select();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(copied, copyBySelection);
      } else {
        copyBySelection();
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-copy]").forEach(setUpCopy);
  });
})();
