// NES Portal: the idle-logout warning ("Oturumu uzat") and the end of the PIN/PUK view grant.
// No inline scripts; the server gives every figure through data- attributes (templates/base.html,
// templates/pinvault/pinpuk_show.html). Without JavaScript nothing changes: the session still ends
// on the server after 10 idle minutes and the PIN/PUK page asks for a new code once reloaded.
(function () {
  "use strict";

  var STORE_KEY = "nes-session-deadline"; // shared by the citizen's tabs of this site

  function mmss(seconds) {
    var s = Math.max(0, Math.ceil(seconds));
    return String(Math.floor(s / 60)).padStart(2, "0") + ":" + String(s % 60).padStart(2, "0");
  }

  function csrfToken() {
    // Every page of base.html carries the token in its forms (the language switch at least);
    // the CSRF cookie itself is HttpOnly (CSRF_COOKIE_HTTPONLY), so the page cannot read it.
    var input = document.querySelector("input[name='csrfmiddlewaretoken']");
    return input ? input.value : "";
  }

  function postForm(url) {
    // A real form POST (not fetch): the browser follows the redirect to the login page.
    var form = document.createElement("form");
    form.method = "post";
    form.action = url;
    var token = document.createElement("input");
    token.type = "hidden";
    token.name = "csrfmiddlewaretoken";
    token.value = csrfToken();
    form.appendChild(token);
    document.body.appendChild(form);
    form.submit();
  }

  function readStored() {
    try { return parseInt(window.localStorage.getItem(STORE_KEY), 10) || 0; } catch (e) { return 0; }
  }

  function store(deadline) {
    try { window.localStorage.setItem(STORE_KEY, String(deadline)); } catch (e) { /* private mode */ }
  }

  function sessionTimer(body) {
    var dialog = document.querySelector("[data-session-warning-dialog]");
    if (!dialog) { return; }
    var countdown = dialog.querySelector("[data-session-countdown]");
    var extendButton = dialog.querySelector("[data-session-extend]");
    var error = dialog.querySelector("[data-session-error]");
    var status = document.querySelector("[data-session-status]");
    var lead = (parseInt(body.dataset.sessionWarning, 10) || 120) * 1000;
    var deadline = Date.now() + (parseInt(body.dataset.sessionSeconds, 10) || 0) * 1000;
    var returnFocus = null;
    var ended = false;
    var busy = false;

    // Another tab of this session may have been used (or extended) since this page loaded.
    var stored = readStored();
    if (stored > deadline) { deadline = stored; } else { store(deadline); }
    window.addEventListener("storage", function (event) {
      if (event.key === STORE_KEY) {
        var other = parseInt(event.newValue, 10) || 0;
        if (other > deadline) { deadline = other; tick(); }
      }
    });

    function isOpen() { return dialog.hasAttribute("open"); }

    function open() {
      if (isOpen()) { return; }
      returnFocus = document.activeElement;
      error.hidden = true;
      if (typeof dialog.showModal === "function") { dialog.showModal(); } else { dialog.setAttribute("open", ""); }
      extendButton.focus();
    }

    function close() {
      if (!isOpen()) { return; }
      if (typeof dialog.close === "function") { dialog.close(); } else { dialog.removeAttribute("open"); }
      if (returnFocus && typeof returnFocus.focus === "function" && document.contains(returnFocus)) {
        returnFocus.focus();
      }
    }

    function end() {
      if (ended) { return; }
      ended = true;
      postForm(body.dataset.sessionEndedUrl);
    }

    function extend() {
      if (busy || ended) { return; }
      busy = true;
      fetch(body.dataset.sessionExtendUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(), "X-Requested-With": "XMLHttpRequest", "Accept": "application/json" }
      })
        .then(function (r) {
          if (r.status === 401) { end(); throw new Error("ended"); }
          if (!r.ok) { throw new Error(String(r.status)); }
          return r.json();
        })
        .then(function (data) {
          deadline = Date.now() + data.seconds_left * 1000;
          store(deadline);
          close();
          if (status) {
            status.textContent = "";
            window.setTimeout(function () { status.textContent = status.dataset.extendedText; }, 50);
          }
        })
        .catch(function () { if (!ended) { error.hidden = false; } })
        .then(function () { busy = false; tick(); });
    }

    function tick() {
      if (ended) { return; }
      var left = deadline - Date.now();
      if (left <= 0) { end(); return; }
      if (left <= lead) {
        countdown.textContent = mmss(left / 1000);
        open();
      } else if (isOpen()) {
        close(); // another tab extended the session
      }
    }

    extendButton.addEventListener("click", extend);
    // Escape means "I am here": like the button, it keeps the session (it never just hides the
    // warning while the clock runs on).
    dialog.addEventListener("cancel", function (event) { event.preventDefault(); extend(); });
    // Chromium may close a modal dialog on a repeated Escape despite preventDefault: if it was
    // closed while the warning is still due, that too means "keep the session".
    dialog.addEventListener("close", function () {
      if (!ended && deadline - Date.now() <= lead) { extend(); }
    });
    window.setInterval(tick, 1000);
    tick();
  }

  function grantTimer(box) {
    var left = parseInt(box.dataset.grantSeconds, 10) || 0;
    var ends = Date.now() + left * 1000;
    var notice = document.querySelector("[data-secrets-hidden-notice]");
    function hide() {
      // Removed from the page, not just hidden: nothing left to read back with the inspector.
      document.querySelectorAll("[data-secret]").forEach(function (el) {
        var placeholder = document.createElement("span");
        placeholder.className = "secret-hidden";
        placeholder.textContent = "••••••";
        placeholder.setAttribute("aria-hidden", "true");
        el.replaceWith(placeholder);
      });
      if (notice) {
        notice.hidden = false;
        notice.focus();
      }
    }
    function check() {
      if (Date.now() >= ends) { hide(); return; }
      window.setTimeout(check, Math.min(1000, Math.max(0, ends - Date.now())));
    }
    check();
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (document.body.dataset.sessionSeconds) { sessionTimer(document.body); }
    var grant = document.querySelector("[data-grant-seconds]");
    if (grant && document.querySelector("[data-secret]")) { grantTimer(grant); }
  });
})();
