/* 慈溪社保本地系统 — small behaviours of the shell. No framework besides htmx. */
(function () {
  "use strict";

  function typingIn(el) {
    if (!el) return false;
    var tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }

  // "/" anywhere focuses the global person search; Escape leaves it.
  document.addEventListener("keydown", function (ev) {
    var search = document.getElementById("global-search");
    if (!search) return;
    if (ev.key === "/" && !ev.ctrlKey && !ev.metaKey && !ev.altKey && !typingIn(ev.target)) {
      ev.preventDefault();
      search.focus();
      search.select();
      return;
    }
    if (ev.target === search || (ev.target.closest && ev.target.closest("#global-search-results"))) {
      var box = document.getElementById("global-search-results");
      var links = box ? Array.prototype.slice.call(box.querySelectorAll("a")) : [];
      var i = links.indexOf(document.activeElement);
      if (ev.key === "Escape") {
        if (box) box.innerHTML = "";
        search.blur();
      } else if (ev.key === "ArrowDown" && links.length) {
        ev.preventDefault();
        links[Math.min(i + 1, links.length - 1)].focus();
      } else if (ev.key === "ArrowUp" && links.length) {
        ev.preventDefault();
        if (i <= 0) search.focus(); else links[i - 1].focus();
      }
    }
  });

  // Close the suggestion box on a click elsewhere.
  document.addEventListener("click", function (ev) {
    var box = document.getElementById("global-search-results");
    if (box && !ev.target.closest(".global-search")) box.innerHTML = "";
  });

  // <select data-autosubmit> (also with a form="…" attribute) submits its form on change.
  document.addEventListener("change", function (ev) {
    var el = ev.target;
    if (el.hasAttribute && el.hasAttribute("data-autosubmit") && el.form) {
      if (el.form.requestSubmit) el.form.requestSubmit(); else el.form.submit();
    }
  });

  // A list's filter bar (web/partials/table.html, <form data-filter-form>) reloads its results when a
  // select or date changes; the search box reloads on input instead (its "change" on leaving the box
  // would ask again). An event of our own rather than an htmx trigger filter: those are evaluated as
  // script, which the Content-Security-Policy forbids.
  document.addEventListener("change", function (ev) {
    var el = ev.target;
    var form = el.closest && el.closest("form[data-filter-form]");
    if (form && el.type !== "search") form.dispatchEvent(new Event("filter-change"));
  });

  // <button data-confirm="…"> asks before it submits.
  document.addEventListener("click", function (ev) {
    var el = ev.target.closest && ev.target.closest("[data-confirm]");
    if (el && !window.confirm(el.getAttribute("data-confirm"))) {
      ev.preventDefault();
      ev.stopImmediatePropagation();
    }
  }, true);

  // GET requests made by htmx (list filters) leave empty parameters out, so pushed URLs stay short.
  document.addEventListener("htmx:configRequest", function (ev) {
    if (ev.detail.verb !== "get") return;
    var params = ev.detail.parameters;
    Object.keys(params).forEach(function (k) {
      if (params[k] === "") delete params[k];
    });
  });

  // <button data-print> prints the page.
  document.addEventListener("click", function (ev) {
    var el = ev.target.closest && ev.target.closest("[data-print]");
    if (el) { ev.preventDefault(); window.print(); }
  });
})();
