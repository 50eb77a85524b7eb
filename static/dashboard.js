// Kassa dashboard: progressive enhancement only. Every action works without this file.
(function () {
  "use strict";
  // Copy buttons copy the field they name and say so.
  document.querySelectorAll("button[data-copy]").forEach(function (b) {
    b.addEventListener("click", function () {
      var f = document.getElementById(b.getAttribute("data-copy"));
      if (!f) return;
      f.select();
      var status = b.closest(".field") && b.closest(".field").querySelector(".copy-status");
      var done = function (ok) { if (status) status.textContent = ok ? "Copied." : "Press Ctrl+C (⌘C) to copy."; };
      if (navigator.clipboard) {
        navigator.clipboard.writeText(f.value).then(function () { done(true); }, function () { done(false); });
      } else {
        done(document.execCommand && document.execCommand("copy"));
      }
    });
  });
  // A shown-once field starts selected, ready to copy.
  var once = document.querySelector(".once input[readonly]");
  if (once) once.select();
  // The branding preview follows the form as it is typed.
  var preview = document.querySelector(".preview");
  if (preview) {
    var name = document.querySelector("[data-preview=name]");
    var logo = document.querySelector("[data-preview=logo]");
    var accent = document.querySelector("[data-preview=accent]");
    var shownName = preview.querySelector("[data-preview-name]");
    var img = preview.querySelector("[data-preview-logo]");
    var fallback = shownName.textContent;
    if (name) name.addEventListener("input", function () { shownName.textContent = name.value.trim() || fallback; });
    if (logo) logo.addEventListener("input", function () {
      var ok = /^https:\/\/\S+$/.test(logo.value);
      img.hidden = !ok;
      if (ok) img.src = logo.value;
    });
    if (accent) accent.addEventListener("input", function () {
      if (/^#[0-9a-fA-F]{6}$/.test(accent.value)) preview.style.setProperty("--accent", accent.value);
    });
  }
})();
