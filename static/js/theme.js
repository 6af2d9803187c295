// Applies the chosen colour theme before the page paints (loaded in <head>).
(function () {
  "use strict";
  try {
    var theme = localStorage.getItem("portal-theme");
    if (theme === "light" || theme === "dark") document.documentElement.setAttribute("data-theme", theme);
  } catch (e) { /* storage unavailable: follow the system */ }
})();
