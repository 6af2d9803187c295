// The portal's only first-party script: small enhancements on pages that
// already work without it. No inline handlers, no eval (strict CSP).
(function () {
  "use strict";

  // On phones the navigation starts folded; wide screens always show it.
  var wide = window.matchMedia("(min-width: 800px)");
  function syncMenu() {
    document.querySelectorAll("details.nav-menu").forEach(function (menu) {
      menu.open = wide.matches;
    });
  }
  document.addEventListener("DOMContentLoaded", syncMenu);
  wide.addEventListener("change", syncMenu);

  // Close the user menu when clicking elsewhere or pressing Escape.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.user-menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.open = false;
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("details.user-menu[open]").forEach(function (menu) {
      menu.open = false;
      menu.querySelector("summary").focus();
    });
  });

  // A thin progress bar for htmx requests that take a moment.
  var timer = null;
  document.addEventListener("htmx:beforeRequest", function () {
    clearTimeout(timer);
    timer = setTimeout(function () { document.body.classList.add("is-loading"); }, 150);
  });
  document.addEventListener("htmx:afterRequest", function () {
    clearTimeout(timer);
    document.body.classList.remove("is-loading");
  });
})();
