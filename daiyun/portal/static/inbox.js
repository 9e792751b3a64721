// The inbox refreshes without a reload of the page the agent is typing in: it polls a small
// stamp of what the list shows and reloads only when that changes and the reply box is empty.
(function () {
  var box = document.querySelector(".inbox[data-poll]");
  if (!box) { return; }
  var url = box.getAttribute("data-poll");
  var last = null;
  function check() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (answer) { return answer.ok ? answer.json() : null; })
      .then(function (state) {
        if (!state) { return; }
        var stamp = state.count + "/" + state.stamp;
        var body = document.getElementById("body");
        if (last !== null && stamp !== last && (!body || body.value === "")) {
          window.location.reload();
        }
        last = stamp;
      })
      .catch(function () { /* offline for a moment: the next tick tries again */ });
  }
  check();
  window.setInterval(check, 5000);
})();

// A knowledge-base answer goes into the reply box (appended to what is there), to edit and send.
(function () {
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest(".kb-use") : null;
    var body = document.getElementById("body");
    if (!button || !body) { return; }
    var text = button.getAttribute("data-text") || "";
    body.value = body.value ? body.value + "\n\n" + text : text;
    body.focus();
  });
})();
