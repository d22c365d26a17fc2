// Progressive enhancement only: every page works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // Move focus to the error summary so screen readers and keyboards start at what needs fixing.
  var summary = document.querySelector("[data-focus-on-load]");
  if (summary) { summary.focus(); }

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
