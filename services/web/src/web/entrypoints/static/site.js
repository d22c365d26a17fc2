// Progressive enhancement only: every page works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // Move focus to the error summary so screen readers and keyboards start at what needs fixing.
  var summary = document.querySelector("[data-focus-on-load]");
  if (summary) { summary.focus(); }
  // Back on the day after acting on an appointment: keyboard focus returns to that appointment (once the
  // browser has scrolled to it, which would otherwise reset the focus).
  if (!summary && /^#appt-[0-9a-f-]+$/.test(window.location.hash)) {
    window.addEventListener("load", function () {
      var block = document.querySelector(window.location.hash + " summary");
      if (block) { block.focus(); }
    });
  }

  // A second click while a form is on its way sends nothing (the server also accepts each form once).
  document.querySelectorAll("form").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.submitting === "yes") { event.preventDefault(); return; }
      form.dataset.submitting = "yes";
      form.querySelectorAll("[data-once]").forEach(function (button) {
        button.setAttribute("aria-disabled", "true");
        window.setTimeout(function () { button.disabled = true; }, 0);
      });
    });
  });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      document.querySelectorAll("form").forEach(function (form) { delete form.dataset.submitting; });
      document.querySelectorAll("[data-once]").forEach(function (b) { b.disabled = false; b.removeAttribute("aria-disabled"); });
    }
  });
});
