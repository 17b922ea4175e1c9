// The only script: "select all" for bulk review. Every page works without it.
document.addEventListener("DOMContentLoaded", function () {
  var all = document.querySelector("[data-select-all]");
  if (!all) { return; }
  all.addEventListener("change", function () {
    var boxes = document.querySelectorAll("input[name=ids]");
    for (var i = 0; i < boxes.length; i++) { boxes[i].checked = all.checked; }
  });
});
