// Camera scanning for checkpoint pages. A widget [data-camera-scan] inside a form reads QR codes
// from the device camera and puts the text into the form's field named by data-field, then
// submits the form: a camera scan takes exactly the path of pasted text, so the server checks
// both the same way. jsQR decodes the frames because Chromium on Linux has no BarcodeDetector.
(function () {
  "use strict";

  var RUNNING_KEY = "fangkong.camera.running"; // keep scanning after each result (one per person)
  var LAST_KEY = "fangkong.camera.last"; // the text last submitted from this tab
  var FRAME_MS = 150; // about 7 frames a second: quick at the door, light on a phone's battery

  function remember(key, value) {
    try {
      if (value === null) window.sessionStorage.removeItem(key);
      else window.sessionStorage.setItem(key, value);
    } catch (error) {
      // Storage may be disabled; scanning still works, without restarting by itself.
    }
  }

  function recall(key) {
    try {
      return window.sessionStorage.getItem(key);
    } catch (error) {
      return null;
    }
  }

  function Scanner(widget) {
    this.widget = widget;
    this.form = widget.closest("form");
    this.field = this.form.elements[widget.dataset.field];
    this.video = widget.querySelector("video");
    this.status = widget.querySelector("[data-camera-status]");
    this.startButton = widget.querySelector("[data-camera-start]");
    this.stopButton = widget.querySelector("[data-camera-stop]");
    this.canvas = document.createElement("canvas");
    this.context = this.canvas.getContext("2d", { willReadFrequently: true });
    this.stream = null;
    this.startButton.addEventListener("click", this.startByHand.bind(this));
    this.stopButton.addEventListener("click", this.stop.bind(this, true));
  }

  Scanner.prototype.say = function (text, state) {
    this.status.textContent = text;
    this.widget.dataset.state = state;
  };

  Scanner.prototype.startByHand = function () {
    remember(LAST_KEY, null); // pressed on purpose: the same code may be read again
    this.start();
  };

  Scanner.prototype.start = function () {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      this.say(this.widget.dataset.unsupported, "unsupported");
      return;
    }
    this.say(this.widget.dataset.starting, "starting");
    navigator.mediaDevices
      .getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(this.attach.bind(this))
      .catch(this.refused.bind(this));
  };

  Scanner.prototype.attach = function (stream) {
    this.stream = stream;
    this.video.srcObject = stream;
    this.video.hidden = false;
    this.startButton.hidden = true;
    this.stopButton.hidden = false;
    this.video.play();
    remember(RUNNING_KEY, "1");
    this.say(this.widget.dataset.scanning, "scanning");
    this.scanSoon();
  };

  Scanner.prototype.refused = function (error) {
    remember(RUNNING_KEY, null);
    this.say(this.widget.dataset.denied + " (" + error.name + ")", "denied");
  };

  Scanner.prototype.scanSoon = function () {
    window.setTimeout(this.scanFrame.bind(this), FRAME_MS);
  };

  Scanner.prototype.scanFrame = function () {
    if (!this.stream) return;
    var video = this.video;
    if (video.readyState >= video.HAVE_CURRENT_DATA && video.videoWidth) {
      var text = this.decode(video);
      // The same code still in front of the camera after the page reloaded is not a new scan.
      if (text && text !== recall(LAST_KEY)) {
        this.submit(text);
        return;
      }
    }
    this.scanSoon();
  };

  Scanner.prototype.decode = function (video) {
    this.canvas.width = video.videoWidth;
    this.canvas.height = video.videoHeight;
    this.context.drawImage(video, 0, 0, this.canvas.width, this.canvas.height);
    var image = this.context.getImageData(0, 0, this.canvas.width, this.canvas.height);
    var found = window.jsQR(image.data, image.width, image.height, {
      inversionAttempts: "dontInvert",
    });
    return found && found.data ? found.data : "";
  };

  Scanner.prototype.submit = function (text) {
    remember(LAST_KEY, text);
    this.stop(false);
    this.field.value = text;
    this.say(this.widget.dataset.found, "found");
    this.form.requestSubmit();
  };

  Scanner.prototype.stop = function (byHand) {
    if (byHand) remember(RUNNING_KEY, null);
    if (this.stream) {
      this.stream.getTracks().forEach(function (track) {
        track.stop();
      });
    }
    this.stream = null;
    this.video.hidden = true;
    this.startButton.hidden = false;
    this.stopButton.hidden = true;
    if (byHand) this.say("", "stopped");
  };

  document.querySelectorAll("[data-camera-scan]").forEach(function (widget) {
    var scanner = new Scanner(widget);
    widget.hidden = false; // without JavaScript the page keeps its paste field only
    if (recall(RUNNING_KEY) === "1") scanner.start();
  });
})();
