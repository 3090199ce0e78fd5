// captcha.js: the captcha's "Yenile" and its audio (issue 14). Everything here is an enhancement
// of templates/captcha/widgets/captcha.html: without JavaScript "Yenile" does nothing (the next
// page shows a new captcha) and "Sesli dinle" is a link that opens the WAV in the browser.
// No inline scripts: everything is wired through data- attributes.
(function () {
  "use strict";

  // The audio of one captcha box: "Sesli dinle" becomes a button that shows the player and
  // plays the audio of the current key; "Tekrar dinle" plays it again from the start. The focus
  // stays where it is: a screen reader announcing a moved focus would talk over the audio.
  function setUpAudio(box) {
    var link = box.querySelector("[data-captcha-audio-link]");
    var player = box.querySelector("[data-captcha-player]");
    if (!link || !player) {
      return;
    }
    var audio = player.querySelector("[data-captcha-audio]");
    var replay = player.querySelector("[data-captcha-replay]");
    var error = player.querySelector("[data-captcha-audio-error]");
    var loaded = ""; // the URL the player holds, "" before the first "Sesli dinle"

    var listen = document.createElement("button");
    listen.type = "button";
    listen.className = "secondary small";
    listen.textContent = link.textContent;
    listen.setAttribute("aria-controls", player.id);
    listen.setAttribute("data-captcha-listen", "");
    link.hidden = true; // kept: "Yenile" writes the new key's URL into it
    link.parentNode.insertBefore(listen, link);

    function load(url) {
      error.textContent = "";
      audio.pause();
      audio.preload = "auto";
      audio.src = url;
      loaded = url;
      audio.load();
    }

    function play() {
      player.hidden = false;
      if (loaded !== link.href) {
        load(link.href);
      } else {
        audio.currentTime = 0;
      }
      var started = audio.play();
      if (started && started.catch) {
        started.catch(function () { /* refused or failed: the "error" handler explains */ });
      }
    }

    listen.addEventListener("click", play);
    replay.addEventListener("click", play);
    audio.addEventListener("error", function () {
      if (loaded) {
        error.textContent = error.dataset.message;
      }
    });
    // After "Yenile" an opened player holds the new key's audio (not played until asked).
    box.addEventListener("nes:captcha-refreshed", function () {
      if (loaded) {
        load(link.href);
      }
    });
  }

  // "Yenile": a new key, image and audio URL in place; what was typed elsewhere stays.
  function refreshCaptcha(button) {
    var field = button.closest(".field") || document;
    var box = button.closest("[data-captcha]") || field.querySelector("[data-captcha]");
    fetch(button.dataset.url, { headers: { "X-Requested-With": "XMLHttpRequest" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (data) {
        field.querySelector("[data-captcha-image]").src = data.image_url;
        var key = field.querySelector("input[name='captcha_0']");
        if (key) { key.value = data.key; }
        var link = field.querySelector("[data-captcha-audio-link]");
        if (link && data.audio_url) { link.href = data.audio_url; }
        if (box) { box.dispatchEvent(new CustomEvent("nes:captcha-refreshed")); }
        var text = field.querySelector("input[name='captcha_1']");
        if (text) { text.value = ""; text.focus(); }
      })
      .catch(function () { window.location.reload(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-captcha]").forEach(setUpAudio);
    document.querySelectorAll("[data-captcha-refresh]").forEach(function (b) {
      b.addEventListener("click", function () { refreshCaptcha(b); });
    });
  });
})();
