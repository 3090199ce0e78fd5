// NES Portal: Kart Kontrol, the card check page (like Kamu SM's KASİF, in the browser).
// Each check of the page ([data-check]) gets ✓ or ✗ (and the advice under a failed one):
// the service, the PKCS#11 module, the reader, the card, certificates of ours on it, our
// record and live status (the portal's identify endpoint), whose they are when logged in, and
// the PIN tries left from the token's flags. No PIN is asked, nothing is signed.
(function () {
  "use strict";

  var fill = window.NesCard ? window.NesCard.fill : String;

  function setup(root) {
    var T = window.NesCard.texts("card-check-texts");
    var summary = root.querySelector("[data-check-summary]");
    var again = root.querySelector("[data-check-again]");
    var checks = {};
    root.querySelectorAll("[data-check]").forEach(function (li) { checks[li.dataset.check] = li; });
    var running = false;

    function set(name, state, detail) {
      var li = checks[name];
      if (!li) { return; }
      li.className = "check-" + state;
      li.dataset.state = state;
      li.querySelector(".check-mark").textContent =
        state === "pass" ? "✓" : state === "fail" ? "✗" : state === "wait" ? "…" : "–";
      li.querySelector("[data-check-state]").textContent =
        state === "pass" ? T.pass : state === "fail" ? T.fail : state === "skip" ? T.skip : "";
      var detailEl = li.querySelector("[data-check-detail]");
      if (detailEl && detailEl.tagName !== "UL") {
        detailEl.textContent = detail || (state === "skip" ? T.skipped : "");
      }
      var advice = li.querySelector("[data-check-advice]");
      if (advice) { advice.hidden = state !== "fail"; }
    }

    function skipFrom(names) { names.forEach(function (n) { set(n, "skip"); }); }

    function listCertificates(entries) {
      var ul = checks.status && checks.status.querySelector("[data-check-list]");
      if (!ul) { return; }
      ul.textContent = "";
      entries.forEach(function (entry) {
        var li = document.createElement("li");
        var name = document.createElement("strong");
        name.textContent = entry.subject_name + " ";
        var status = document.createElement("span");
        status.className = "status status-" + entry.status;
        status.textContent = entry.status_label;
        var serial = document.createElement("span");
        serial.className = "serial";
        serial.textContent = " " + entry.serial;
        var message = document.createElement("p");
        message.textContent = entry.message;
        li.appendChild(name);
        li.appendChild(status);
        li.appendChild(serial);
        li.appendChild(message);
        ul.appendChild(li);
      });
    }

    function finish() {
      var failed = root.querySelectorAll("[data-check][data-state=fail]").length;
      summary.textContent = failed ? fill(T.some_failed, { n: failed }) : T.all_passed;
      running = false;
      again.disabled = false;
    }

    function pinCheck(cardsList) {
      var worst = null;
      cardsList.forEach(function (card) {
        var state = card.locked ? "locked" : (card.pin || "ok");
        var rank = { ok: 0, count_low: 1, final_try: 2, locked: 3 }[state] || 0;
        if (!worst || rank > worst.rank) { worst = { rank: rank, state: state, card: card }; }
      });
      if (!worst) { set("pin", "skip"); return; }
      if (worst.state === "locked") { set("pin", "fail", T.pin_locked); return; }
      var left = worst.card.pin_tries_left;
      var detail = typeof left === "number" ? fill(T.pin_tries, { n: left }) : T.pin_ok;
      if (worst.state === "count_low") { detail += " " + T.pin_count_low; }
      if (worst.state === "final_try") { detail += " " + T.pin_final_try; }
      set("pin", "pass", detail);
    }

    function run() {
      if (running) { return; }
      running = true;
      again.disabled = true;
      summary.textContent = T.checking;
      Object.keys(checks).forEach(function (name) { set(name, "wait"); });
      var url = window.NesCard.baseUrl();
      var rest = ["module", "reader", "card", "certificates", "status", "yours", "pin"];
      window.NesCard.status().then(function (answer) {
        var data = answer.data || {};
        if (!answer.ok || data.service !== "nes-kart-servisi") {
          set("service", "fail", answer.status === 403
            ? fill(T.service_refused, { code: data.error || answer.status })
            : fill(T.service_absent, { url: url }));
          skipFrom(rest);
          return null;
        }
        set("service", "pass", fill(T.service_ok, { version: data.version || "?", url: url }));
        rest.shift();
        if (!data.module_loaded) {
          set("module", "fail", fill(T.module_failed, { error: data.module_error || "" }));
          skipFrom(rest);
          return null;
        }
        set("module", "pass", "");
        rest.shift();
        var readers = data.readers || [];
        if (!readers.length) { set("reader", "fail", T.no_reader); skipFrom(rest); return null; }
        set("reader", "pass", fill(T.readers_found, {
          n: readers.length,
          names: readers.map(function (r) { return r.description; }).join(", ")
        }));
        rest.shift();
        var cardsList = readers.filter(function (r) { return r.card_present && r.card; })
          .map(function (r) { return r.card; });
        if (!cardsList.length) { set("card", "fail", T.no_card); skipFrom(rest); return null; }
        set("card", "pass", cardsList.map(function (c) {
          return fill(T.card_found, { label: c.label, serial: c.serial });
        }).join("; "));
        pinCheck(cardsList);
        return window.NesCard.certificates().then(function (found) {
          var certificates = (found.ok && found.data.certificates) || [];
          if (!certificates.length) {
            set("certificates", "fail", T.no_certificates);
            skipFrom(["status", "yours"]);
            return null;
          }
          var ders = certificates.slice(0, 16).map(function (c) { return c.der_b64; });
          return window.NesCard.identify(ders).then(function (identified) {
            if (!identified.ok) {
              set("certificates", "fail", T.portal_unreachable);
              skipFrom(["status", "yours"]);
              return null;
            }
            var entries = identified.data.certificates || [];
            var ours = entries.filter(function (e) { return e.ours; });
            var detail = fill(T.certificates_found, { ours: ours.length, foreign: entries.length - ours.length });
            if (!ours.length) { set("certificates", "fail", detail); skipFrom(["status", "yours"]); return null; }
            set("certificates", "pass", detail);
            listCertificates(ours);
            var usable = ours.filter(function (e) { return e.usable; });
            set("status", usable.length ? "pass" : "fail");
            if (checks.yours) {
              if (!usable.length) { set("yours", "skip"); }
              else if (usable.some(function (e) { return e.yours; })) { set("yours", "pass", T.yours_ok); }
              else { set("yours", "fail", T.yours_not); }
            }
            return null;
          });
        });
      }).then(finish, finish);
    }

    again.addEventListener("click", run);
    run();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.querySelector("[data-card-check]");
    if (root && window.NesCard) { setup(root); }
  });
})();
