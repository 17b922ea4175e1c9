// The only script: the narrow-screen menu and "select all" for bulk review. Every page works without it
// (without it the menu simply stays open).
document.documentElement.classList.add("js");
document.addEventListener("DOMContentLoaded", function () {
  var toggle = document.querySelector("button.menu-toggle");
  if (toggle) {
    toggle.addEventListener("click", function () {
      var header = toggle.closest("header");
      var open = header.classList.toggle("open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }
  var all = document.querySelector("[data-select-all]");
  if (!all) { return; }
  all.addEventListener("change", function () {
    var boxes = document.querySelectorAll("input[name=ids]");
    for (var i = 0; i < boxes.length; i++) { boxes[i].checked = all.checked; }
  });
});
