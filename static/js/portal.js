// NES Portal: captcha refresh ("Yenile"), SMS code countdown and the resend button's timer.
// No inline scripts: everything is wired through data- attributes.
(function () {
  "use strict";

  function refreshCaptcha(button) {
    var box = button.closest(".field") || document;
    fetch(button.dataset.url, { headers: { "X-Requested-With": "XMLHttpRequest" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (data) {
        box.querySelector("[data-captcha-image]").src = data.image_url;
        var key = box.querySelector("input[name='captcha_0']");
        if (key) { key.value = data.key; }
        var audio = box.querySelector("[data-captcha-audio]");
        if (audio && data.audio_url) { audio.href = data.audio_url; }
        var text = box.querySelector("input[name='captcha_1']");
        if (text) { text.value = ""; text.focus(); }
      })
      .catch(function () { window.location.reload(); });
  }

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
    document.querySelectorAll("[data-captcha-refresh]").forEach(function (b) {
      b.addEventListener("click", function () { refreshCaptcha(b); });
    });
    document.querySelectorAll("[data-countdown]").forEach(countdown);
    document.querySelectorAll("[data-enable-in]").forEach(enableLater);
  });
})();
