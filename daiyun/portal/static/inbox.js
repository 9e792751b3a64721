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
