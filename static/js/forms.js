// forms.js: the error summary and the birth-date field (issue 14). Everything here is an
// enhancement: without JavaScript the summary is still the first thing in the form (and the page
// title starts with "Hata:"), and the birth date is accepted as "14031980" or "14.03.1980".
(function () {
  "use strict";

  // After a failed post the summary (templates/_error_summary.html) takes the focus, so a screen
  // reader reads it and a phone shows it, wherever the form is on the page.
  function focusSummary() {
    var summary = document.querySelector("[data-error-summary]");
    if (!summary) {
      return;
    }
    summary.focus();
    summary.scrollIntoView({ block: "start" });
  }

  // A summary link moves the focus to its field and keeps the field's label (or the legend of its
  // radio buttons) in view, instead of scrolling the input to the very top.
  function onSummaryClick(event) {
    var link = event.target.closest && event.target.closest("[data-error-summary] a[href^='#']");
    if (!link) {
      return;
    }
    var input = document.getElementById(link.getAttribute("href").slice(1));
    if (!input) {
      return;
    }
    event.preventDefault();
    var fieldset = input.closest("fieldset");
    var legend = fieldset && fieldset.querySelector("legend");
    var label = (input.id && document.querySelector("label[for='" + input.id + "']")) || null;
    var heading = legend && fieldset.contains(input) && input.type === "radio" ? legend : label;
    (heading || input).scrollIntoView({ block: "start" });
    input.focus({ preventScroll: true });
  }

  // "14031980" → "14.03.1980" as it is typed; "1.3." → "01.03."; deleting works (a dot is only
  // added before a digit that follows it). Mid-text edits are left alone.
  function formatDate(value) {
    var groups = ["", "", ""];
    var sizes = [2, 2, 4];
    var g = 0;
    for (var i = 0; i < value.length; i++) {
      var ch = value.charAt(i);
      if (ch >= "0" && ch <= "9") {
        if (groups[g].length === sizes[g]) {
          if (g === 2) {
            break;
          }
          g++;
        }
        groups[g] += ch;
      } else if (/[.\/\- ]/.test(ch) && g < 2 && groups[g].length > 0) {
        if (groups[g].length === 1) {
          groups[g] = "0" + groups[g];
        }
        g++;
      }
    }
    var out = groups[0];
    if (g >= 1) {
      out += "." + groups[1];
    }
    if (g >= 2) {
      out += "." + groups[2];
    }
    return out;
  }

  function onDateInput(event) {
    var input = event.target;
    if (!input.matches || !input.matches("[data-date-input]")) {
      return;
    }
    var atEnd = input.selectionStart === input.value.length;
    if (!atEnd) {
      return;
    }
    var formatted = formatDate(input.value);
    if (formatted !== input.value) {
      input.value = formatted;
      input.setSelectionRange(formatted.length, formatted.length);
    }
  }

  document.addEventListener("click", onSummaryClick);
  document.addEventListener("input", onDateInput);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", focusSummary);
  } else {
    focusSummary();
  }
})();
