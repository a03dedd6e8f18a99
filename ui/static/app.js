// hookd pages work without this file; it only adds live refresh, copy buttons and a
// select-all box.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var refresh = document.querySelector("[data-refresh]");
  if (refresh) {
    var secs = parseInt(refresh.getAttribute("data-refresh"), 10);
    if (secs > 0) {
      setTimeout(function () {
        if (!document.hidden) { location.reload(); }
      }, secs * 1000);
    }
  }
  document.querySelectorAll("[data-copy]").forEach(function (btn) {
    btn.hidden = false;
    btn.addEventListener("click", function () {
      var el = document.getElementById(btn.getAttribute("data-copy"));
      if (!el || !navigator.clipboard) { return; }
      navigator.clipboard.writeText(el.textContent.trim()).then(function () {
        var was = btn.textContent;
        btn.textContent = "Copied";
        setTimeout(function () { btn.textContent = was; }, 1500);
      });
    });
  });
  document.querySelectorAll("[data-check-all]").forEach(function (box) {
    box.addEventListener("change", function () {
      var name = box.getAttribute("data-check-all");
      document.querySelectorAll('input[type=checkbox][name="' + name + '"]').forEach(function (c) {
        c.checked = box.checked;
      });
    });
  });
});
