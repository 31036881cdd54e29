// Copies the webhook secret shown once after a webhook is added.
(function () {
  var button = document.querySelector("[data-copy]");
  if (!button) return;
  var input = document.getElementById(button.dataset.copy);
  var status = document.querySelector("[data-copy-status]");
  function copied() {
    button.textContent = "Copied";
    status.textContent = "The secret is on your clipboard.";
  }
  function copyBySelection() {
    input.select();
    try {
      if (document.execCommand("copy")) return copied();
    } catch (error) {}
    status.textContent = "Select the secret and copy it by hand.";
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
})();
