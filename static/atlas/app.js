// The web UI's own behaviour, loaded on every page (no inline script: the
// Content-Security-Policy allows scripts from this server's static files only).
// Every page works without it; it adds the phone menu, confirmations of
// destructive actions, copy buttons and logs that follow their end.
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  // Notices close with their [data-dismiss] button.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-dismiss]");
    if (button) button.parentElement.remove();
  });

  // The phone menu: a button that shows and hides the main navigation.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-menu]");
    if (!button) return;
    var open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    document.getElementById(button.getAttribute("aria-controls")).classList.toggle("is-open", open);
  });

  // Destructive actions: a form or link with [data-confirm="question"] asks
  // first, in a modal dialog whose default button is "Cancel".
  var dialog = null;
  function confirmDialog() {
    if (dialog) return dialog;
    dialog = document.createElement("dialog");
    dialog.className = "confirm-dialog";
    dialog.setAttribute("aria-labelledby", "confirm-dialog-text");
    dialog.innerHTML =
      '<form method="dialog"><p id="confirm-dialog-text"></p><div class="actions">' +
      '<button value="cancel" class="btn">Cancel</button>' +
      '<button value="ok" class="btn btn-danger" data-confirm-ok></button></div></form>';
    document.body.appendChild(dialog);
    return dialog;
  }
  function ask(element, proceed) {
    var box = confirmDialog();
    box.querySelector("#confirm-dialog-text").textContent = element.dataset.confirm;
    box.querySelector("[data-confirm-ok]").textContent = element.dataset.confirmButton || "Yes";
    box.returnValue = "";
    box.onclose = function () {
      if (box.returnValue === "ok") proceed();
    };
    box.showModal();
    box.querySelector('[value="cancel"]').focus();
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.dataset || !form.dataset.confirm || form.dataset.confirmed) return;
    event.preventDefault();
    var submitter = event.submitter;
    ask(form, function () {
      form.dataset.confirmed = "yes";
      if (form.requestSubmit) form.requestSubmit(submitter || undefined);
      else form.submit();
    });
  });
  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-confirm]");
    if (!link || link.dataset.confirmed) return;
    event.preventDefault();
    ask(link, function () {
      link.dataset.confirmed = "yes";
      link.click();
      delete link.dataset.confirmed;
    });
  });

  // A [data-copy="<input id>"] button copies that input's value (a secret shown
  // once); a [data-copy-target="<id>"] button copies that element's text (a
  // snippet). The nearest [data-copy-status] says what happened.
  function statusFor(button) {
    var scope = button.closest("section, .card, main") || document;
    return scope.querySelector("[data-copy-status]") || document.querySelector("[data-copy-status]");
  }
  function say(button, text) {
    var status = statusFor(button);
    if (status) status.textContent = text;
  }
  function copyText(button, text, select) {
    function done() {
      button.textContent = "Copied";
      say(button, "Copied to the clipboard.");
      window.setTimeout(function () { button.textContent = "Copy"; }, 2000);
    }
    function bySelection() {
      select();
      try {
        if (document.execCommand("copy")) return done();
      } catch (error) {}
      say(button, "Selected: copy it with your keyboard.");
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, bySelection);
    } else {
      bySelection();
    }
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy], [data-copy-target]");
    if (!button) return;
    if (button.dataset.copy) {
      var input = document.getElementById(button.dataset.copy);
      copyText(button, input.value, function () { input.select(); });
      return;
    }
    var element = document.getElementById(button.dataset.copyTarget);
    if (!element) return;
    copyText(button, element.textContent, function () {
      var range = document.createRange();
      range.selectNodeContents(element);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
    });
  });
  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("input[data-secret], input[readonly].mono")) {
      event.target.select();
    }
  });

  // Logs ([data-follow]) open at their end and follow it as they grow,
  // until the reader scrolls up; scrolling back to the end follows again.
  var SLACK = 24;
  function atEnd(log) {
    return log.scrollHeight - log.scrollTop - log.clientHeight <= SLACK;
  }
  // The position this script last scrolled a log to: a scroll event is
  // dispatched later, when more text may have arrived, and must not read as
  // the reader scrolling up.
  function follow(log) {
    if (log.dataset.following === "no") return;
    log.scrollTop = log.scrollHeight;
    log.dataset.followedTo = String(log.scrollTop);
  }
  function setUpLog(log) {
    if (log.dataset.followReady) return;
    log.dataset.followReady = "yes";
    log.dataset.following = "yes";
    follow(log);
    log.addEventListener("scroll", function () {
      var followedTo = log.dataset.followedTo;
      var following = atEnd(log) || (followedTo !== "" && log.scrollTop >= Number(followedTo));
      if (!following) log.dataset.followedTo = "";
      log.dataset.following = following ? "yes" : "no";
      var jump = document.querySelector('[data-follow-jump="' + log.id + '"]');
      if (jump) jump.hidden = following;
    });
  }
  document.addEventListener("click", function (event) {
    var jump = event.target.closest("[data-follow-jump]");
    if (!jump) return;
    var log = document.getElementById(jump.dataset.followJump);
    log.dataset.following = "yes";
    follow(log);
    jump.hidden = true;
    log.focus();
  });
  function setUpAll(root) {
    (root || document).querySelectorAll("pre[data-follow]").forEach(setUpLog);
  }
  document.addEventListener("DOMContentLoaded", function () { setUpAll(); });
  document.addEventListener("htmx:afterSettle", function (event) {
    setUpAll();
    var log = event.target.closest && event.target.closest("pre[data-follow]");
    if (log) follow(log);
  });
  // An appended piece of log is swapped in place of its poller: keep the end in view.
  document.addEventListener("htmx:afterSwap", function (event) {
    document.querySelectorAll("pre[data-follow]").forEach(follow);
  });
})();
