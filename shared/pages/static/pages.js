// Grantflow pages: small enhancements only. Every page works without this script.
// - <time data-viewer-time>: adds the instant in the viewer's own time zone beside the
//   call's (the server writes the call's);
// - [data-countdown-to]: time left until an instant, counted on the service's clock
//   (body[data-server-now]), which is simulated in demos and tests;
// - textarea[data-min-length]: characters typed against the minimum, as one types;
// - form[data-upload]: sends the file with a progress bar, then follows the answer.
(function () {
  "use strict";
  var body = document.body;
  var label = function (name) { return body.getAttribute("data-label-" + name) || name; };
  var serverNow = Date.parse(body.getAttribute("data-server-now"));
  var offset = isNaN(serverNow) ? 0 : serverNow - Date.now();

  function viewerTimes() {
    var zone;
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { zone = ""; }
    var format = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
      day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit",
      hourCycle: "h23"});
    document.querySelectorAll("time[data-viewer-time]").forEach(function (el) {
      var when = Date.parse(el.getAttribute("datetime"));
      if (isNaN(when) || el.nextElementSibling && el.nextElementSibling.classList.contains("viewer-time")) {
        return;
      }
      var span = document.createElement("span");
      span.className = "viewer-time";
      span.textContent = " (" + label("your-time") + ": " + format.format(new Date(when)) +
        (zone ? " " + zone : "") + ")";
      el.insertAdjacentElement("afterend", span);
    });
  }

  function countdowns() {
    var items = document.querySelectorAll("[data-countdown-to]");
    if (!items.length) { return; }
    function tick() {
      var now = Date.now() + offset;
      items.forEach(function (el) {
        var left = Math.floor((Date.parse(el.getAttribute("data-countdown-to")) - now) / 1000);
        if (left <= 0) { el.textContent = label("closed"); return; }
        var d = Math.floor(left / 86400), h = Math.floor(left % 86400 / 3600),
            m = Math.floor(left % 3600 / 60), s = left % 60;
        el.textContent = (d ? d + " " + label("days") + " " : "") + h + " " + label("hours") +
          " " + m + " " + label("minutes") + " " + s + " " + label("seconds") + " " + label("left");
      });
    }
    tick();
    window.setInterval(tick, 1000);
  }

  function counters() {
    document.querySelectorAll("textarea[data-min-length]").forEach(function (area) {
      var out = document.getElementById(area.getAttribute("data-counter"));
      var min = parseInt(area.getAttribute("data-min-length"), 10);
      var text = area.getAttribute("data-counter-text") || "{n} / {min}";
      if (!out) { return; }
      function update() {
        var n = area.value.trim().length;
        out.textContent = text.replace("{n}", n).replace("{min}", min);
        out.classList.toggle("short", n < min);
      }
      area.addEventListener("input", update);
      update();
    });
  }

  function uploads() {
    document.querySelectorAll("form[data-upload]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        var bar = form.querySelector("progress");
        var status = form.querySelector("[data-upload-status]");
        if (!window.FormData || !bar) { return; }
        event.preventDefault();
        var request = new XMLHttpRequest();
        request.open("POST", form.action);
        bar.hidden = false;
        bar.value = 0;
        request.upload.addEventListener("progress", function (e) {
          if (e.lengthComputable) { bar.max = e.total; bar.value = e.loaded; }
        });
        request.addEventListener("load", function () {
          if (request.status < 400 && request.responseURL) {
            window.location.assign(request.responseURL);
          } else {  // the error page the server rendered: show its message here
            var main = new DOMParser().parseFromString(request.responseText, "text/html")
              .querySelector("main h1, main p.message");
            if (status) { status.textContent = main ? main.textContent : request.statusText; }
            bar.hidden = true;
          }
        });
        request.addEventListener("error", function () {
          if (status) { status.textContent = form.getAttribute("data-upload-failed") || "failed"; }
          bar.hidden = true;
        });
        request.send(new FormData(form));
      });
    });
  }

  viewerTimes();
  countdowns();
  counters();
  uploads();
}());
