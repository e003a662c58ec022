(function () {
  "use strict";
  var root = document.getElementById("ntkviz-__UID__");
  if (!root || root.ntkvizPlayer) return;
  var data = JSON.parse(root.querySelector(".np-data").textContent);
  var pics = data.frames, n = pics.length;
  var canvas = root.querySelector(".np-canvas"), ctx = canvas.getContext("2d");
  var slider = root.querySelector(".np-slider"), pos = root.querySelector(".np-pos");
  var playBtn = root.querySelector(".np-play"), speedSel = root.querySelector(".np-speed");
  var loopBox = root.querySelector(".np-loop");
  var ICON_PLAY = __PLAY__, ICON_PAUSE = __PAUSE__;
  var images = [], drawn = -1, timer = null;
  var keyOf = [], k = 0;
  for (var i = 0; i < n; i++) { if (pics[i].key) k = i; keyOf.push(k); }
  var player = {
    count: n, frame: 0, playing: false,
    outputFrame: function (i) { return pics[i].first; },
    seek: function (i) { show(i); },
    play: function () { play(); }, pause: function () { pause(); },
    toggle: function () { if (player.playing) pause(); else play(); }
  };
  root.ntkvizPlayer = player;
  (window.ntkvizPlayers = window.ntkvizPlayers || []).push(player);

  function paint(i) {
    var p = pics[i];
    ctx.drawImage(images[i], p.x, p.y);
  }
  function draw(i) {
    var start = keyOf[i];
    if (!(drawn >= start && drawn <= i)) { paint(start); drawn = start; }
    while (drawn < i) { drawn += 1; paint(drawn); }
  }
  function label(i) {
    var text = "frame " + (i + 1) + " / " + n;
    if (pics[i].label) text += " \u00b7 " + pics[i].label;
    return text;
  }
  function show(i) {
    i = Math.max(0, Math.min(n - 1, Math.round(Number(i)) || 0));
    draw(i);
    player.frame = i;
    root.setAttribute("data-frame", String(i));
    slider.value = String(i);
    pos.textContent = label(i);
  }
  function schedule() {
    var speed = Number(speedSel.value) || 1;
    timer = setTimeout(tick, Math.max(1, pics[player.frame].ms / speed));
  }
  function tick() {
    timer = null;
    if (!player.playing) return;
    if (player.frame >= n - 1) {
      if (!loopBox.checked) { pause(); return; }
      show(0);
    } else {
      show(player.frame + 1);
    }
    if (player.frame >= n - 1 && !loopBox.checked) {
      // played once: the last frame stays up for its hold, then stop
      timer = setTimeout(pause, pics[player.frame].ms / (Number(speedSel.value) || 1));
      return;
    }
    schedule();
  }
  function play() {
    if (player.playing || n < 2) return;
    if (player.frame >= n - 1 && !loopBox.checked) show(0);
    player.playing = true;
    playBtn.innerHTML = ICON_PAUSE;
    playBtn.title = "Pause (space)";
    schedule();
  }
  function pause() {
    player.playing = false;
    if (timer !== null) { clearTimeout(timer); timer = null; }
    playBtn.innerHTML = ICON_PLAY;
    playBtn.title = "Play (space)";
  }
  function step(d) { pause(); show(player.frame + d); }

  function on(selector, action) {
    // after a click the keys go to the player, not the button (space would click it again)
    root.querySelector(selector).onclick = function () {
      action();
      root.focus({ preventScroll: true });
    };
  }
  on(".np-first", function () { pause(); show(0); });
  on(".np-last", function () { pause(); show(n - 1); });
  on(".np-back", function () { step(-1); });
  on(".np-fwd", function () { step(1); });
  on(".np-play", function () { player.toggle(); });
  slider.addEventListener("input", function () { pause(); show(slider.value); });
  function onKey(e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var t = e.target && e.target.tagName;
    if (t === "SELECT" || (t === "INPUT" && e.target.type !== "range" && e.target.type !== "checkbox")) return;
    var big = e.shiftKey ? 10 : 1, used = true;
    if (e.key === " " || e.key === "k") player.toggle();
    else if (e.key === "ArrowRight" || e.key === "l") step(big);
    else if (e.key === "ArrowLeft" || e.key === "j") step(-big);
    else if (e.key === "Home") { pause(); show(0); }
    else if (e.key === "End") { pause(); show(n - 1); }
    else used = false;
    if (used) { e.preventDefault(); e.stopPropagation(); }
  }
  root.addEventListener("keydown", onKey);
  var own = document.body && document.body.getAttribute("data-ntkviz-page") === "1";
  var hash = {};
  function report() {  // in a frame (the gallery's index): tell it how tall the page is
    if (own && window.parent !== window) {
      var tall = document.body.getBoundingClientRect().height;
      window.parent.postMessage({ ntkvizHeight: tall }, "*");
    }
  }
  if (own) {
    // a page of its own: keys work without clicking the player first
    document.addEventListener("keydown", function (e) { if (!root.contains(e.target)) onKey(e); });
    // page.html#frame=101 shows frame 101 (a link to a moment); #embed: in the gallery's index
    var readHash = function () {
      hash = {};
      location.hash.slice(1).split("&").forEach(function (part) {
        var kv = part.split("=");
        if (kv[0]) hash[decodeURIComponent(kv[0])] = kv.length > 1 ? decodeURIComponent(kv[1]) : "";
      });
    };
    readHash();
    if ("embed" in hash) document.body.classList.add("np-embed");
    window.addEventListener("resize", report);
    window.addEventListener("hashchange", function () {
      readHash();
      if (player.loaded && hash.frame) { pause(); show(Number(hash.frame) - 1); }
    });
  }
  // A patch is the rest of a one-picture GIF: the shared screen (palette), sized to it.
  var screen = data.screen ? atob(data.screen) : "";
  function source(p) {
    if (p.src) return p.src;
    var body = atob(p.gif);
    return "data:image/gif;base64," +
      btoa(screen.slice(0, 6) + body.slice(13, 17) + screen.slice(10) + body);
  }
  player.ready = Promise.all(pics.map(function (p, i) {
    var img = new Image();
    images[i] = img;
    img.src = source(p);
    return img.decode ? img.decode() : new Promise(function (ok) { img.onload = ok; });
  })).then(function () {
    show(own && hash.frame ? Number(hash.frame) - 1 : 0);
    var poster = root.querySelector(".np-poster");
    if (poster) poster.parentNode.removeChild(poster);
    canvas.style.display = "block";
    player.loaded = true;
    report();
    return player;
  });
})();
