// NES Portal: the SMS code countdown and the resend button's timer (the captcha's "Yenile" and
// audio are in captcha.js).
// No inline scripts: everything is wired through data- attributes.
(function () {
  "use strict";

  function countdown(el) {
    var left = parseInt(el.dataset.countdown, 10) || 0;
    var value = el.querySelector("[data-countdown-value]");
    function tick() {
      if (left <= 0) { el.textContent = el.dataset.expiredText; el.classList.add("expired"); return; }
      value.textContent = String(Math.floor(left / 60)).padStart(2, "0") + ":" + String(left % 60).padStart(2, "0");
      left -= 1;
      window.setTimeout(tick, 1000);
    }
    tick();
  }

  function enableLater(button) {
    var left = parseInt(button.dataset.enableIn, 10) || 0;
    var note = button.parentElement.querySelector("[data-enable-note]");
    if (left <= 0) { button.disabled = false; return; }
    window.setTimeout(function () {
      button.disabled = false;
      if (note) { note.textContent = ""; }
    }, left * 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-countdown]").forEach(countdown);
    document.querySelectorAll("[data-enable-in]").forEach(enableLater);
  });
})();
