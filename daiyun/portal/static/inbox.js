// The inbox follows a stream of server-sent events and reloads when what its list shows changes,
// unless the agent is typing a reply (then it says so and waits). The browser reconnects on its
// own after a drop and, sending the last event's id, hears only of real changes.
(function () {
  var box = document.querySelector(".inbox[data-events]");
  if (!box || !window.EventSource) { return; }
  var last = null;
  var stream = new EventSource(box.getAttribute("data-events"));
  stream.addEventListener("inbox", function (event) {
    var body = document.getElementById("body");
    if (last !== null && event.lastEventId !== last) {
      if (!body || body.value === "") {
        stream.close();
        window.location.reload();
        return;
      }
      var note = document.getElementById("inbox-news");
      if (note) { note.hidden = false; }
    }
    last = event.lastEventId;
  });
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
