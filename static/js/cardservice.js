// NES Portal: the client of the Akıllı Kart Servisi, the small program on the citizen's own
// computer that talks to the AKİS card (PKCS#11) and listens only on 127.0.0.1.
//
//   window.NesCard.status()        GET  <service>/v1/status
//   window.NesCard.certificates()  GET  <service>/v1/certificates
//   window.NesCard.sign(body)      POST <service>/v1/sign (JSON; the PIN goes only to the
//                                  service and the card, never to the portal)
//   window.NesCard.identify(list)  POST the portal's kart-sertifikalari endpoint: which of the
//                                  card's certificates (base64 DER) are ours, their status
//   window.NesCard.texts(id), .fill(text, values)
//                                  the page's texts (json_script) and their {placeholders}
//
// Each returns a Promise of {ok: bool, status: int, data: object}; {ok: false, status: 0} when
// the service (or the portal) cannot be reached or does not answer in time (3 s; signing gets
// longer, a real card takes a few seconds to check a PIN and sign).
//
// The service's address comes from <body data-card-service="…"> or any element with
// data-card-service; the identify endpoint's from data-card-identify-url, and the CSRF token
// from data-csrf-token or the csrftoken cookie. No inline scripts: this file is loaded by the
// pages that need it.
(function () {
  "use strict";

  var TIMEOUT_MS = 3000;
  var SIGN_TIMEOUT_MS = 30000;
  var DEFAULT_URL = "http://127.0.0.1:48620";

  function attribute(name, dataName) {
    if (document.body && document.body.dataset[dataName]) {
      return document.body.dataset[dataName];
    }
    var el = document.querySelector("[" + name + "]");
    return el ? el.getAttribute(name) : "";
  }

  function baseUrl() {
    return (attribute("data-card-service", "cardService") || DEFAULT_URL).replace(/\/+$/, "");
  }

  function csrfToken() {
    var token = attribute("data-csrf-token", "csrfToken");
    if (token) { return token; }
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function request(url, options, timeoutMs) {
    var controller = typeof AbortController === "function" ? new AbortController() : null;
    var timer = null;
    if (controller) {
      options.signal = controller.signal;
      timer = window.setTimeout(function () { controller.abort(); }, timeoutMs);
    }
    return window.fetch(url, options).then(function (response) {
      return response.text().then(function (text) {
        var data = {};
        try { data = text ? JSON.parse(text) : {}; } catch (e) { data = {}; }
        if (data === null || typeof data !== "object") { data = {}; }
        return { ok: response.ok, status: response.status, data: data };
      });
    }).catch(function () {
      return { ok: false, status: 0, data: {} };
    }).finally(function () {
      if (timer !== null) { window.clearTimeout(timer); }
    });
  }

  function serviceGet(path) {
    return request(baseUrl() + path, {
      method: "GET", mode: "cors", credentials: "omit", cache: "no-store",
      referrerPolicy: "no-referrer"
    }, TIMEOUT_MS);
  }

  window.NesCard = {
    baseUrl: baseUrl,
    status: function () { return serviceGet("/v1/status"); },
    certificates: function () { return serviceGet("/v1/certificates"); },
    sign: function (body) {
      function once() {
        return request(baseUrl() + "/v1/sign", {
          method: "POST", mode: "cors", credentials: "omit", cache: "no-store",
          referrerPolicy: "no-referrer",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(body)
        }, SIGN_TIMEOUT_MS);
      }
      // The service lets one PIN attempt per card through each second (a right one too): a
      // signature asked for right after another (a login, then an E-Onay) waits its turn once
      // instead of failing. A refused attempt is not a wrong PIN; the card never saw it.
      return once().then(function (answer) {
        var wait = Number(answer.data.retry_after);
        if (answer.status !== 429 || !(wait > 0 && wait <= 3)) { return answer; }
        return new Promise(function (resolve) {
          window.setTimeout(function () { resolve(once()); }, wait * 1000 + 100);
        });
      });
    },
    identify: function (certificatesB64, url) {
      var target = url || attribute("data-card-identify-url", "cardIdentifyUrl");
      return request(target, {
        method: "POST", credentials: "same-origin", cache: "no-store",
        headers: {
          "Content-Type": "application/json",
          "Accept": "application/json",
          "X-CSRFToken": csrfToken()
        },
        body: JSON.stringify({ certificates: certificatesB64 })
      }, TIMEOUT_MS * 2);
    },
    csrfToken: csrfToken,
    // The texts of a page's script: the JSON of <script type="application/json" id=…> (Django's
    // json_script), in the visitor's language; {} when absent or broken.
    texts: function (id) {
      var el = document.getElementById(id);
      try { return el ? JSON.parse(el.textContent) : {}; } catch (e) { return {}; }
    },
    // "{n} …" with the values filled in; a placeholder without a value stays as it is.
    fill: function (text, values) {
      return String(text || "").replace(/\{(\w+)\}/g, function (all, key) {
        return Object.prototype.hasOwnProperty.call(values || {}, key) ? String(values[key]) : all;
      });
    }
  };
})();
