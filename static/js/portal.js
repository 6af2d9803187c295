// The portal's only first-party script: small enhancements on pages that
// already work without it. No inline handlers, no eval (strict CSP).

// The words this script shows go through gettext(), ngettext() and interpolate() from
// Django's JavaScript catalog (/i18n/catalog.js, loaded just before this file; the
// djangojs domain, `make messages`). Should the catalog not load, they stay in English.
(function () {
  "use strict";
  if (typeof window.gettext !== "function") {
    window.gettext = function (text) { return text; };
  }
  if (typeof window.ngettext !== "function") {
    window.ngettext = function (singular, plural, count) { return count === 1 ? singular : plural; };
  }
  if (typeof window.interpolate !== "function") {
    window.interpolate = function (format, values, named) {
      if (named) {
        return format.replace(/%\(\w+\)s/g, function (match) { return String(values[match.slice(2, -2)]); });
      }
      var list = Array.prototype.slice.call(values);
      return format.replace(/%s/g, function () { return String(list.shift()); });
    };
  }
})();
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
  document.addEventListener("portal:page", syncMenu);
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
          copy.textContent = gettext("Copied");
          setTimeout(function () { copy.textContent = label; }, 2000);
        });
      }
    }
  });
})();

// Copy buttons (account security): `<button data-copy-target="id" hidden>` copies the
// text of that element. The button stays hidden without JavaScript; the text can still be
// selected by hand.
(function () {
  "use strict";

  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function setup() {
    document.querySelectorAll("button[data-copy-target]").forEach(function (button) {
      if (button.dataset.copyReady) return;
      button.dataset.copyReady = "1";
      button.hidden = false;
      var label = button.textContent;
      button.addEventListener("click", function () {
        var source = document.getElementById(button.dataset.copyTarget);
        if (!source) return;
        var text = source.textContent.trim();
        var done = function () {
          button.textContent = gettext("Copied");
          setTimeout(function () { button.textContent = label; }, 2000);
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(done, function () { selectText(source); });
        } else {
          selectText(source);
          try {
            if (document.execCommand("copy")) done();
          } catch (error) {
            // The text stays selected: the person can copy it themselves.
          }
        }
      });
    });
  }
  document.addEventListener("DOMContentLoaded", setup);
  document.addEventListener("htmx:afterSettle", setup);
})();

// Live tracing and live metrics: the portal relays Stalwart's event streams as
// server-rendered HTML fragments (escaped like any page). Without JavaScript the
// live tracing form captures a few seconds server-side instead.
(function () {
  "use strict";
  var MAX_ERRORS = 5;

  function fragment(html) {
    var template = document.createElement("template");
    template.innerHTML = html;
    return template.content;
  }

  function setupLiveTracing(form) {
    if (form.dataset.liveReady) return;
    form.dataset.liveReady = "1";
    var list = document.querySelector("[data-live-events]");
    var empty = document.querySelector("[data-live-empty]");
    var status = document.querySelector("[data-live-status]");
    var start = form.querySelector("[data-live-start]");
    var stop = form.querySelector("[data-live-stop]");
    var max = parseInt(list.getAttribute("data-max-events"), 10) || 1000;
    var source = null;
    var errors = 0;

    function running(on) {
      start.hidden = on;
      stop.hidden = !on;
      form.classList.toggle("is-live", on);
    }
    function finish(message, html) {
      if (source) { source.close(); source = null; }
      running(false);
      if (html) { status.replaceChildren(fragment(html)); } else { status.textContent = message; }
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (source) source.close();
      var filter = form.querySelector("[name=filter]").value.trim();
      var url = form.getAttribute("data-stream-url") + (filter ? "?filter=" + encodeURIComponent(filter) : "");
      var pageUrl = form.getAttribute("action") + (filter ? "?filter=" + encodeURIComponent(filter) : "");
      window.history.replaceState(null, "", pageUrl);
      list.replaceChildren();
      if (empty) { empty.hidden = false; empty.textContent = gettext("Waiting for events…"); }
      status.textContent = gettext("Connecting…");
      errors = 0;
      running(true);
      source = new EventSource(url);
      document.addEventListener("portal:leave", function () { if (source) { source.close(); source = null; } });
      source.addEventListener("open", function () {
        errors = 0;
        status.textContent = filter
          ? interpolate(gettext("Watching events matching “%(filter)s”."), { filter: filter }, true)
          : gettext("Watching every event.");
      });
      source.addEventListener("trace", function (message) {
        var items = Array.prototype.slice.call(fragment(message.data).children);
        for (var i = 0; i < items.length; i++) list.insertBefore(items[i], list.firstChild);
        while (list.children.length > max) list.removeChild(list.lastChild);
        if (empty) empty.hidden = list.children.length > 0;
      });
      source.addEventListener("failure", function (message) { finish("", message.data); });
      source.addEventListener("end", function (message) { finish("", message.data); });
      source.addEventListener("error", function () {
        errors += 1;
        if (!source || source.readyState === EventSource.CLOSED || errors >= MAX_ERRORS) {
          finish(gettext("The connection to the portal was lost. Press Start to try again."));
        } else {
          status.textContent = gettext("Reconnecting…");
        }
      });
    });
    stop.addEventListener("click", function () {
      var count = list.children.length;
      finish(interpolate(ngettext("Stopped. %(count)s event shown.", "Stopped. %(count)s events shown.", count), { count: count }, true));
    });
  }

  function setupLiveMetrics(box) {
    if (box.dataset.liveReady) return;
    box.dataset.liveReady = "1";
    var source = new EventSource(box.getAttribute("data-stream-url"));
    var errors = 0;
    source.addEventListener("metrics", function (message) {
      errors = 0;
      box.replaceChildren(fragment(message.data));
    });
    function stop() { source.close(); }
    document.addEventListener("portal:leave", stop);
    source.addEventListener("failure", stop);
    source.addEventListener("end", stop);
    source.addEventListener("error", function () {
      errors += 1;
      if (source.readyState === EventSource.CLOSED || errors >= MAX_ERRORS) stop();
    });
    window.addEventListener("pagehide", stop);
  }

  function setup() {
    document.querySelectorAll("form[data-live-form]").forEach(setupLiveTracing);
    document.querySelectorAll("[data-live-metrics][data-stream-url]").forEach(setupLiveMetrics);
  }
  document.addEventListener("DOMContentLoaded", setup);
  document.addEventListener("portal:page", setup);
})();

// Theme switch: system → light → dark → system. Without JavaScript the portal
// follows the system setting.
(function () {
  "use strict";
  function current() { return document.documentElement.getAttribute("data-theme") || ""; }
  function show(button) {
    var labels = { "": gettext("Theme: system"), light: gettext("Theme: light"), dark: gettext("Theme: dark") };
    button.textContent = labels[current()];
  }
  function setup() {
    document.querySelectorAll("button.theme-toggle").forEach(function (button) {
      if (button.dataset.themeReady) return;
      button.dataset.themeReady = "1";
      button.hidden = false;
      show(button);
      button.addEventListener("click", function () {
        var next = { "": "light", light: "dark", dark: "" }[current()];
        if (next) document.documentElement.setAttribute("data-theme", next);
        else document.documentElement.removeAttribute("data-theme");
        try {
          if (next) localStorage.setItem("portal-theme", next); else localStorage.removeItem("portal-theme");
        } catch (e) { /* not remembered */ }
        show(button);
      });
    });
  }
  document.addEventListener("DOMContentLoaded", setup);
  document.addEventListener("portal:page", setup);
})();

// A form is sent once: a second click while the page is loading does nothing,
// and the buttons say so. (htmx forms: the next block.)
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || (form.getAttribute("method") || "get").toLowerCase() !== "post") return;
    if (form.hasAttribute("data-submitting")) {
      event.preventDefault();
      return;
    }
    form.setAttribute("data-submitting", "");
    form.setAttribute("aria-busy", "true");
    // After this event, so that the clicked button's own name and value are still sent.
    setTimeout(function () {
      form.querySelectorAll("button[type=submit], button:not([type]), input[type=submit]").forEach(function (button) {
        button.disabled = true;
      });
    }, 0);
  });
  // Coming back with the browser's back button shows the page as it was left.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    document.querySelectorAll("form[data-submitting]").forEach(function (form) {
      form.removeAttribute("data-submitting");
      form.removeAttribute("aria-busy");
      form.querySelectorAll("button, input[type=submit]").forEach(function (button) { button.disabled = false; });
    });
  });
})();

// htmx forms are sent once too. htmx would queue a second submission made while the
// first is on its way and send it afterwards; it is dropped instead. While a form's
// request (anything but GET) is out, the form is busy and its buttons are disabled,
// until the answer or the failure is in; an answer that loads another page keeps them so.
(function () {
  "use strict";
  var BUTTONS = "button[type=submit], button:not([type]), input[type=submit]";

  // The form a request submits: the form itself, or the form of a submit button that
  // carries hx-post. Other requests (a live check while typing) are not submissions.
  function submitted(elt, verb) {
    if (!elt || !elt.tagName || (verb || "get").toLowerCase() === "get") return null;
    if (elt.tagName === "FORM") return elt;
    return elt.matches(BUTTONS) && elt.form ? elt.form : null;
  }

  document.addEventListener("htmx:confirm", function (event) {
    var form = submitted(event.detail.elt, event.detail.verb);
    if (form && form.hasAttribute("data-submitting")) event.preventDefault();
  });
  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = submitted(event.detail.elt, (event.detail.requestConfig || {}).verb);
    if (!form || event.defaultPrevented) return;
    form.setAttribute("data-submitting", "");
    form.setAttribute("aria-busy", "true");
    form.querySelectorAll(BUTTONS).forEach(function (button) {
      if (button.disabled) return;
      button.disabled = true;
      button.setAttribute("data-busy-disabled", "");
    });
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = submitted(event.detail.elt, (event.detail.requestConfig || {}).verb);
    var xhr = event.detail.xhr;
    var leaving = xhr && (xhr.getResponseHeader("HX-Redirect") || xhr.getResponseHeader("HX-Refresh") === "true");
    if (!form || leaving) return;
    form.removeAttribute("data-submitting");
    form.removeAttribute("aria-busy");
    form.querySelectorAll("[data-busy-disabled]").forEach(function (button) {
      button.disabled = false;
      button.removeAttribute("data-busy-disabled");
    });
  });
})();

// Navigation with htmx (boosted links and forms, hx-boost on the menu and on <main>;
// paging and search that update #results): the address bar follows (hx-push-url; back and
// forward reload the page from the server), the page keeps its own look (the <body>
// class), live streams of the page left behind are closed, focus goes where a keyboard or
// screen-reader user expects it, and the new page or results are announced in the
// #messages live region.
(function () {
  "use strict";

  // Boosting is for pages. Downloads, links to other origins and the live tracing form
  // (which opens its own event stream) are left to the browser. (A boosted request that
  // turns out not to be a page is sent back to the browser by the server: HX-Redirect.)
  var NOT_BOOSTED = "a[download], form[data-live-form]";
  document.addEventListener("htmx:beforeProcessNode", function (event) {
    var elt = event.target;
    if (!elt || !elt.matches || elt.hasAttribute("hx-boost")) return;
    var foreign = elt.tagName === "A" && elt.href && elt.origin !== window.location.origin;
    if (foreign || elt.matches(NOT_BOOSTED)) elt.setAttribute("hx-boost", "false");
  });

  function announce(text) {
    var region = document.getElementById("messages");
    if (!region || !text) return;
    var note = region.querySelector(".announcement");
    if (!note) {
      note = document.createElement("p");
      note.className = "announcement visually-hidden";
      region.appendChild(note);
    }
    note.textContent = "";
    // A change after a moment is read out even when the text is the same as before.
    setTimeout(function () { note.textContent = text.replace(/\s+/g, " ").trim(); }, 50);
  }

  function describeResults(results) {
    var parts = [];
    var heading = results.querySelector(".empty-state h2, caption");
    var summary = results.querySelector(".pagination-summary");
    if (heading) parts.push(heading.textContent);
    if (summary && !results.querySelector(".empty-state")) parts.push(summary.textContent);
    return parts.join(". ");
  }

  function isPageSwap(event) {
    return Boolean(event.detail.boosted) || event.detail.target === document.body;
  }

  function takeBodyClass(html) {
    // Boosted pages replace what is inside <body>; the page's own class comes along.
    var match = /<body[^>]*\sclass="([^"]*)"/.exec(html || "");
    document.body.className = match ? match[1] : "";
  }

  function pageShown() {
    document.dispatchEvent(new Event("portal:page"));
    var main = document.getElementById("main");
    if (main) main.focus({ preventScroll: true });
    announce(document.title.split(" · ")[0]);
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.boosted) {
      // A boosted link or form replaces the page, whatever hx-target or hx-swap an element
      // around it sets for its own requests (htmx would let it inherit them). A page that
      // comes with an error status (a form's errors, "not found") is shown like any page,
      // as the browser itself would, not reported as a failed request.
      event.detail.target = document.body;
      event.detail.swapOverride = "innerHTML";
      event.detail.isError = false;
    }
    if (!isPageSwap(event)) return;
    document.dispatchEvent(new Event("portal:leave"));
    takeBodyClass(event.detail.serverResponse);
  });
  // Back and forward: htmx asks the server for the page (no history cache).
  document.addEventListener("htmx:historyCacheMissLoad", function (event) {
    document.dispatchEvent(new Event("portal:leave"));
    takeBodyClass(event.detail.serverResponse);
  });
  document.addEventListener("htmx:historyRestore", pageShown);

  document.addEventListener("htmx:afterSettle", function (event) {
    if (isPageSwap(event)) {
      pageShown();
      return;
    }
    var results = event.target;
    if (!results || results.id !== "results") return;
    var active = document.activeElement;
    if (!active || active === document.body || !active.isConnected) {
      // The link or button that was used went away with the old results.
      results.setAttribute("tabindex", "-1");
      results.focus();
    }
    announce(describeResults(results));
  });
})();

// Quick search in the top bar: Ctrl+K (or Cmd+K) jumps to it, results drop down as you
// type (htmx), the arrow keys move through them, Escape closes them. Without JavaScript
// the field submits to the search page.
(function () {
  "use strict";
  function parts() {
    var input = document.getElementById("quick-search");
    var results = document.getElementById("quick-results");
    return input && results ? { input: input, results: results } : null;
  }
  function show(open) {
    var p = parts();
    if (!p) return;
    p.results.hidden = !open;
  }
  function links() {
    var p = parts();
    return p ? Array.prototype.slice.call(p.results.querySelectorAll("a[href]")) : [];
  }
  document.addEventListener("htmx:afterSwap", function (event) {
    var p = parts();
    if (!p || event.detail.target !== p.results) return;
    show(p.input.value.trim() !== "" && p.results.textContent.trim() !== "");
  });
  document.addEventListener("keydown", function (event) {
    var p = parts();
    if (!p) return;
    if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "k") {
      event.preventDefault();
      p.input.focus();
      p.input.select();
      if (p.input.value.trim() && p.results.textContent.trim()) show(true);
      return;
    }
    var inside = p.input.form.contains(document.activeElement);
    if (!inside) return;
    if (event.key === "Escape") {
      if (!p.results.hidden) {
        event.preventDefault();
        show(false);
        p.input.focus();
      }
      return;
    }
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    var items = links();
    if (!items.length || p.results.hidden) return;
    event.preventDefault();
    var index = items.indexOf(document.activeElement);
    if (event.key === "ArrowDown") index = index < 0 ? 0 : Math.min(index + 1, items.length - 1);
    else index = index <= 0 ? -1 : index - 1;
    if (index < 0) p.input.focus(); else items[index].focus();
  });
  document.addEventListener("click", function (event) {
    var p = parts();
    if (p && !p.input.form.contains(event.target)) show(false);
  });
  document.addEventListener("focusin", function (event) {
    var p = parts();
    if (p && !p.input.form.contains(event.target)) show(false);
  });
  // A result opened through boosted navigation: the field starts empty on the new page.
  document.addEventListener("portal:page", function () { show(false); });
})();
