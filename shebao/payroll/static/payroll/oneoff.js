/* 零星发放: add the person clicked in the search results as a row; remove rows. */
(function () {
  "use strict";
  function refresh() {
    var body = document.querySelector("#oneoff-rows tbody");
    var empty = document.getElementById("oneoff-empty");
    if (body && empty) empty.hidden = body.children.length > 0;
  }
  document.addEventListener("click", function (ev) {
    var add = ev.target.closest && ev.target.closest(".add-person");
    if (add) {
      ev.preventDefault();
      var body = document.querySelector("#oneoff-rows tbody");
      if (body.querySelector('input[name=person][value="' + add.dataset.id + '"]')) return;
      var row = document.getElementById("oneoff-row").content.firstElementChild.cloneNode(true);
      row.querySelector("input[name=person]").value = add.dataset.id;
      row.querySelector(".n").textContent = add.dataset.name;
      row.querySelector(".id_number").textContent = add.dataset.idno;
      body.appendChild(row);
      refresh();
      row.querySelector("input.amount").focus();
      return;
    }
    var rm = ev.target.closest && ev.target.closest(".remove-row");
    if (rm) { rm.closest("tr").remove(); refresh(); }
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && ev.target.id === "oneoff-q") ev.preventDefault();
  });
})();
