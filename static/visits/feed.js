// The follow-ups page's calendar-feed section: copy the private feed link to the clipboard.
(function () {
  "use strict";

  function selectAndCopyFallback(input) {
    input.focus();
    input.select();
    try {
      return document.execCommand("copy");
    } catch (error) {
      return false;
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) return;
    var input = document.getElementById(button.dataset.copyTarget);
    if (!input) return;
    var label = button.textContent;
    var done = function () {
      button.textContent = button.dataset.copiedText || label;
      window.setTimeout(function () { button.textContent = label; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () {
        if (selectAndCopyFallback(input)) done();
      });
    } else if (selectAndCopyFallback(input)) {
      done();
    } else {
      input.select(); // the user can still press Ctrl+C
    }
  });
})();
