// NES Portal: E-Onay signed with the card (templates/eonay/index.html, _card_dialog.html).
//
// Each "Kartımla İmzala" button (data-eonay-card-button, data-prepare-url) stays hidden until
// the Akıllı Kart Servisi answers on this computer (window.NesCard, static/js/cardservice.js);
// without it the SMS Onay Kodu buttons are all there is. A click:
//   1. POSTs the prepare URL: the portal makes the E-Onay text (its own nonce and time) and
//      keeps it in the session; the dialog shows the statement and the whole text;
//   2. reads the card's certificates (NesCard.certificates) and asks the portal which one is
//      the citizen's own usable certificate (NesCard.identify);
//   3. on "Kartımla İmzala" sends the text and the PIN to the card service only
//      (NesCard.sign({kind: "consent", ...})): the PIN never goes to the portal;
//   4. POSTs the CMS to the portal and reloads the E-Onay page.
(function () {
  "use strict";

  var dialog = document.querySelector("dialog[data-eonay-card]");
  if (!dialog || !window.NesCard) { return; }
  var buttons = Array.prototype.slice.call(document.querySelectorAll("[data-eonay-card-button]"));
  if (!buttons.length) { return; }

  var $ = function (name) { return dialog.querySelector("[data-card-" + name + "]"); };
  var texts = {};
  Array.prototype.forEach.call(dialog.querySelectorAll("[data-card-texts] li"), function (li) {
    texts[li.getAttribute("data-key")] = li.textContent;
  });
  // The CSRF token of the page's own forms (the cookie is HttpOnly); NesCard.identify reads it
  // from data-csrf-token too.
  var tokenInput = document.querySelector("input[name=csrfmiddlewaretoken]");
  var csrf = tokenInput ? tokenInput.value : "";
  dialog.setAttribute("data-csrf-token", csrf);
  var state = null; // {postUrl, text, certificate: {token_serial, id}}
  var busy = false;

  function say(key, values) {
    var text = texts[key] || key;
    Object.keys(values || {}).forEach(function (name) {
      text = text.split("{" + name + "}").join(String(values[name]));
    });
    return text;
  }

  function status(text) { $("status").textContent = text || ""; }

  function error(text) {
    $("error-text").textContent = text || "";
    $("error").hidden = !text;
    if (text) { status(""); }
  }

  function open() {
    if (typeof dialog.showModal === "function") { dialog.showModal(); }
    else { dialog.setAttribute("open", ""); }
  }

  function close() {
    $("pin").value = "";
    state = null;
    if (typeof dialog.close === "function" && dialog.open) { dialog.close(); }
    else { dialog.removeAttribute("open"); }
  }

  function portalPost(url, body) {
    return window.fetch(url, {
      method: "POST",
      credentials: "same-origin",
      cache: "no-store",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRFToken": csrf
      },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { ok: response.ok, status: response.status, data: data || {} };
      });
    }).catch(function () { return { ok: false, status: 0, data: {} }; });
  }

  function usableCertificate(listed) {
    var certificates = (listed.data.certificates || []).filter(function (c) { return c.has_key; });
    if (!certificates.length) { return Promise.resolve(null); }
    var ders = certificates.map(function (c) { return c.der_b64; });
    return window.NesCard.identify(ders).then(function (answer) {
      if (!answer.ok) { return null; }
      var mine = (answer.data.certificates || []).filter(function (entry) {
        return entry.usable && entry.yours;
      });
      if (!mine.length) { return null; }
      var chosen = certificates[mine[0].index];
      return {
        token_serial: chosen.token_serial,
        id: chosen.id,
        label: mine[0].subject_name + " — " + mine[0].serial
      };
    });
  }

  function start(button) {
    if (busy) { return; }
    busy = true;
    error("");
    $("chosen").hidden = true;
    $("statement").textContent = "";
    $("text").textContent = "";
    status(say("preparing"));
    open();
    portalPost(button.getAttribute("data-prepare-url")).then(function (prepared) {
      if (!prepared.ok) {
        error(prepared.data.error || say("portal_unreachable"));
        return null;
      }
      state = { postUrl: prepared.data.post_url, text: prepared.data.text, certificate: null };
      $("statement").textContent = prepared.data.statement;
      $("text").textContent = prepared.data.text;
      status(say("reading"));
      return window.NesCard.certificates().then(function (listed) {
        if (!listed.ok) { error(say(listed.status === 0 ? "absent" : "no_card")); return; }
        if (!(listed.data.certificates || []).length) { error(say("no_card")); return; }
        return usableCertificate(listed).then(function (certificate) {
          if (!certificate) { error(say("no_usable")); return; }
          state.certificate = certificate;
          $("certificate").textContent = certificate.label;
          $("chosen").hidden = false;
          status(say("ready"));
          $("pin").focus();
        });
      });
    }).finally(function () { busy = false; });
  }

  function signError(answer) {
    var code = answer.data.error || "";
    if (answer.status === 0) { return say("absent"); }
    if (code === "pin_incorrect") { return say("pin_incorrect", { n: answer.data.tries_left }); }
    if (texts[code]) { return say(code); }
    return say("service_refused", { code: code || answer.status });
  }

  function submit(event) {
    event.preventDefault();
    if (busy || !state || !state.certificate) { return; }
    var pin = $("pin").value;
    $("pin").value = "";
    if (!/^[0-9]{4,16}$/.test(pin)) { error(say("pin_malformed")); $("pin").focus(); return; }
    busy = true;
    error("");
    status(say("signing"));
    $("submit").disabled = true;
    window.NesCard.sign({
      kind: "consent",
      token_serial: state.certificate.token_serial,
      certificate_id: state.certificate.id,
      pin: pin,
      text: state.text
    }).then(function (signed) {
      pin = "";
      if (!signed.ok) { error(signError(signed)); $("pin").focus(); return; }
      status(say("sending"));
      return portalPost(state.postUrl, { cms: signed.data.cms_b64 }).then(function (posted) {
        if (posted.ok && posted.data.ok) {
          status(say("done"));
          window.location.assign(posted.data.redirect || window.location.href);
          return;
        }
        // The text is spent either way: a new attempt starts from the button again.
        state.certificate = null;
        $("chosen").hidden = true;
        error(posted.data.error || say("portal_unreachable"));
      });
    }).finally(function () {
      busy = false;
      $("submit").disabled = false;
    });
  }

  $("form").addEventListener("submit", submit);
  $("close").addEventListener("click", close);
  dialog.addEventListener("close", function () { $("pin").value = ""; state = null; });
  buttons.forEach(function (button) {
    button.addEventListener("click", function () { start(button); });
  });

  // Show the card buttons only when the card service answers on this computer.
  window.NesCard.status().then(function (answer) {
    if (!answer.ok || !answer.data.module_loaded) { return; }
    buttons.forEach(function (button) { button.hidden = false; });
    Array.prototype.forEach.call(document.querySelectorAll("[data-eonay-card-help]"), function (p) {
      p.hidden = false;
    });
  });
})();
