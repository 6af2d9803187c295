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

// Progressive pieces: elements marked .js-only are hidden until this runs.
(function () {
  "use strict";
  function reveal(root) {
    root.querySelectorAll(".js-only[hidden]").forEach(function (el) { el.hidden = false; });
  }
  document.addEventListener("DOMContentLoaded", function () { reveal(document); });
  document.addEventListener("htmx:afterSwap", function (event) { reveal(event.target); });

  document.addEventListener("click", function (event) {
    // Membership pickers: add the chosen name to the field's list.
    var pick = event.target.closest("button.pick");
    if (pick) {
      var results = pick.closest("[data-pick-target]");
      var field = results && document.getElementById(results.getAttribute("data-pick-target"));
      if (field) {
        var value = pick.getAttribute("data-pick-value");
        var lines = field.value.split(/[\n,]/).map(function (s) { return s.trim(); }).filter(Boolean);
        if (lines.indexOf(value) === -1) lines.push(value);
        field.value = lines.join("\n");
        field.dispatchEvent(new Event("change", { bubbles: true }));
        pick.disabled = true;
      }
      return;
    }
    // Copy buttons: data-copy is a selector of the element whose text to copy.
    var copy = event.target.closest("[data-copy]");
    if (copy) {
      var source = document.querySelector(copy.getAttribute("data-copy"));
      if (source && navigator.clipboard) {
        navigator.clipboard.writeText(source.textContent.trim()).then(function () {
          var label = copy.textContent;
          copy.textContent = "Copied";
          setTimeout(function () { copy.textContent = label; }, 2000);
        });
      }
    }
  });
})();
