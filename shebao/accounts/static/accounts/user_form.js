/* 用户编辑: the 负责的村社区 multi-select is shown only while the role 社区专管员 is ticked (and 全市范围 is not). */
(function () {
  "use strict";
  function setup() {
    var row = document.getElementById("row-communities");
    var role = document.querySelector("input[name=roles][value=community]");
    var county = document.querySelector("input[name=all_regions]");
    if (!row || !role) return;
    var select = row.querySelector("select");
    function sync() {
      var show = role.checked && !(county && county.checked);
      row.hidden = !show;
      // a hidden selection is not sent: a role without communities keeps none
      if (select) select.disabled = !show;
    }
    role.addEventListener("change", sync);
    if (county) county.addEventListener("change", sync);
    sync();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup); else setup();
})();
