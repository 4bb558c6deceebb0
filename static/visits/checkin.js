// Check-in and check-out: ask the browser for its position, fill the form's hidden
// latitude/longitude inputs, then submit. Without permission, support or a fix in
// time, the form is submitted without a position and the server records the check-in
// as unverified. Forms opt in with `data-geolocate`; `data-geolocate-if="<checkbox name>"`
// asks only while that checkbox is ticked (the report form's "check out now").
(function () {
  "use strict";

  var FIX_TIMEOUT_MS = 10000; // the API's own timeout, counted once permission is given
  var HARD_TIMEOUT_MS = 20000; // also covers a permission prompt left unanswered

  function statusNode(form) {
    return form.querySelector("[data-geo-status]") ||
      (form.parentElement && form.parentElement.parentElement &&
       form.parentElement.parentElement.querySelector("[data-geo-status]"));
  }

  function setInputs(form, latitude, longitude) {
    form.querySelectorAll("[data-geo='latitude']").forEach(function (input) { input.value = latitude; });
    form.querySelectorAll("[data-geo='longitude']").forEach(function (input) { input.value = longitude; });
  }

  function wanted(form) {
    var name = form.dataset.geolocateIf;
    if (!name) return true;
    var box = form.querySelector("input[name='" + name + "']");
    return !box || box.checked;
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-geolocate")) return;
    if (form.dataset.geoDone === "1" || !wanted(form) || !("geolocation" in navigator)) return;
    event.preventDefault();

    var buttons = form.querySelectorAll("button[type='submit']");
    buttons.forEach(function (button) { button.disabled = true; });
    var status = statusNode(form);
    if (status && form.dataset.locatingText) status.textContent = form.dataset.locatingText;

    var sent = false;
    function send(latitude, longitude) {
      if (sent) return;
      sent = true;
      setInputs(form, latitude, longitude);
      form.dataset.geoDone = "1";
      form.submit(); // no submit event: this handler does not run again
    }
    var timer = window.setTimeout(function () { send("", ""); }, HARD_TIMEOUT_MS);
    navigator.geolocation.getCurrentPosition(
      function (position) {
        window.clearTimeout(timer);
        send(position.coords.latitude.toFixed(6), position.coords.longitude.toFixed(6));
      },
      function () {
        window.clearTimeout(timer);
        send("", ""); // denied, unavailable or timed out: check in unverified
      },
      { enableHighAccuracy: true, timeout: FIX_TIMEOUT_MS, maximumAge: 60000 }
    );
  });

  // Back/forward cache: a page restored after submitting must be usable again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-geolocate]").forEach(function (form) {
      delete form.dataset.geoDone;
      form.querySelectorAll("button[type='submit']").forEach(function (button) { button.disabled = false; });
    });
  });
})();
