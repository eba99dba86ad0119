/* Tailorcast player: enhances the page's plain <video> with chapters, a pay call-to-action over the
   picture during the pay scene, a bar under the picture (captions toggle, tap for sound, replay and the
   pay button) and a pay strip over it (site.css sizes the three so that one strip is on screen whenever
   any of the picture is; nothing floats over it), live mode (the shared base video with the
   customer's live stills drawn on it) and, when the page has an API, events and the paid status.
   Nothing but the pay scene's call-to-action is drawn over the picture.
   Without this file the page works as published. The animation vocabulary mirrors renderer/animation.py. */
(function () {
  'use strict';
  var src = document.getElementById('tc-timeline');
  var video = document.getElementById('video');
  if (!src || !video || !video.parentNode) return;
  var data;
  try { data = JSON.parse(src.textContent); } catch (e) { return; }

  var L = data.labels || {};
  var fps = data.fps || 30;
  var total = Math.max(1, Math.round((data.duration || 0) * fps));
  var stage = video.parentNode;
  var payLink = document.getElementById('pay');
  var bar = stage.querySelector('.tc-bar');
  if (!bar) { bar = make('div', 'tc-bar'); stage.appendChild(bar); } // a page without one still gets its controls
  var barPay = bar.querySelector('a');
  var topStrip = stage.querySelector('.tc-top'); // the pay strip over the picture
  if (!topStrip && payLink) { // a page without one gets it, a copy of the page's pay button
    topStrip = make('div', 'tc-top');
    var copy = make('a', 'pay', payLink.textContent);
    copy.href = payLink.href;
    copy.rel = 'noopener';
    topStrip.appendChild(copy);
    stage.insertBefore(topStrip, video);
  }
  var api = data.api && /^https?:$/.test(location.protocol) ? data.api : null;
  var token = data.token;
  var live = null; // the playing rendition's live data, once in live mode
  var sent = {};
  var noop = function () {};

  function make(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text) e.textContent = text;
    return e;
  }

  // ---- events and paid status (only with an API on this origin) ----
  function send(type, extra) {
    if (!api || !token) return;
    var body = {token: token, type: type};
    if (extra) for (var k in extra) body[k] = extra[k];
    body = JSON.stringify(body);
    try {
      if (navigator.sendBeacon && navigator.sendBeacon(api + 'events', body)) return;
      fetch(api + 'events', {method: 'POST', body: body, keepalive: true, headers: {'Content-Type': 'text/plain'}}).catch(noop);
    } catch (e) { /* the page works without the server */ }
  }
  function once(type) { if (!sent[type]) { sent[type] = 1; send(type); } }

  function markPaid() {
    var pays = document.querySelectorAll('#pay, .tc-cta, [data-tc-pay]');
    for (var i = 0; i < pays.length; i++) pays[i].hidden = true;
    if (payLink && !document.querySelector('.tc-paid')) {
      var p = make('p', 'tc-paid', L.paid);
      p.setAttribute('role', 'status');
      payLink.parentNode.insertBefore(p, payLink.nextSibling);
    }
    paid = true;
    if (topStrip) topStrip.hidden = true;
  }
  var paid = false;
  function checkPaid() {
    if (!api || !token || !window.fetch) return;
    var ctl = window.AbortController ? new AbortController() : null;
    var timer = setTimeout(function () { if (ctl) ctl.abort(); }, 4000);
    fetch(api + 'status/' + encodeURIComponent(token), {cache: 'no-store', headers: {Accept: 'application/json'}, signal: ctl && ctl.signal})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (j) { if (j && j.paid === true) markPaid(); })
      .catch(noop)
      .then(function () { clearTimeout(timer); });
  }

  // ---- the picture's rectangle inside the <video> box (object-fit: contain) ----
  var frame = make('div', 'tc-frame');
  var ovLayer = make('div', 'tc-ov');
  ovLayer.setAttribute('aria-hidden', 'true');
  frame.appendChild(ovLayer);
  stage.appendChild(frame);

  function current() {
    var w = video.videoWidth, h = video.videoHeight, rs = data.renditions || [];
    for (var i = 0; i < rs.length; i++) if (rs[i].w === w && rs[i].h === h) return rs[i];
    return null;
  }
  function fit() { // shown once the picture's size is known, so it never moves under the reader
    var r = current();
    stage.classList.toggle('tc-ready', !!r);
    if (!r) return;
    var ew = video.clientWidth, eh = video.clientHeight;
    var s = Math.min(ew / r.w, eh / r.h), w = r.w * s, h = r.h * s;
    frame.style.left = video.offsetLeft + (ew - w) / 2 + 'px';
    frame.style.top = video.offsetTop + (eh - h) / 2 + 'px';
    frame.style.width = w + 'px';
    frame.style.height = h + 'px';
  }

  // ---- pay call-to-action over the video during the pay scene ----
  var pay = data.pay, cta = null;
  if (pay && payLink) {
    cta = make('a', 'tc-cta', pay.label || payLink.textContent);
    cta.href = payLink.href;
    cta.rel = 'noopener';
    cta.hidden = true;
    cta.addEventListener('click', function () { send('cta_click'); });
    frame.appendChild(cta);
  }
  function placeCta() {
    if (!cta) return;
    var r = current(), b = r && r.cta;
    cta.classList.toggle('tc-cta-free', !b);
    ['left', 'top', 'width', 'height'].forEach(function (k, i) { cta.style[k] = b ? b[i] * 100 + '%' : ''; });
  }
  if (payLink) payLink.addEventListener('click', function () { send('pay_started'); });
  [barPay, topStrip && topStrip.querySelector('a')].forEach(function (a) { if (a) a.addEventListener('click', function () { send('pay_started'); }); });

  // ---- the strip over the picture keeps its pay link out of sight while the page's pay button is wholly on screen ----
  // (on screen: clear of the notch and the home indicator, read from a probe styled with env())
  var seenBy = null;
  function watchPay() {
    if (seenBy) seenBy.disconnect();
    var probe = make('div');
    ['Top', 'Bottom'].forEach(function (k) { probe.style['padding' + k] = 'env(safe-area-inset-' + k.toLowerCase() + ', 0px)'; });
    probe.style.position = 'absolute';
    probe.style.visibility = 'hidden';
    document.body.appendChild(probe);
    var cs = getComputedStyle(probe), margin = '-' + cs.paddingTop + ' 0px -' + cs.paddingBottom + ' 0px';
    document.body.removeChild(probe);
    seenBy = new IntersectionObserver(function (es) {
      stage.classList.toggle('tc-pay-seen', es[es.length - 1].intersectionRatio > 0.99);
    }, {rootMargin: margin, threshold: [0, 0.99, 1]});
    seenBy.observe(payLink);
  }
  if (payLink && topStrip && window.IntersectionObserver) {
    watchPay();
    window.addEventListener('orientationchange', watchPay);
  }
  function control(cls, label, text) { // a button in the bar, before the pay button; its name is the label
    var b = make('button', cls, text);
    b.type = 'button';
    b.title = label;
    b.appendChild(make('span', 'tc-sr', (text ? ' ' : '') + label));
    bar.insertBefore(b, barPay);
    return b;
  }

  // ---- tap for sound, replay ----
  var track = video.textTracks && video.textTracks[0];
  var cc = track ? control('tc-cc', L.captions, 'CC') : null;
  var sound = control('tc-sound', L.sound);
  sound.hidden = true;
  sound.addEventListener('click', function () {
    seen();
    video.muted = false;
    if (video.paused) play();
    sound.hidden = true;
  });
  var replay = control('tc-replay', L.replay);
  replay.hidden = true;
  replay.addEventListener('click', function () {
    replay.hidden = true;
    video.currentTime = 0;
    play();
  });

  function seen() { // the whole player on screen: the picture, and the bar under it rather than over it
    if (stage.scrollIntoView) stage.scrollIntoView({block: 'nearest'});
  }
  function play() {
    try {
      var p = video.play();
      if (p && p.catch) p.catch(noop);
    } catch (e) { /* autoplay refused: the poster and the controls stay */ }
  }

  // ---- captions toggle ----
  if (cc) {
    cc.addEventListener('click', function () {
      track.mode = track.mode === 'showing' ? 'hidden' : 'showing';
      sync();
    });
  }
  function sync() { if (cc) cc.setAttribute('aria-pressed', track.mode === 'showing' ? 'true' : 'false'); }

  // ---- chapters ----
  var chapterLinks = document.querySelectorAll('.chapters a[data-start]');
  function sceneAt(t) {
    var sc = data.scenes || [], hit = sc[0];
    for (var i = 0; i < sc.length; i++) if (t + 1e-3 >= sc[i].start) hit = sc[i];
    return hit;
  }
  Array.prototype.forEach.call(chapterLinks, function (a) {
    a.addEventListener('click', function (ev) {
      ev.preventDefault();
      var t = parseFloat(a.getAttribute('data-start')) || 0;
      video.currentTime = t;
      play();
      seen();
      var s = sceneAt(t);
      if (s) send('chapter', {chapter: s.id});
    });
  });

  // ---- live mode: live stills drawn with the animation vocabulary of renderer/animation.py ----
  var SLIDE = {'slide-left': [-1, 0], 'slide-right': [1, 0], 'slide-up': [0, 1], 'slide-down': [0, -1]};
  var BACK = 1.70158;
  function cubic(p) { return 1 - Math.pow(1 - p, 3); }
  function back(p) { return 1 + (BACK + 1) * Math.pow(p - 1, 3) + BACK * Math.pow(p - 1, 2); }
  function pyRound(x) { // Python's round(): halves to even
    var f = Math.floor(x), d = x - f;
    return d > 0.5 ? f + 1 : d < 0.5 ? f : (f % 2 === 0 ? f : f + 1);
  }
  var els = [], lastN = -1;

  function buildStills() { // a canvas per still, in the still's box, its drawn part copied from its sheet (one image per rendition)
    ovLayer.textContent = '';
    els = [];
    lastN = -1;
    if (!live) return;
    var r = live, list = r.stills || [], sheets = [];
    for (var s = 0; s < (r.sheets || []).length; s++) sheets.push(sheet(r.sheets[s].src));
    for (var i = 0; i < list.length; i++) {
      var o = list[i], el = make('canvas', 'tc-o'), st = el.style;
      el.width = o.width;
      el.height = o.height;
      st.left = pc(o.x, r.width);
      st.top = pc(o.y, r.height);
      st.width = pc(o.width, r.width);
      st.height = pc(o.height, r.height);
      st.visibility = 'hidden';
      ovLayer.appendChild(el);
      els.push(el);
      copy(el, o, sheets[o.sheet]);
    }
  }
  // a share of the frame in percent, a hair over (1/10,000 %): a layout rounding down a share that is a whole number of
  // device pixels, a hair under, would leave the canvas a fraction of a pixel off, and the browser would resample it
  function pc(v, of) { return v / of * 100 + 1e-4 + '%'; }
  function sheet(src) { // one request per sheet, whatever the number of stills in it; a failed one is asked for twice more
    var img = new Image(), tries = 0;
    img.addEventListener('error', function () {
      if (tries++ < 2) setTimeout(function () { img.src = src; }, 1000 * tries); // the same URL: no error is cached
    });
    img.src = src;
    return img;
  }
  function copy(el, o, sheet) { // the still's pixels, one for one: the canvas is drawn as its own <img> was
    var c = o.c;
    function go() {
      el.getContext('2d').drawImage(sheet, o.sx, o.sy, c[2], c[3], c[0], c[1], c[2], c[3]);
      el.setAttribute('data-drawn', '');
    }
    if (sheet.complete && sheet.naturalWidth) go(); else sheet.addEventListener('load', go);
    el.addEventListener('contextrestored', go); // a phone may drop a canvas's pixels (memory, GPU reset): draw again
  }
  function show(el, o, effect, p) {
    var st = el.style, op = 1, tf = 'none', clip = 'none';
    p = Math.min(Math.max(p, 0), 1);
    if (effect !== 'none' && p < 1) {
      if (p <= 0) { st.visibility = 'hidden'; return; }
      if (effect === 'fade') op = p;
      else if (SLIDE[effect]) {
        var v = SLIDE[effect], off = (1 - cubic(p)) * live.slideDistance;
        op = p;
        tf = 'translate(' + pyRound(v[0] * off) / o.width * 100 + '%,' + pyRound(v[1] * off) / o.height * 100 + '%)';
      } else if (effect === 'pop') {
        var s = 0.5 + 0.5 * back(p);
        op = p;
        tf = 'scale(' + Math.max(1, pyRound(o.width * s)) / o.width + ',' + Math.max(1, pyRound(o.height * s)) / o.height + ')';
      } else if (effect === 'wipe') {
        var ww = pyRound(o.width * cubic(p));
        if (ww <= 0) { st.visibility = 'hidden'; return; }
        var cut = (o.width - ww) / o.width * 100 + '%';
        clip = live.rtl ? 'inset(0 0 0 ' + cut + ')' : 'inset(0 ' + cut + ' 0 0)';
      }
    }
    st.opacity = op;
    st.transform = tf;
    st.clipPath = clip;
    st.visibility = 'visible';
  }
  function draw(t) {
    var n = Math.min(Math.floor(t * fps + 0.01), total - 1);
    if (n === lastN || !live) return;
    lastN = n;
    var list = live.stills || [];
    for (var i = 0; i < els.length; i++) {
      var o = list[i], el = els[i];
      if (n < o.start || n >= o.end) { el.style.visibility = 'hidden'; continue; }
      var k = n - o.start, left = o.end - n;
      if (o.enterFrames && k < o.enterFrames) show(el, o, o.enter, k / o.enterFrames);
      else if (o.exitFrames && left <= o.exitFrames) show(el, o, o.exit, (left - 1) / o.exitFrames);
      else show(el, o, 'none', 1);
    }
  }
  function onFrame(now, meta) {
    draw(meta.mediaTime);
    video.requestVideoFrameCallback(onFrame);
  }

  var wantLive = false, baked = [];
  function goLive() {
    var lr = data.live, sources = video.querySelectorAll('source'), changed = false, reload = false;
    for (var i = 0; i < sources.length; i++) {
      var src = sources[i].getAttribute('src') || '', m = /video-([a-z0-9-]+)\.mp4$/.exec(src), name = m && m[1];
      baked.push(src);
      for (var k in lr) if (lr[k].src === src) name = k; // video.bake: false: the page's sources are the base videos already
      if (name && lr[name]) {
        changed = true;
        if (src !== lr[name].src) { sources[i].src = lr[name].src; reload = true; }
      }
    }
    if (!changed) return;
    wantLive = true;
    stage.classList.add('tc-live');
    if (video.controlsList && video.controlsList.add) video.controlsList.add('nofullscreen'); // the live stills are not in the file
    video.disablePictureInPicture = true;
    if (reload) video.load(); else if (video.readyState >= 1) pickLive(); // its metadata may have come before this script
    if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(onFrame);
  }
  function goBaked() {
    var sources = video.querySelectorAll('source');
    for (var i = 0; i < sources.length; i++) sources[i].src = baked[i];
    wantLive = false;
    live = null;
    buildStills();
    stage.classList.remove('tc-live');
    video.load();
  }
  function pickLive() { // after the live source's metadata: the live stills of the rendition that plays
    var r = current(), next = wantLive && r ? data.live[r.name] : null;
    if (next && next !== live) {
      live = next;
      buildStills();
      draw(video.currentTime);
    }
  }

  // ---- state that follows the time ----
  var shownScene = null, started = false, reached = {}, ctaTimer = 0;
  function update() {
    var t = video.currentTime, d = video.duration || data.duration || 0;
    if (live && (video.paused || !video.requestVideoFrameCallback)) draw(t); // else drawn per presented frame
    if (cta) {
      var showCta = !paid && (video.ended || (t >= pay.start && t < pay.end + 0.05));
      if (cta.hidden === showCta) cta.hidden = !showCta;
      // timeupdate comes every 250 ms or so: at the window's edges, look again when the edge is reached
      clearTimeout(ctaTimer);
      var edge = t < pay.start ? pay.start : t < pay.end + 0.05 ? pay.end + 0.05 : 0;
      if (edge && !video.paused && edge - t < 0.5) ctaTimer = setTimeout(update, (edge - t) * 1000 / (video.playbackRate || 1) + 10);
    }
    var s = sceneAt(t);
    if (s !== shownScene) { // touch the DOM only when the chapter changes
      shownScene = s;
      Array.prototype.forEach.call(chapterLinks, function (a) {
        var here = s && Math.abs((parseFloat(a.getAttribute('data-start')) || 0) - s.start) < 1e-3;
        if (here) a.setAttribute('aria-current', 'true'); else a.removeAttribute('aria-current');
      });
    }
    if (started && s && !video.seeking && !reached[s.id]) { reached[s.id] = 1; send('scene', {scene: s.id}); } // drop-off by scene
    if (d > 0 && !video.seeking) {
      var f = t / d;
      if (f >= 0.25) once('play_25');
      if (f >= 0.5) once('play_50');
      if (f >= 0.75) once('play_75');
    }
  }

  video.addEventListener('loadedmetadata', function () {
    pickLive();
    fit();
    placeCta();
    update();
  });
  ['timeupdate', 'seeked', 'seeking', 'loadeddata'].forEach(function (e) { video.addEventListener(e, update); });
  video.addEventListener('play', function () {
    if (!started) { started = true; once('play'); update(); }
    replay.hidden = true;
    sound.hidden = !video.muted;
  });
  video.addEventListener('volumechange', function () { if (!video.muted) sound.hidden = true; });
  video.addEventListener('ended', function () {
    replay.hidden = false;
    once('play_100');
    update();
  });
  var lastSource = video.querySelector('source:last-of-type');
  if (lastSource) lastSource.addEventListener('error', function () { if (wantLive) goBaked(); }); // no base video: the baked one
  if (window.ResizeObserver) new ResizeObserver(fit).observe(video);
  window.addEventListener('resize', fit);

  // posters follow the rendition the browser will pick
  var chosen = Array.prototype.filter.call(video.querySelectorAll('source'), function (s) {
    return !s.media || (window.matchMedia && matchMedia(s.media).matches);
  })[0];
  var poster = chosen && chosen.getAttribute('data-poster');
  if (poster && poster !== video.getAttribute('poster')) video.poster = poster;

  if (data.live) goLive();
  if (window.matchMedia && matchMedia('(prefers-reduced-motion: reduce)').matches) {
    video.autoplay = false;
    video.pause();
  } else {
    video.muted = true;
    play();
  }
  sync();
  fit();
  once('view');
  checkPaid();
  // back from the payment page (the back/forward cache keeps this page) or from another tab: ask again
  window.addEventListener('pageshow', function (e) { if (e.persisted) checkPaid(); });
  document.addEventListener('visibilitychange', function () { if (document.visibilityState === 'visible') checkPaid(); });
})();
