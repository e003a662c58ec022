(function () {
  "use strict";
  var root = document.getElementById("ntkviz-__UID__");
  if (!root || root.ntkvizPlayer) return;
  var data = JSON.parse(root.querySelector(".np-data").textContent);
  var keyPicture = data.key;  // the picture that makes the figure's point (embedded: shown first)
  // One player for one animation and for an explore page's variants (data.variants: each its
  // pictures, which point into one pool of images, so a picture common to several is stored once).
  // A plain player's data is one variant whose pictures are the pool.
  if (!data.variants) {
    data = {
      width: data.width, height: data.height, fps: data.fps, screens: [data.screen || ""],
      pool: data.frames.map(function (p) { return p.src ? { src: p.src } : { gif: p.gif, s: 0 }; }),
      variants: [{ frames: data.frames.map(function (p, i) {
        return { p: i, x: p.x, y: p.y, key: p.key, ms: p.ms, first: p.first, label: p.label };
      }) }],
      axes: []
    };
  }
  var variants = data.variants, axes = data.axes || [];
  var pics = variants[0].frames, n = pics.length, current = 0;
  var canvas = root.querySelector(".np-canvas"), ctx = canvas.getContext("2d");
  var slider = root.querySelector(".np-slider"), pos = root.querySelector(".np-pos");
  var playBtn = root.querySelector(".np-play"), speedSel = root.querySelector(".np-speed");
  var loopBox = root.querySelector(".np-loop");
  var captionEl = root.querySelector(".np-caption"), readingEl = root.querySelector(".np-reading");
  var optionSliders = Array.prototype.slice.call(root.querySelectorAll(".np-option"));
  var ICON_PLAY = __PLAY__, ICON_PAUSE = __PAUSE__;
  var images = [], drawn = -1, timer = null, keyOf = [];
  var held = false;  // the reader paused (or scrubbed): scrolling back does not play it again
  function keys() {
    keyOf = [];
    for (var i = 0, k = 0; i < n; i++) { if (pics[i].key) k = i; keyOf.push(k); }
  }
  keys();
  var player = {
    count: n, frame: 0, playing: false, variant: 0, variants: variants.length,
    at: axes.map(function () { return 0; }),
    outputFrame: function (i) { return pics[i].first; },
    seek: function (i) { show(i); },
    // called from outside (a notebook, a test): as the reader's own play and pause
    play: function () { held = false; play(); }, pause: function () { held = true; pause(); },
    toggle: function () { if (player.playing) pause(); else play(); },
    setVariant: function (v) { choose(v); },
    setOption: function (axis, index) { setOption(axis, index); }
  };
  root.ntkvizPlayer = player;
  (window.ntkvizPlayers = window.ntkvizPlayers || []).push(player);

  function paint(i) {
    var p = pics[i];
    ctx.drawImage(images[p.p], p.x, p.y);
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
  function steady() {
    // the position's room is that of its longest text: the controls do not shift (or wrap
    // onto a second line and back) while it plays
    var longest = 0;
    for (var i = 1; i < n; i++) if (label(i).length > label(longest).length) longest = i;
    pos.style.minWidth = "";
    pos.textContent = label(longest);
    pos.style.minWidth = Math.ceil(pos.getBoundingClientRect().width) + "px";
  }
  function show(i) {
    i = Math.max(0, Math.min(n - 1, Math.round(Number(i)) || 0));
    draw(i);
    player.frame = i;
    root.setAttribute("data-frame", String(i));
    slider.value = String(i);
    pos.textContent = label(i);
  }
  // -- variants: the same moment of another variant --------------------------------------------
  function moment(frames, was) {
    // the picture showing the same training step, else the same output frame
    var i;
    if (was.label) {
      for (i = 0; i < frames.length; i++) if (frames[i].label === was.label) return i;
    }
    var f = was.first, best = 0;
    for (i = 0; i < frames.length; i++) if (frames[i].first <= f) best = i;
    return best;
  }
  function choose(v) {
    v = Math.max(0, Math.min(variants.length - 1, Math.round(Number(v)) || 0));
    var was = pics[player.frame], variant = variants[v];
    current = v;
    pics = variant.frames; n = pics.length; keys(); drawn = -1;
    player.count = n; player.variant = v;
    player.at = variant.at ? variant.at.slice() : [];
    slider.max = String(Math.max(n - 1, 0));
    optionSliders.forEach(function (s, a) {
      s.value = String(player.at[a]);
      var ticks = root.querySelectorAll('.np-ticks[data-axis="' + a + '"] span');
      for (var t = 0; t < ticks.length; t++) ticks[t].classList.toggle("np-on", t === player.at[a]);
      var shown = root.querySelector('.np-option-value[data-axis="' + a + '"]');
      if (shown) shown.textContent = axes[a].values[player.at[a]];
    });
    if (captionEl && variant.caption !== undefined) captionEl.textContent = variant.caption;
    if (readingEl && variant.reading !== undefined) readingEl.textContent = variant.reading;
    root.setAttribute("data-variant", String(v));
    if (player.loaded) { steady(); show(moment(pics, was)); }
  }
  function indexOf(at) {
    for (var v = 0; v < variants.length; v++) {
      var ok = true;
      for (var a = 0; a < at.length; a++) if (variants[v].at[a] !== at[a]) ok = false;
      if (ok) return v;
    }
    return current;
  }
  function setOption(axis, index) {
    if (axis >= axes.length) return;
    var at = player.at.slice();
    at[axis] = Math.max(0, Math.min(axes[axis].values.length - 1, Math.round(Number(index)) || 0));
    choose(indexOf(at));
  }
  optionSliders.forEach(function (s, a) {
    s.addEventListener("input", function () { setOption(a, s.value); });
  });
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
      held = !player.playing;
      root.focus({ preventScroll: true });
    };
  }
  on(".np-first", function () { pause(); show(0); });
  on(".np-last", function () { pause(); show(n - 1); });
  on(".np-back", function () { step(-1); });
  on(".np-fwd", function () { step(1); });
  on(".np-play", function () { player.toggle(); });
  slider.addEventListener("input", function () { pause(); held = true; show(slider.value); });
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
    // the option sliders: up and down move the first, page up and page down the second
    else if (axes.length > 0 && e.key === "ArrowUp") setOption(0, player.at[0] + 1);
    else if (axes.length > 0 && e.key === "ArrowDown") setOption(0, player.at[0] - 1);
    else if (axes.length > 1 && e.key === "PageUp") setOption(1, player.at[1] + 1);
    else if (axes.length > 1 && e.key === "PageDown") setOption(1, player.at[1] - 1);
    else used = false;
    if (used) { held = !player.playing; e.preventDefault(); e.stopPropagation(); }
  }
  root.addEventListener("keydown", onKey);
  var own = document.body && document.body.getAttribute("data-ntkviz-page") === "1";
  var hash = {}, embedded = false, wanted = null;
  var still = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  function follow() {
    if (wanted === "pause") pause();
    else if (wanted === "play" && !held && !still) play();
  }
  function report() {  // in a frame (the gallery's index): tell it how tall the page is
    if (own && window.parent !== window) {
      var tall = document.body.getBoundingClientRect().height;
      window.parent.postMessage({ ntkvizHeight: tall }, "*");
    }
  }
  function hashOption(a) {
    // #alpha=10 (or #alphas=10, #--alphas=10): the index of that value on option a's slider
    var axis = axes[a], names = [axis.name, axis.flag, axis.flag.replace(/^--/, "")];
    names.push(names[2].replace(/s$/, ""));
    for (var k = 0; k < names.length; k++) {
      if (!(names[k] in hash)) continue;
      var want = hash[names[k]], number = Number(want);
      for (var i = 0; i < axis.values.length; i++) {
        if (axis.values[i] === want || (want !== "" && Number(axis.values[i]) === number)) return i;
      }
    }
    return -1;
  }
  function fromHash() {
    var at = player.at.slice(), moved = false;
    for (var a = 0; a < axes.length; a++) {
      var i = hashOption(a);
      if (i >= 0 && i !== at[a]) { at[a] = i; moved = true; }
    }
    if (moved) choose(indexOf(at));
    if (hash.frame) { pause(); show(Number(hash.frame) - 1); }
  }
  if (own) {
    // a page of its own: keys work without clicking the player first
    document.addEventListener("keydown", function (e) { if (!root.contains(e.target)) onKey(e); });
    // page.html#frame=101 shows frame 101 (a link to a moment); #embed: in the gallery's index;
    // on an explore page #alpha=10&frame=40 opens on that variant
    var readHash = function () {
      hash = {};
      location.hash.slice(1).split("&").forEach(function (part) {
        var kv = part.split("=");
        if (kv[0]) hash[decodeURIComponent(kv[0])] = kv.length > 1 ? decodeURIComponent(kv[1]) : "";
      });
    };
    readHash();
    if ("embed" in hash) document.body.classList.add("np-embed");
    embedded = "embed" in hash && window.parent !== window;
    // embedded (the gallery's index): it says {ntkviz: "play"} when the player scrolls into
    // view and {ntkviz: "pause"} when it leaves; a reader who paused it keeps it paused
    window.addEventListener("message", function (e) {
      if (e.source !== window.parent || !e.data || typeof e.data.ntkviz !== "string") return;
      wanted = e.data.ntkviz;
      if (player.loaded) follow();
    });
    window.addEventListener("resize", report);
    if (embedded && window.ResizeObserver) new ResizeObserver(report).observe(document.body);
    window.addEventListener("hashchange", function () {
      readHash();
      if (player.loaded) fromHash();
    });
  }
  // A patch is the rest of a one-picture GIF: its variant's screen (palette), sized to it.
  var screens = data.screens.map(function (s) { return s ? atob(s) : ""; });
  function source(p) {
    if (p.src) return p.src;
    var body = atob(p.gif), screen = screens[p.s || 0];
    return "data:image/gif;base64," +
      btoa(screen.slice(0, 6) + body.slice(13, 17) + screen.slice(10) + body);
  }
  player.ready = Promise.all(data.pool.map(function (p, i) {
    var img = new Image();
    images[i] = img;
    img.src = source(p);
    return img.decode ? img.decode() : new Promise(function (ok) { img.onload = ok; });
  })).then(function () {
    var poster = root.querySelector(".np-poster");
    if (poster) poster.parentNode.removeChild(poster);
    canvas.style.display = "block";
    steady();
    player.loaded = true;
    show(embedded && typeof keyPicture === "number" ? keyPicture : 0);
    if (own) fromHash();
    if (wanted) follow();
    report();
    return player;
  });
  if (variants.length > 1) choose(0);
})();
