// Holds page: count each active hold's expiry down every second (the page reads fine without it).
(function () {
  function tick() {
    document.querySelectorAll(".countdown[data-expires]").forEach(function (el) {
      var left = Math.max(0, Math.round((Date.parse(el.dataset.expires) - Date.now()) / 1000));
      el.textContent = left ? Math.floor(left / 60) + " min " + (left % 60) + " s" : "expired";
    });
  }
  tick();
  setInterval(tick, 1000);
})();
