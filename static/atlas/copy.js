// Copy buttons: <button data-copy-target="ID"> copies the text of #ID, and
// the nearest [data-copy-status] says what happened.
(function () {
  function say(button, text) {
    var status = document.querySelector("[data-copy-status]");
    if (status) status.textContent = text;
    button.textContent = "Copied";
    window.setTimeout(function () { button.textContent = "Copy"; }, 2000);
  }
  function bySelection(button, element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    try {
      if (document.execCommand("copy")) return say(button, "Copied to the clipboard.");
    } catch (error) {}
    var status = document.querySelector("[data-copy-status]");
    if (status) status.textContent = "Selected: copy it with your keyboard.";
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) return;
    var element = document.getElementById(button.dataset.copyTarget);
    if (!element) return;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(element.textContent).then(
        function () { say(button, "Copied to the clipboard."); },
        function () { bySelection(button, element); }
      );
    } else {
      bySelection(button, element);
    }
  });
})();
