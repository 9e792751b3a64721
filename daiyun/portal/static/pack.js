// The pack station: keep the scan input focused (a keyboard-wedge scanner types into whatever
// has focus, then presses Enter), and sound a low tone when a scan was refused.
(function () {
  "use strict";
  var input = document.getElementById("scan-input");
  if (input) {
    input.focus();
  }
  var refused = document.querySelector('[data-scan="refused"]');
  if (!refused || !(window.AudioContext || window.webkitAudioContext)) {
    return;
  }
  try {
    var Context = window.AudioContext || window.webkitAudioContext;
    var audio = new Context();
    var tone = audio.createOscillator();
    var gain = audio.createGain();
    tone.type = "square";
    tone.frequency.value = 220;
    gain.gain.value = 0.2;
    tone.connect(gain);
    gain.connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.35);
  } catch (e) {
    // A browser that refuses sound before a gesture still shows the red refusal.
  }
})();
