// NES Portal: E-İmzalı Giriş with the AKİS card through the Akıllı Kart Servisi (cardservice.js).
//
// 1. Find the service (NesCard.status); absent → the install help with "Tekrar dene".
// 2. Read the card's certificates (NesCard.certificates) and ask the portal which are ours
//    (NesCard.identify): ours are listed, usable first; the others show why they cannot be used
//    and cannot be chosen.
// 3. One button: a fresh challenge from the portal (GET …/soru/, bound to this browser by its
//    cookie), the card signs it (NesCard.sign, the PIN goes only to the service), the signature
//    and the certificate are posted to the portal (Accept: application/json, X-CSRFToken), and
//    the browser goes where the portal says.
// The texts come from the page (<script type="application/json" id="esign-card-texts">).
(function () {
  "use strict";

  var PIN_FORMAT = /^[0-9]{4,16}$/;

  var fill = window.NesCard ? window.NesCard.fill : String;

  function setup(root) {
    var T = window.NesCard.texts("esign-card-texts");
    var progress = root.querySelector("[data-card-progress]");
    var errorBox = root.querySelector("[data-card-error]");
    var panels = root.querySelectorAll("[data-card-panel]");
    var problem = root.querySelector("[data-card-problem]");
    var form = root.querySelector("[data-card-form]");
    var list = root.querySelector("[data-card-certificates]");
    var foreignNote = root.querySelector("[data-card-foreign]");
    var pin = root.querySelector("[data-card-pin]");
    var pinState = root.querySelector("[data-card-pin-state]");
    var submit = root.querySelector("[data-card-submit]");
    var cards = {};      // token serial → the card of /v1/status
    var choices = [];    // {entry, certificate}
    var busy = false;

    function show(name) {
      panels.forEach(function (panel) { panel.hidden = panel.dataset.cardPanel !== name; });
    }

    function say(text) { progress.textContent = text || ""; }

    function clearError() { errorBox.hidden = true; errorBox.textContent = ""; }

    function showError(text, link) {
      errorBox.textContent = "";
      var p = document.createElement("p");
      p.textContent = text;
      errorBox.appendChild(p);
      if (link) {
        var a = document.createElement("a");
        a.href = link.href;
        a.textContent = link.text;
        var q = document.createElement("p");
        q.appendChild(a);
        errorBox.appendChild(q);
      }
      errorBox.hidden = false;
      // Keyboard and screen reader users land on the message (role="alert" announces it).
      errorBox.setAttribute("tabindex", "-1");
      errorBox.focus();
    }

    function unlockLink() { return { href: T.unlock_url, text: T.unlock_link }; }

    function showProblem(text) {
      problem.textContent = text;
      say("");
      show("problem");
    }

    function pinStateOf(card) {
      if (!card) { return ""; }
      if (card.locked || card.pin === "locked") { return "locked"; }
      return card.pin || "ok";
    }

    function updatePinState(card) {
      var state = pinStateOf(card);
      pinState.hidden = true;
      pinState.textContent = "";
      if (state === "count_low" || state === "final_try") {
        pinState.textContent = state === "final_try" ? T.pin_final_try : T.pin_count_low;
        pinState.hidden = false;
      }
      if (state === "locked") {
        submit.disabled = true;
        showError(T.pin_locked, unlockLink());
      } else if (!busy) {
        submit.disabled = false;
      }
    }

    function selected() {
      var radio = list.querySelector("input[type=radio]:checked");
      return radio ? choices[parseInt(radio.value, 10)] : null;
    }

    function render(entries, certificates) {
      list.textContent = "";
      choices = [];
      var foreign = 0;
      var usable = 0;
      entries.forEach(function (entry) {
        var certificate = certificates[entry.index];
        if (!entry.ours) { foreign += 1; return; }
        var canUse = entry.usable && certificate.has_key !== false;
        var i = choices.length;
        choices.push({ entry: entry, certificate: certificate });
        var li = document.createElement("li");
        var label = document.createElement("label");
        label.className = "choice-row card-cert" + (canUse ? "" : " unusable");
        var radio = document.createElement("input");
        radio.type = "radio";
        radio.name = "card-certificate";
        radio.value = String(i);
        radio.id = "card-certificate-" + i;
        radio.disabled = !canUse;
        label.htmlFor = radio.id;
        var body = document.createElement("span");
        body.className = "card-cert-body";
        var name = document.createElement("strong");
        name.textContent = entry.subject_name;
        var status = document.createElement("span");
        status.className = "status status-" + entry.status;
        status.textContent = entry.status_label;
        var serial = document.createElement("span");
        serial.className = "serial";
        serial.textContent = entry.serial;
        body.appendChild(name);
        body.appendChild(document.createTextNode(" "));
        body.appendChild(status);
        body.appendChild(document.createElement("br"));
        body.appendChild(serial);
        if (!canUse) {
          var why = document.createElement("span");
          why.className = "card-cert-why";
          why.id = "card-certificate-why-" + i;
          why.textContent = entry.usable ? T.no_key : entry.message;
          radio.setAttribute("aria-describedby", why.id);
          body.appendChild(why);
        } else {
          usable += 1;
        }
        label.appendChild(radio);
        label.appendChild(body);
        li.appendChild(label);
        list.appendChild(li);
      });
      foreignNote.hidden = foreign === 0;
      foreignNote.textContent = foreign ? fill(T.foreign_note, { n: foreign }) : "";
      var first = list.querySelector("input[type=radio]:not(:disabled)");
      if (first) { first.checked = true; }
      return usable;
    }

    function readCard() {
      if (busy) { return; }
      clearError();
      say(T.checking);
      show("");
      window.NesCard.status().then(function (answer) {
        var data = answer.data || {};
        if (!answer.ok || data.service !== "nes-kart-servisi") {
          if (answer.status === 403) {
            showProblem(fill(T.service_refused, { code: data.error || answer.status }));
          } else {
            say(T.absent);
            show("absent");
          }
          return null;
        }
        if (!data.module_loaded) { showProblem(T.module); return null; }
        var readers = data.readers || [];
        if (!readers.length) { showProblem(T.no_reader); return null; }
        cards = {};
        readers.forEach(function (reader) {
          if (reader.card_present && reader.card) { cards[reader.card.serial] = reader.card; }
        });
        if (!Object.keys(cards).length) { showProblem(T.no_card); return null; }
        return window.NesCard.certificates().then(function (found) {
          if (!found.ok) { showProblem(found.status === 0 ? T.service_gone : T.card_absent); return null; }
          var certificates = (found.data && found.data.certificates) || [];
          if (!certificates.length) { showProblem(T.no_certificates); return null; }
          var ders = certificates.slice(0, 16).map(function (c) { return c.der_b64; });
          return window.NesCard.identify(ders).then(function (identified) {
            if (!identified.ok) { showProblem(T.portal_unreachable); return null; }
            var entries = identified.data.certificates || [];
            if (!entries.some(function (e) { return e.ours; })) { showProblem(T.none_ours); return null; }
            var usable = render(entries, certificates);
            show("login");
            say(usable ? T.ready : T.no_usable);
            submit.disabled = usable === 0;
            var choice = selected();
            updatePinState(choice ? cards[choice.certificate.token_serial] : cards[Object.keys(cards)[0]]);
            if (usable === 0) { submit.disabled = true; }
            return null;
          });
        });
      });
    }

    function signError(answer, choice) {
      var data = answer.data || {};
      if (answer.status === 0) { return { text: T.service_gone, retry: true }; }
      if (data.error === "pin_incorrect" && data.tries_left === 0) { data.error = "pin_locked"; }
      switch (data.error) {
        case "pin_incorrect":
          var left = typeof data.tries_left === "number" ? data.tries_left : "?";
          return { text: fill(T.pin_incorrect, { n: left }), focusPin: true };
        case "pin_locked":
          var card = cards[choice.certificate.token_serial];
          if (card) { card.pin = "locked"; card.locked = true; }
          submit.disabled = true;
          return { text: T.pin_locked, link: unlockLink() };
        case "pin_malformed": return { text: T.pin_malformed, focusPin: true };
        case "card_absent": return { text: T.card_absent, retry: true };
        case "certificate_not_found": return { text: T.certificate_not_found, retry: true };
        case "rate_limited": return { text: T.rate_limited };
        case "module_unavailable": return { text: T.module, retry: true };
        default: return { text: fill(T.service_refused, { code: data.error || answer.status }) };
      }
    }

    function portalJson(response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { ok: response.ok, status: response.status, data: data || {} };
      });
    }

    function logIn(event) {
      event.preventDefault();
      if (busy) { return; }
      clearError();
      var choice = selected();
      if (!choice) { showError(T.choose); return; }
      var code = pin.value.trim();
      if (!PIN_FORMAT.test(code)) { showError(T.pin_malformed); pin.focus(); return; }
      busy = true;
      submit.disabled = true;
      root.setAttribute("aria-busy", "true");
      say(T.signing);
      var challenge;
      window.fetch(root.dataset.challengeUrl, {
        credentials: "same-origin", cache: "no-store", headers: { "Accept": "application/json" }
      }).then(portalJson).then(function (answer) {
        if (!answer.ok) { throw { text: answer.data.error || T.portal_unreachable }; }
        challenge = answer.data;
        return window.NesCard.sign({
          kind: "login",
          token_serial: choice.certificate.token_serial,
          certificate_id: choice.certificate.id,
          pin: code,
          challenge_id: challenge.challenge_id,
          nonce_b64: challenge.nonce_b64
        });
      }).then(function (signed) {
        pin.value = "";  // never kept in the page longer than the signature needs
        code = "";
        if (!signed.ok) { throw signError(signed, choice); }
        var card = cards[choice.certificate.token_serial];
        if (card) { card.pin = "ok"; card.locked = false; }
        say(T.sending);
        var body = new FormData();
        body.append("challenge_id", challenge.challenge_id);
        body.append("signature", signed.data.signature_b64);
        body.append("certificate", signed.data.certificate_der_b64 || choice.certificate.der_b64);
        return window.fetch(challenge.post_url, {
          method: "POST", credentials: "same-origin", cache: "no-store", body: body,
          headers: { "Accept": "application/json", "X-CSRFToken": challenge.csrf_token }
        }).then(portalJson);
      }).then(function (answer) {
        if (answer.ok && answer.data.ok && answer.data.redirect) {
          say(T.done);
          window.location.assign(answer.data.redirect);
          return;
        }
        throw { text: answer.data.error || T.portal_refused };
      }).catch(function (failure) {
        pin.value = "";
        busy = false;
        root.removeAttribute("aria-busy");
        say("");
        var text = failure && failure.text ? failure.text : T.portal_unreachable;
        showError(text, failure && failure.link);
        var card = cards[choice.certificate.token_serial];
        if (pinStateOf(card) !== "locked") { submit.disabled = false; }
        if (failure && failure.focusPin) { pin.focus(); }
      });
    }

    root.querySelectorAll("[data-card-retry]").forEach(function (button) {
      button.addEventListener("click", readCard);
    });
    form.addEventListener("submit", logIn);
    list.addEventListener("change", function () {
      var choice = selected();
      if (choice) { clearError(); updatePinState(cards[choice.certificate.token_serial]); }
    });
    readCard();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.querySelector("[data-esign-card]");
    if (root && window.NesCard) { setup(root); }
  });
})();
