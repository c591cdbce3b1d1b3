/* Progressive enhancement only; every page works without it.
   - waiting page: counts down from Retry-After, then resends the same form (same Idempotency-Key),
     or reloads the page it was asked for; the waiting room's page at the millisecond it gives
     (data-ms), and an admitted one at once;
   - billing page: the pay-before countdown ticks. */
(function () {
  "use strict";
  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, k) { return String(values[k]); });
  }
  var waiting = document.getElementById("waiting");
  if (waiting) {
    var left = parseInt(waiting.getAttribute("data-seconds"), 10) || 2;
    var ms = parseInt(waiting.getAttribute("data-ms"), 10);  /* the room's advice to the millisecond */
    var template = waiting.getAttribute("data-template");
    var timer = setInterval(function () {
      left -= 1;
      if (left > 0) { waiting.textContent = fill(template, { s: left }); }
    }, 1000);
    setTimeout(function () {
      clearInterval(timer);
      waiting.textContent = fill(template, { s: 0 });
      var form = document.getElementById("retry-form");
      if (form) { form.submit(); } else { window.location.reload(); }
    }, isNaN(ms) ? 1000 * left : ms);
  }
  var countdown = document.getElementById("countdown");
  if (countdown) {
    var end = Date.now() + 1000 * (parseInt(countdown.getAttribute("data-seconds"), 10) || 0);
    var tpl = countdown.getAttribute("data-template");
    var tick = function () {
      var s = Math.max(0, Math.round((end - Date.now()) / 1000));
      countdown.textContent = fill(tpl, { h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60) });
    };
    tick();
    setInterval(tick, 30000);
  }
}());
