'use strict';
// The timeline of one simulated run, drawn on a canvas: one lane per server along virtual time.
// Times are microseconds of virtual time.
(function () {
  var started = performance.now();
  var D = JSON.parse(document.getElementById('data').textContent);
  var $ = function (id) { return document.getElementById(id); };
  var K = {};
  D.kinds.forEach(function (k, i) { K[k] = i; });
  var S = D.strings;

  // ----- Decode the columns -----
  function undelta(a) { var s = 0; for (var i = 0; i < a.length; i++) { s += a[i]; a[i] = s; } return a; }
  var E = D.ev, L = D.logs;
  var et = undelta(E.t), ek = E.k, el = E.l, ep = E.p, ei = undelta(E.i), en = E.n, es = E.s;
  var lt = undelta(L.t), ll = L.l, lv = L.v, lg = L.g, lx = L.x;
  var NE = et.length, NL = lt.length;
  var END = Math.max(D.end, NE ? et[NE - 1] : 0, NL ? lt[NL - 1] : 0, 1);
  var START = D.window.from || 0;

  // ----- Lanes: tester, servers (by number), clerks -----
  function laneKind(name) {
    if (name === 'tester') return 0;
    if (/^clerk/.test(name)) return 2;
    return 1;
  }
  function natural(a, b) {
    var x = a.match(/^(.*?)(\d+)$/), y = b.match(/^(.*?)(\d+)$/);
    if (x && y && x[1] === y[1]) return (+x[2]) - (+y[2]);
    return a < b ? -1 : a > b ? 1 : 0;
  }
  var order = D.lanes.map(function (_, i) { return i; }).sort(function (a, b) {
    var ka = laneKind(D.lanes[a]), kb = laneKind(D.lanes[b]);
    return ka !== kb ? ka - kb : natural(D.lanes[a], D.lanes[b]);
  });
  var laneOn = D.lanes.map(function () { return true; });
  var clerkCount = order.filter(function (l) { return laneKind(D.lanes[l]) === 2; }).length;
  var MANY_CLERKS = 8;
  var LANE_H = [58, 66, clerkCount > MANY_CLERKS ? 24 : 40];
  var laneY = [], laneH = [];

  // ----- Calls: each call's send, delivery, handler end and outcome, by id -----
  var calls = {};
  var methodSet = {};
  function call(id) { return calls[id] || (calls[id] = { s: -1, d: -1, h: -1, o: -1 }); }
  var roleFromLabels = {}, labelsOf = {}, obsOf = {}, crashes = {}, applied = [], checks = [], ops = [];
  var openCheck = {}, openOp = {};
  for (var i = 0; i < NE; i++) {
    var k = ek[i];
    if (k <= K.Fail) {
      if (ei[i] === 0) continue;
      var c = call(ei[i]);
      if (k === K.Send) { c.s = i; methodSet[S[es[i]]] = true; }
      else if (k === K.Deliver) c.d = i;
      else if (k === K.Handled) c.h = i;
      else c.o = i;
    } else if (k === K.Label) {
      (labelsOf[el[i]] = labelsOf[el[i]] || []).push(i);
    } else if (k === K.ObserveState) {
      (obsOf[el[i]] = obsOf[el[i]] || []).push(i);
    } else if (k === K.Crash || k === K.Start) {
      (crashes[el[i]] = crashes[el[i]] || []).push(i);
    } else if (k === K.CheckBegin) {
      openCheck[ei[i]] = checks.length; checks.push({ b: i, e: -1 });
    } else if (k === K.CheckEnd) {
      if (openCheck[ei[i]] !== undefined) checks[openCheck[ei[i]]].e = i;
    } else if (k === K.OpBegin) {
      openOp[ei[i]] = ops.length; ops.push({ b: i, e: -1 });
    } else if (k === K.OpEnd) {
      if (openOp[ei[i]] !== undefined) ops[openOp[ei[i]]].e = i;
    }
  }
  var methods = Object.keys(methodSet).sort();
  // Raft's RPCs keep their colours; the others take the rest in turn.
  var PALETTE = ['#ea580c', '#0d9488', '#db2777', '#65a30d', '#b45309', '#0891b2', '#4f46e5', '#be123c'];
  var other = 0;
  var methodColor = {}, methodOn = {};
  methods.forEach(function (m, j) {
    var c;
    if (/AppendEntries/.test(m)) c = '#2563eb';
    else if (/RequestVote/.test(m)) c = '#9333ea';
    else if (/InstallSnapshot/.test(m)) c = '#16a34a';
    else c = PALETTE[other++ % PALETTE.length];
    methodColor[m] = c; methodOn[m] = true;
  });

  // Arrows, sorted by start: requests (send -> delivery or loss) and replies (handler -> caller).
  var arrows = [];
  Object.keys(calls).forEach(function (id) {
    var c = calls[id];
    if (c.s < 0) return;
    var m = S[es[c.s]], from = el[c.s];
    if (c.d >= 0) arrows.push({ t0: et[c.s], l0: from, t1: et[c.d], l1: el[c.d], m: m, id: +id, rep: false, lost: false });
    else if (c.o >= 0 && ek[c.o] === K.DropRequest && ep[c.s] >= 0)
      arrows.push({ t0: et[c.s], l0: from, t1: et[c.o], l1: ep[c.s], m: m, id: +id, rep: false, lost: true });
    if (c.h >= 0 && c.o >= 0 && (ek[c.o] === K.Reply || ek[c.o] === K.DropReply))
      arrows.push({ t0: et[c.h], l0: el[c.h], t1: et[c.o], l1: from, m: m, id: +id, rep: true, lost: ek[c.o] === K.DropReply });
  });
  arrows.sort(function (a, b) { return a.t0 - b.t0; });
  var maxSpan = 0;
  arrows.forEach(function (a) { maxSpan = Math.max(maxSpan, a.t1 - a.t0); });

  // ----- Roles and terms over time, from labels (else from the tester's observations) -----
  function parseLabel(s) {
    var t = s.match(/\bT(?:erm)?[ =:]?(\d+)/i), r = s.match(/leader|candidate|follower/i);
    return { term: t ? +t[1] : null, role: r ? r[0].toLowerCase() : null, text: s };
  }
  var bands = {}; // lane -> [{t0, t1, role, term, text}]
  function downAt(lane) { // crash times of a lane, sorted
    return (crashes[lane] || []).filter(function (j) { return ek[j] === K.Crash; }).map(function (j) { return et[j]; });
  }
  D.lanes.forEach(function (_, lane) {
    var src = labelsOf[lane], list = [];
    if (src && src.length) {
      src.forEach(function (j) { var p = parseLabel(S[es[j]]); p.t0 = et[j]; list.push(p); });
    } else if (obsOf[lane]) {
      obsOf[lane].forEach(function (j) {
        list.push({ t0: et[j], term: en[j], role: ep[j] === 1 ? 'leader' : 'follower', text: 'seen by the tester: T' + en[j] + (ep[j] === 1 ? ' leader' : ' not leader') });
      });
    }
    var downs = downAt(lane), out = [];
    for (var j = 0; j < list.length; j++) {
      var t1 = j + 1 < list.length ? list[j + 1].t0 : END;
      for (var d = 0; d < downs.length; d++) if (downs[d] > list[j].t0 && downs[d] < t1) { t1 = downs[d]; break; }
      list[j].t1 = t1;
      out.push(list[j]);
    }
    bands[lane] = out;
  });

  // Down intervals per lane: from a crash to the next start.
  var down = {};
  D.lanes.forEach(function (_, lane) {
    var list = crashes[lane] || [], out = [], from = null;
    list.forEach(function (j) {
      if (ek[j] === K.Crash && from === null) from = et[j];
      else if (ek[j] === K.Start && from !== null) { out.push([from, et[j]]); from = null; }
    });
    if (from !== null) out.push([from, END]);
    down[lane] = out;
  });

  // ----- Partitions: which servers reach each other (both ways), from the link changes -----
  var serverLanes = order.filter(function (l) { return laneKind(D.lanes[l]) === 1; });
  var linkUp = {}; // "from>to" -> enabled
  var groups = {}; // lane -> [{t0, t1, g, n}] (g: group number, -1 cut off from all; n: groups)
  serverLanes.forEach(function (l) { groups[l] = []; });
  function regroup(t) {
    var comp = {}, next = 0;
    serverLanes.forEach(function (a) {
      if (comp[a] !== undefined) return;
      comp[a] = next;
      var stack = [a];
      while (stack.length) {
        var x = stack.pop();
        serverLanes.forEach(function (y) {
          if (comp[y] === undefined && linkUp[x + '>' + y] && linkUp[y + '>' + x]) { comp[y] = next; stack.push(y); }
        });
      }
      next++;
    });
    var size = {}, big = 0;
    serverLanes.forEach(function (a) { size[comp[a]] = (size[comp[a]] || 0) + 1; });
    Object.keys(size).forEach(function (g) { if (size[g] > 1) big++; });
    // Tinted: servers cut off from all (red), and the groups of a partition with two or more.
    serverLanes.forEach(function (a) {
      var g = next <= 1 ? 0 : size[comp[a]] === 1 ? -1 : big > 1 ? comp[a] : 0, list = groups[a], last = list[list.length - 1];
      if (last && last.g === g && last.n === next && last.big === (big > 1)) return;
      if (last) last.t1 = t;
      list.push({ t0: t, t1: END, g: g, n: next, big: big > 1 });
    });
  }
  var links = [];
  for (i = 0; i < NE; i++) if (ek[i] === K.Link) links.push(i);
  for (var q = 0; q < links.length; q++) {
    var j = links[q];
    if (ep[j] >= 0) linkUp[el[j] + '>' + ep[j]] = en[j] === 1;
    if (q + 1 === links.length || et[links[q + 1]] !== et[j]) regroup(et[j]);
  }
  var GROUP_TINT = ['rgba(59,130,246,.10)', 'rgba(234,88,12,.10)', 'rgba(22,163,74,.10)', 'rgba(219,39,119,.10)', 'rgba(124,58,237,.10)'];

  // ----- Filters and search -----
  var query = '', matches = null;
  function runSearch() {
    query = $('search').value.trim().toLowerCase();
    matches = null;
    var res = $('results');
    res.textContent = '';
    if (!query) { $('searchCount').textContent = ''; $('resultsTitle').hidden = true; draw(); return; }
    matches = new Uint8Array(NL);
    var n = 0;
    for (var j = 0; j < NL; j++) {
      var hit = lx[j].toLowerCase().indexOf(query) >= 0 || S[lg[j]].toLowerCase().indexOf(query) >= 0;
      if (hit) {
        matches[j] = 1;
        if (n < 300) {
          var div = document.createElement('div');
          div.textContent = fmt(lt[j]) + ' ' + D.lanes[ll[j]] + ': ' + lx[j];
          div.dataset.log = j;
          res.appendChild(div);
        }
        n++;
      }
    }
    $('searchCount').textContent = n + ' matching' + (n > 300 ? ' (first 300 listed)' : '');
    $('resultsTitle').hidden = false;
    draw();
  }
  $('results').addEventListener('click', function (e) {
    var j = e.target.dataset && e.target.dataset.log;
    if (j === undefined) return;
    j = +j;
    centerOn(lt[j]);
    showLog(j);
  });

  // ----- View -----
  var GUTTER = 116, AXIS = 26, BOTTOM = 8;
  var canvas = $('canvas'), chart = $('chart'), ctx = canvas.getContext('2d');
  var view = { t0: START, t1: END };
  var W = 800, H = 400;
  function layout() {
    var y = AXIS;
    laneY = []; laneH = [];
    order.forEach(function (l) {
      if (!laneOn[l]) return;
      laneY[l] = y; laneH[l] = LANE_H[laneKind(D.lanes[l])];
      y += laneH[l];
    });
    W = Math.max(400, chart.clientWidth);
    H = y + BOTTOM;
    var r = window.devicePixelRatio || 1;
    canvas.width = W * r; canvas.height = H * r;
    canvas.style.width = W + 'px'; canvas.style.height = H + 'px';
    ctx.setTransform(r, 0, 0, r, 0, 0);
  }
  function X(t) { return GUTTER + (t - view.t0) * (W - GUTTER - 10) / (view.t1 - view.t0); }
  function T(x) { return view.t0 + (x - GUTTER) * (view.t1 - view.t0) / (W - GUTTER - 10); }
  function mid(l) { return laneY[l] + laneH[l] * 0.55; }
  function shown(l) { return laneOn[l] && laneY[l] !== undefined; }
  function fmt(t) {
    var s = (t / 1e6).toFixed(6);
    return s + 's';
  }
  function firstAt(arr, n, t) { // first index with arr[i] >= t
    var lo = 0, hi = n;
    while (lo < hi) { var m = (lo + hi) >> 1; if (arr[m] < t) lo = m + 1; else hi = m; }
    return lo;
  }

  var pending = false;
  function draw() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () { pending = false; paint(); });
  }

  function paint() {
    var t = performance.now();
    layout();
    ctx.clearRect(0, 0, W, H);
    ctx.font = '11px system-ui, sans-serif';
    var vis = order.filter(shown);
    // Lane backgrounds, partitions, crashes.
    vis.forEach(function (l, n) {
      ctx.fillStyle = n % 2 ? '#ffffff' : '#f8fafc';
      ctx.fillRect(GUTTER, laneY[l], W - GUTTER, laneH[l]);
      (groups[l] || []).forEach(function (g) {
        if (g.n <= 1 || (g.g >= 0 && !g.big) || g.t1 < view.t0 || g.t0 > view.t1) return;
        ctx.fillStyle = g.g < 0 ? 'rgba(220,38,38,.10)' : GROUP_TINT[g.g % GROUP_TINT.length];
        var x0 = Math.max(GUTTER, X(g.t0)), x1 = Math.min(W, X(g.t1));
        ctx.fillRect(x0, laneY[l], x1 - x0, laneH[l]);
        if (x1 - x0 > 90) {
          ctx.fillStyle = g.g < 0 ? '#b91c1c' : '#475569';
          ctx.fillText(g.g < 0 ? 'cut off' : 'partition ' + String.fromCharCode(65 + g.g), x0 + 4, laneY[l] + 29);
        }
      });
      (down[l] || []).forEach(function (d) {
        if (d[1] < view.t0 || d[0] > view.t1) return;
        var x0 = Math.max(GUTTER, X(d[0])), x1 = Math.min(W, X(d[1]));
        hatch(x0, laneY[l] + 2, x1 - x0, laneH[l] - 4);
      });
      ctx.strokeStyle = '#e5e7eb';
      ctx.beginPath(); ctx.moveTo(0, laneY[l] + laneH[l] + 0.5); ctx.lineTo(W, laneY[l] + laneH[l] + 0.5); ctx.stroke();
    });
    axis();
    ctx.save();
    ctx.beginPath(); ctx.rect(GUTTER, 0, W - GUTTER, H); ctx.clip();
    drawArrows();
    vis.forEach(function (l) { roleBand(l); });
    drawEvents();
    drawSpans();
    if ($('showLogs').checked) drawLogs();
    failureMark();
    ctx.restore();
    // Lane names.
    vis.forEach(function (l) {
      ctx.fillStyle = '#f1f5f9';
      ctx.fillRect(0, laneY[l], GUTTER - 4, laneH[l]);
      ctx.fillStyle = '#111827';
      ctx.font = '600 12px system-ui, sans-serif';
      ctx.fillText(D.lanes[l], 10, laneY[l] + 18);
      var b = bandAt(l, Math.min(view.t1, END - 1));
      ctx.font = '11px system-ui, sans-serif';
      ctx.fillStyle = '#6b7280';
      var kind = laneKind(D.lanes[l]);
      ctx.fillText(kind === 0 ? 'actions, checks' : kind === 2 ? 'operations' : (b && b.term !== null ? 'T' + b.term + ' ' : '') + (b && b.role ? b.role : ''), 10, laneY[l] + 33);
    });
    $('range').textContent = fmt(view.t0) + ' – ' + fmt(view.t1);
    if (location.hash !== '#selftest') {
      try { // some browsers refuse it for files: the view just is not kept in the address then
        history.replaceState(null, '', '#' + Math.max(0, view.t0 / 1e6).toFixed(3) + '-' + (view.t1 / 1e6).toFixed(3));
      } catch (e) { /* keep the address */ }
    }
    // For tests and measurements: lanes drawn, time of this paint and since the script started.
    document.body.dataset.rendered = String(vis.length);
    document.body.dataset.paintMs = (performance.now() - t).toFixed(1);
    if (!document.body.dataset.loadMs) document.body.dataset.loadMs = (performance.now() - started).toFixed(1);
  }

  function hatch(x, y, w, h) {
    if (w <= 0) return;
    ctx.save();
    ctx.beginPath(); ctx.rect(x, y, w, h); ctx.clip();
    ctx.fillStyle = 'rgba(100,116,139,.16)'; ctx.fillRect(x, y, w, h);
    ctx.strokeStyle = 'rgba(71,85,105,.35)';
    ctx.beginPath();
    for (var s = x - h; s < x + w; s += 8) { ctx.moveTo(s, y + h); ctx.lineTo(s + h, y); }
    ctx.stroke();
    if (w > 60) { ctx.fillStyle = '#334155'; ctx.fillText('crashed', x + 6, y + h / 2 + 4); }
    ctx.restore();
  }

  function axis() {
    ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, W, AXIS);
    var span = view.t1 - view.t0, px = (W - GUTTER) / span, step = 1;
    var steps = [1, 2, 5];
    outer: for (var e = 0; e < 12; e++) for (var s = 0; s < 3; s++) { step = steps[s] * Math.pow(10, e); if (step * px >= 90) break outer; }
    var dec = Math.max(0, 6 - Math.floor(Math.log10(step) + 1e-9));
    ctx.strokeStyle = '#eef2f7'; ctx.fillStyle = '#374151';
    ctx.beginPath();
    for (var t = Math.ceil(view.t0 / step) * step; t <= view.t1; t += step) {
      var x = Math.round(X(t)) + 0.5;
      ctx.moveTo(x, AXIS - 6); ctx.lineTo(x, H);
      ctx.fillText((t / 1e6).toFixed(dec) + 's', x + 3, 15);
    }
    ctx.stroke();
    ctx.strokeStyle = '#cbd5e1';
    ctx.beginPath(); ctx.moveTo(0, AXIS - 0.5); ctx.lineTo(W, AXIS - 0.5); ctx.stroke();
    ctx.fillStyle = '#6b7280'; ctx.fillText('virtual time', 8, 15);
  }

  var ROLE = { leader: '#f59e0b', candidate: '#a855f7', follower: '#94a3b8' };
  function bandAt(l, t) {
    var b = bands[l] || [];
    for (var j = b.length - 1; j >= 0; j--) if (b[j].t0 <= t) return t < b[j].t1 ? b[j] : null;
    return null;
  }
  function roleBand(l) {
    var y = laneY[l] + 4, h = 13;
    (bands[l] || []).forEach(function (b) {
      if (b.t1 < view.t0 || b.t0 > view.t1) return;
      var x0 = Math.max(GUTTER, X(b.t0)), x1 = Math.min(W, X(b.t1));
      ctx.fillStyle = ROLE[b.role] || '#cbd5e1';
      ctx.globalAlpha = b.role === 'follower' || !b.role ? 0.45 : 0.9;
      ctx.fillRect(x0, y, Math.max(1, x1 - x0 - 1), h);
      ctx.globalAlpha = 1;
      if (x1 - x0 > 34) {
        ctx.fillStyle = b.role === 'leader' || b.role === 'candidate' ? '#fff' : '#1f2937';
        var txt = (b.term !== null ? 'T' + b.term + ' ' : '') + (b.role || b.text);
        ctx.fillText(clip(txt, x1 - x0 - 6), x0 + 3, y + 10);
      }
    });
    (obsOf[l] || []).forEach(function (j) { // what the tester saw: small diamonds under the band
      var x = X(et[j]);
      if (x < GUTTER || x > W) return;
      ctx.fillStyle = ep[j] === 1 ? '#b45309' : '#64748b';
      ctx.beginPath(); ctx.moveTo(x, y + h + 1); ctx.lineTo(x + 3, y + h + 4); ctx.lineTo(x, y + h + 7); ctx.lineTo(x - 3, y + h + 4); ctx.fill();
    });
  }
  function clip(s, w) {
    var n = Math.max(0, Math.floor(w / 6));
    return s.length > n ? s.slice(0, Math.max(0, n - 1)) + '…' : s;
  }

  var visibleArrows = [];
  function drawArrows() {
    visibleArrows = [];
    var replies = $('showReplies').checked;
    var lo = 0, hi = arrows.length, t = view.t0 - maxSpan;
    while (lo < hi) { var m = (lo + hi) >> 1; if (arrows[m].t0 < t) lo = m + 1; else hi = m; }
    var byColor = {}, lost = [];
    for (var j = lo; j < arrows.length && arrows[j].t0 <= view.t1; j++) {
      var a = arrows[j];
      if (a.t1 < view.t0 || !methodOn[a.m] || !shown(a.l0) || !shown(a.l1) || (a.rep && !replies)) continue;
      visibleArrows.push(a);
      var key = methodColor[a.m] + (a.rep ? 'r' : 'q');
      (byColor[key] = byColor[key] || []).push(a);
      if (a.lost) lost.push(a);
    }
    var many = visibleArrows.length > 4000;
    Object.keys(byColor).forEach(function (key) {
      var list = byColor[key], rep = key[key.length - 1] === 'r';
      if (many) { // one line per pixel and pair of lanes: zoomed out, the rest would overdraw it
        var seen = new Set();
        list = list.filter(function (a) {
          var k = Math.round(X(a.t0)) * 4096 + Math.round(X(a.t1)) + (a.l0 * 512 + a.l1) * 1e8 + (a.lost ? 0.5 : 0);
          if (seen.has(k)) return false;
          seen.add(k);
          return true;
        });
      }
      ctx.strokeStyle = key.slice(0, -1);
      ctx.globalAlpha = many ? (rep ? 0.12 : 0.3) : rep ? 0.5 : 0.85;
      ctx.lineWidth = rep ? 0.8 : 1.2;
      ctx.setLineDash(rep ? [3, 3] : []);
      ctx.beginPath();
      list.forEach(function (a) {
        var p = ends(a);
        ctx.moveTo(p[0], p[1]); ctx.lineTo(p[2], p[3]);
      });
      ctx.stroke();
      if (!many) { // arrow heads
        ctx.fillStyle = ctx.strokeStyle; ctx.setLineDash([]);
        list.forEach(function (a) { if (!a.lost) head(X(a.t0), mid(a.l0), X(a.t1), mid(a.l1)); });
      }
    });
    ctx.setLineDash([]); ctx.globalAlpha = 1; ctx.lineWidth = 1;
    ctx.strokeStyle = '#dc2626'; ctx.lineWidth = 2;
    ctx.beginPath();
    var crosses = new Set();
    lost.forEach(function (a) { // a red cross where a lost message vanished
      var p = ends(a), x = p[2], y = p[3];
      var ck = Math.round(x / 3) * 1e5 + Math.round(y / 3);
      if (crosses.has(ck)) return;
      crosses.add(ck);
      ctx.moveTo(x - 4, y - 4); ctx.lineTo(x + 4, y + 4); ctx.moveTo(x + 4, y - 4); ctx.lineTo(x - 4, y + 4);
    });
    ctx.stroke(); ctx.lineWidth = 1;
  }
  // Where an arrow starts and ends; a lost message ends at the edge of the lane it never reached.
  function ends(a) {
    var x0 = X(a.t0), y0 = mid(a.l0), x1 = X(a.t1), y1 = mid(a.l1);
    if (a.lost) y1 = y1 > y0 ? laneY[a.l1] + 3 : laneY[a.l1] + laneH[a.l1] - 3;
    return [x0, y0, x1, y1];
  }
  function head(x0, y0, x1, y1) {
    var a = Math.atan2(y1 - y0, x1 - x0), s = 6;
    ctx.beginPath();
    ctx.moveTo(x1, y1);
    ctx.lineTo(x1 - s * Math.cos(a - 0.4), y1 - s * Math.sin(a - 0.4));
    ctx.lineTo(x1 - s * Math.cos(a + 0.4), y1 - s * Math.sin(a + 0.4));
    ctx.fill();
  }

  // Point events: crashes, starts, failed calls, applied entries, actions, link changes.
  function drawEvents() {
    var j0 = firstAt(et, NE, view.t0 - 1), j1 = firstAt(et, NE, view.t1 + 1);
    var lastActionX = -1e9, pxPerUs = (W - GUTTER) / (view.t1 - view.t0);
    var showIdx = pxPerUs * 20000 > 18; // room for entry numbers
    for (var j = j0; j < j1; j++) {
      var k = ek[j], l = el[j];
      if (!shown(l)) continue;
      var x = X(et[j]), y = mid(l);
      if (k === K.Crash) {
        ctx.strokeStyle = '#dc2626'; ctx.lineWidth = 2.5;
        ctx.beginPath(); ctx.moveTo(x - 6, y - 6); ctx.lineTo(x + 6, y + 6); ctx.moveTo(x + 6, y - 6); ctx.lineTo(x - 6, y + 6); ctx.stroke();
        ctx.lineWidth = 1;
      } else if (k === K.Start) {
        ctx.fillStyle = '#16a34a';
        ctx.beginPath(); ctx.moveTo(x, y - 7); ctx.lineTo(x + 9, y); ctx.lineTo(x, y + 7); ctx.fill();
      } else if (k === K.Fail) {
        if (ep[j] >= 0 && !methodOn[S[es[j]]]) continue;
        ctx.fillStyle = '#9ca3af'; ctx.fillRect(x - 1.5, y - 1.5, 3, 3);
      } else if (k === K.Applied) {
        ctx.fillStyle = '#15803d';
        ctx.fillRect(x - 1, laneY[l] + laneH[l] - 19, 2, 7);
        if (showIdx) { ctx.fillStyle = '#166534'; ctx.fillText(String(en[j]), x + 2, laneY[l] + laneH[l] - 12); }
      } else if (k === K.Action) {
        ctx.strokeStyle = '#1d4ed8'; ctx.beginPath(); ctx.moveTo(x + 0.5, laneY[l] + 2); ctx.lineTo(x + 0.5, laneY[l] + laneH[l] - 2); ctx.stroke();
        ctx.fillStyle = '#1d4ed8';
        ctx.beginPath(); ctx.moveTo(x, laneY[l] + 3); ctx.lineTo(x + 7, laneY[l] + 6); ctx.lineTo(x, laneY[l] + 9); ctx.fill();
        if (x - lastActionX > 60) { ctx.fillText(clip(S[es[j]], 180), x + 9, laneY[l] + 11); lastActionX = x + Math.min(180, S[es[j]].length * 6); }
      } else if (k === K.Link) {
        ctx.fillStyle = en[j] === 1 ? '#16a34a' : '#dc2626';
        ctx.fillRect(x - 0.5, laneY[l] + laneH[l] - 6, 1.5, 5);
      } else if (k === K.User || k === K.Observe) {
        ctx.fillStyle = '#0f766e'; ctx.beginPath(); ctx.arc(x, y, 2.5, 0, 7); ctx.fill();
      }
    }
  }

  // Checks on the tester's lane and clerks' operations, as bars from begin to end, drawn in
  // batches by colour (thousands of operations stay fast); labels where they fit.
  function drawSpans() {
    var bars = {}, labels = [];
    function bar(b, e, row, color, label) {
      var l = el[b];
      if (!shown(l)) return;
      var t0 = et[b], t1 = e >= 0 ? et[e] : END;
      if (t1 < view.t0 || t0 > view.t1) return;
      var x0 = Math.max(GUTTER - 2, X(t0)), x1 = Math.min(W + 2, X(t1));
      (bars[color] = bars[color] || []).push([x0, laneY[l] + row, Math.max(2, x1 - x0)]);
      if (x1 - x0 > 30) labels.push([label, x0, x1, laneY[l] + row]);
    }
    checks.forEach(function (c) {
      var failed = c.e < 0 || en[c.e] === 0;
      bar(c.b, c.e, 24, failed ? '#dc2626' : '#16a34a', c);
    });
    ops.forEach(function (o) { bar(o.b, o.e, 6, o.e < 0 ? '#dc2626' : '#0891b2', o); });
    Object.keys(bars).forEach(function (color) {
      ctx.fillStyle = color;
      ctx.globalAlpha = 0.22;
      ctx.beginPath();
      bars[color].forEach(function (r) { ctx.rect(r[0], r[1], r[2], 12); });
      ctx.fill();
      ctx.globalAlpha = 1;
      ctx.beginPath();
      bars[color].forEach(function (r) { ctx.rect(r[0], r[1], 2, 12); });
      ctx.fill();
    });
    ctx.fillStyle = '#111827';
    labels.forEach(function (x) {
      var s = x[0], text = S[es[s.b]] + (s.e >= 0 && S[es[s.e]] ? ' → ' + S[es[s.e]] : '');
      ctx.fillText(clip(text, x[2] - x[1] - 8), x[1] + 5, x[3] + 10);
    });
  }

  var LEVEL_COLOR = ['#000', '#dc2626', '#d97706', '#2563eb', '#64748b', '#cbd5e1'];
  function drawLogs() {
    var j0 = firstAt(lt, NL, view.t0), j1 = firstAt(lt, NL, view.t1 + 1);
    var last = {}; // lane -> last pixel and kind drawn
    var withText = j1 - j0 < 600, byLane = {}; // zoomed in: the lines' text, where it fits
    for (var j = j0; j < j1; j++) {
      var l = ll[j];
      if (!shown(l)) continue;
      var x = X(lt[j]), y = laneY[l] + laneH[l] - 10;
      var key = Math.round(x) * 16 + (matches ? matches[j] : lv[j]);
      if (last[l] === key) continue;
      last[l] = key;
      if (matches) {
        if (!matches[j]) { ctx.fillStyle = '#e5e7eb'; ctx.fillRect(x, y + 2, 1, 5); continue; }
        ctx.fillStyle = '#eab308'; ctx.fillRect(x - 1.5, y - 4, 3, 12);
      } else {
        ctx.fillStyle = LEVEL_COLOR[lv[j]] || '#64748b'; ctx.fillRect(x, y, 1, 8);
      }
      if (withText && (!matches || matches[j])) (byLane[l] = byLane[l] || []).push(j);
    }
    // Each line's text in the room before the next line of its lane.
    ctx.font = '10px ui-monospace, Menlo, Consolas, monospace';
    Object.keys(byLane).forEach(function (l) {
      var list = byLane[l], y = laneY[l] + laneH[l] - 2;
      for (var n = 0; n < list.length; n++) {
        var x = X(lt[list[n]]), room = (n + 1 < list.length ? X(lt[list[n + 1]]) : W) - x - 6;
        if (room < 40) continue;
        ctx.fillStyle = lv[list[n]] <= 2 ? LEVEL_COLOR[lv[list[n]]] : '#475569';
        ctx.fillText(clip(lx[list[n]], room), x + 3, y);
      }
    });
    ctx.font = '11px system-ui, sans-serif';
  }

  function failureMark() {
    if (!D.failure) return;
    var x = X(D.end);
    ctx.strokeStyle = '#dc2626'; ctx.lineWidth = 2;
    ctx.beginPath(); ctx.moveTo(x, AXIS); ctx.lineTo(x, H); ctx.stroke(); ctx.lineWidth = 1;
    ctx.fillStyle = '#dc2626'; ctx.font = '600 11px system-ui, sans-serif';
    var label = clip('FAILED: ' + D.failure.split('\n')[0], 420);
    var w = ctx.measureText(label).width, x0 = Math.max(GUTTER + 2, x - w - 8);
    ctx.fillStyle = '#fef2f2'; ctx.fillRect(x0 - 3, AXIS + 1, w + 8, 16);
    ctx.fillStyle = '#dc2626'; ctx.fillText(label, x0 + 1, AXIS + 13);
    ctx.font = '11px system-ui, sans-serif';
  }

  // ----- Details -----
  function row(k, v) { return '<tr><td>' + esc(k) + '</td><td>' + esc(String(v)) + '</td></tr>'; }
  function esc(s) { return s.replace(/[&<>"]/g, function (c) { return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]; }); }
  function showHtml(h) { $('details').className = ''; $('details').innerHTML = h; }
  function showCall(id) {
    var c = calls[id], h = '<table>';
    if (!c || c.s < 0) return;
    h += row('RPC', S[es[c.s]]) + row('call id', id);
    h += row('from', D.lanes[el[c.s]]) + row('to', ep[c.s] >= 0 ? D.lanes[ep[c.s]] : '(no server)');
    h += row('sent', fmt(et[c.s])) + row('request bytes', en[c.s]);
    if (c.d >= 0) h += row('delivered', fmt(et[c.d]) + ' (+' + ((et[c.d] - et[c.s]) / 1000).toFixed(3) + ' ms)');
    if (c.h >= 0) h += row('handler done', fmt(et[c.h]));
    if (c.o >= 0) {
      var what = { DropRequest: 'request LOST by the network', DropReply: 'reply LOST by the network', Reply: 'reply received', Fail: 'FAILED: server unreachable (link cut, server crashed or deleted)' }[D.kinds[ek[c.o]]];
      h += row('outcome', what) + row('at', fmt(et[c.o]) + ' (round trip ' + ((et[c.o] - et[c.s]) / 1000).toFixed(3) + ' ms)');
      if (ek[c.o] === K.Reply) h += row('reply bytes', en[c.o]);
    } else h += row('outcome', 'none yet (the run ended, or the caller gave up)');
    if (c.d >= 0) h += linesOf(el[c.d], et[c.d], c.h >= 0 ? et[c.h] : et[c.d], 'The handler\u2019s log lines on ' + D.lanes[el[c.d]]);
    showHtml(h + '</table>');
  }
  // Log lines of `lane` from t0 to t1 (at most 12), as a titled block.
  function linesOf(lane, t0, t1, title) {
    var out = '', n = 0;
    for (var j = firstAt(lt, NL, t0); j < NL && lt[j] <= t1 && n < 12; j++) {
      if (ll[j] !== lane) continue;
      out += esc(fmt(lt[j]) + ' ' + lx[j]) + '\n';
      n++;
    }
    return out ? '</table><h2>' + esc(title) + '</h2><pre>' + out + '</pre><table>' : '';
  }
  function showEvent(j) {
    var k = D.kinds[ek[j]];
    if (ei[j] && ek[j] <= K.Fail) return showCall(ei[j]);
    var h = '<table>' + row('event', k) + row('lane', D.lanes[el[j]]) + row('time', fmt(et[j]));
    if (k === 'Label') h += row('label', S[es[j]]);
    else if (k === 'Link') h += row('end', S[es[j]]) + row('to', ep[j] >= 0 ? D.lanes[ep[j]] : '?') + row('now', en[j] ? 'enabled (calls go through)' : 'disabled (calls fail)');
    else if (k === 'Start') h += row('what', en[j] ? 'restart (a new incarnation, with its persisted state)' : 'start');
    else if (k === 'Crash') h += row('what', 'the server was killed: its tasks stopped, its ends cut');
    else if (k === 'Applied') h += row('index', en[j]) + row('command', S[es[j]]);
    else if (k === 'ObserveState') h += row('term', en[j]) + row('leader', ep[j] === 1 ? 'yes' : 'no');
    else if (k === 'Server') h += row('server', en[j] ? 'joined the network' : 'left the network');
    else h += row('text', S[es[j]]);
    showHtml(h + '</table>');
  }
  function showSpan(b, e, what) {
    var h = '<table>' + row(what, S[es[b]]) + row('lane', D.lanes[el[b]]) + row('began', fmt(et[b]));
    if (e >= 0) h += row('ended', fmt(et[e]) + ' (' + ((et[e] - et[b]) / 1000).toFixed(3) + ' ms)') + row('result', S[es[e]] || '-') + (ek[e] === K.CheckEnd ? row('verdict', en[e] ? 'passed' : 'FAILED') : '');
    else h += row('ended', 'not before the end of the run' + (D.failure ? ' (the failure)' : ''));
    showHtml(h + '</table>');
  }
  function showLog(j) {
    var lvl = ['', 'ERROR', 'WARN', 'INFO', 'DEBUG', 'TRACE'][lv[j]];
    showHtml('<table>' + row('log line', lvl + ' ' + S[lg[j]]) + row('lane', D.lanes[ll[j]]) + row('time', fmt(lt[j])) + '</table><pre>' + esc(lx[j]) + '</pre>' + nearbyLogs(j));
  }
  function nearbyLogs(j) {
    var out = '<h2>Around it on ' + esc(D.lanes[ll[j]]) + '</h2><pre>', n = 0;
    for (var a = j - 1; a >= 0 && n < 6; a--) if (ll[a] === ll[j]) n++;
    for (var b = Math.max(0, a); b < NL && n > -7; b++) {
      if (ll[b] !== ll[j]) continue;
      var line = fmt(lt[b]) + ' ' + lx[b];
      out += b === j ? '<mark>' + esc(line) + '</mark>\n' : esc(line) + '\n';
      n--;
    }
    return out + '</pre>';
  }

  function laneAt(y) {
    for (var n = 0; n < order.length; n++) {
      var l = order[n];
      if (shown(l) && y >= laneY[l] && y < laneY[l] + laneH[l]) return l;
    }
    return -1;
  }
  function segDist(px, py, x0, y0, x1, y1) {
    var dx = x1 - x0, dy = y1 - y0, len = dx * dx + dy * dy;
    var u = len ? Math.max(0, Math.min(1, ((px - x0) * dx + (py - y0) * dy) / len)) : 0;
    return Math.hypot(px - x0 - u * dx, py - y0 - u * dy);
  }
  function pick(px, py) {
    var best = null, bd = 8;
    var l = laneAt(py);
    var t0 = T(px - 8), t1 = T(px + 8);
    if (l >= 0) {
      var j0 = firstAt(et, NE, t0), j1 = firstAt(et, NE, t1);
      for (var j = j0; j < j1; j++) {
        if (el[j] !== l || ek[j] === K.Deliver || ek[j] === K.Handled || ek[j] === K.Send || ek[j] === K.Reply) continue;
        var d = Math.abs(X(et[j]) - px) + 2;
        if (d < bd) { bd = d; best = function (j) { return function () { showEvent(j); }; }(j); }
      }
      if ($('showLogs').checked && py > laneY[l] + laneH[l] - 14) {
        var a = firstAt(lt, NL, t0), b = firstAt(lt, NL, t1);
        for (j = a; j < b; j++) {
          if (ll[j] !== l || (matches && !matches[j])) continue;
          d = Math.abs(X(lt[j]) - px);
          if (d < bd) { bd = d; best = function (j) { return function () { showLog(j); }; }(j); }
        }
      }
      var spans = laneKind(D.lanes[l]) === 0 ? checks : laneKind(D.lanes[l]) === 2 ? ops : [];
      var tt = T(px);
      spans.forEach(function (s) {
        if (el[s.b] !== l) return;
        var e1 = s.e >= 0 ? et[s.e] : END;
        if (et[s.b] <= tt && tt <= e1 && bd > 4) { bd = 4; best = function () { showSpan(s.b, s.e, spans === checks ? 'check' : 'operation'); }; }
      });
    }
    visibleArrows.forEach(function (a) {
      var p = ends(a);
      var d = segDist(px, py, p[0], p[1], p[2], p[3]);
      if (d < bd) { bd = d; best = function () { showCall(a.id); }; }
    });
    if (best) best();
  }

  // ----- Interaction -----
  function zoom(f, atX) {
    var t = T(atX === undefined ? (GUTTER + W) / 2 : atX);
    var a = t - (t - view.t0) * f, b = t + (view.t1 - t) * f;
    if (b - a < 20) return;
    setView(a, b);
  }
  function setView(a, b) {
    var span = Math.min(b - a, (END - START) * 1.05 + 10);
    if (a < START - span * 0.05) { a = START - span * 0.05; }
    b = a + span;
    if (b > END + span * 0.05) { b = END + span * 0.05; a = b - span; }
    view.t0 = a; view.t1 = b;
    draw();
  }
  function centerOn(t) { var h = (view.t1 - view.t0) / 2; setView(t - h, t + h); }
  chart.addEventListener('wheel', function (e) {
    e.preventDefault();
    var r = canvas.getBoundingClientRect();
    if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) {
      var d = (e.deltaX || e.deltaY) * (view.t1 - view.t0) / (W - GUTTER);
      setView(view.t0 + d, view.t1 + d);
    } else zoom(Math.pow(1.0015, e.deltaY), e.clientX - r.left);
  }, { passive: false });
  var drag = null;
  canvas.addEventListener('mousedown', function (e) { drag = { x: e.clientX, t0: view.t0, t1: view.t1, moved: false }; });
  window.addEventListener('mousemove', function (e) {
    if (!drag) return;
    var dx = e.clientX - drag.x;
    if (Math.abs(dx) > 3) { drag.moved = true; chart.classList.add('dragging'); }
    if (!drag.moved) return;
    var dt = dx * (drag.t1 - drag.t0) / (W - GUTTER);
    setView(drag.t0 - dt, drag.t1 - dt);
  });
  window.addEventListener('mouseup', function (e) {
    if (drag && !drag.moved) {
      var r = canvas.getBoundingClientRect();
      pick(e.clientX - r.left, e.clientY - r.top);
    }
    drag = null; chart.classList.remove('dragging');
  });
  $('zoomIn').onclick = function () { zoom(0.5); };
  $('zoomOut').onclick = function () { zoom(2); };
  $('fit').onclick = function () { setView(START, END); };
  $('toEnd').onclick = function () { setView(Math.max(START, END - 1e6), END); };
  $('showReplies').onchange = draw;
  $('showLogs').onchange = draw;
  var timer = null;
  $('search').addEventListener('input', function () { clearTimeout(timer); timer = setTimeout(runSearch, 150); });
  window.addEventListener('keydown', function (e) {
    if (e.target.tagName === 'INPUT') return;
    if (e.key === '+' || e.key === '=') zoom(0.5);
    else if (e.key === '-') zoom(2);
    else if (e.key === '0') setView(START, END);
    else if (e.key === 'f') $('toEnd').onclick();
    else if (e.key === 'ArrowLeft') { var d = (view.t1 - view.t0) / 5; setView(view.t0 - d, view.t1 - d); }
    else if (e.key === 'ArrowRight') { d = (view.t1 - view.t0) / 5; setView(view.t0 + d, view.t1 + d); }
  });
  window.addEventListener('resize', draw);

  // ----- Header, filters, legend -----
  $('test').textContent = D.test || '(test)';
  $('seed').textContent = 'seed ' + D.seed + ' · ' + fmt(END) + ' of virtual time · ' + NE + ' events · ' + NL + ' log lines';
  $('verdict').textContent = D.failure ? 'FAILED' : 'passed';
  if (D.failure) { $('verdict').classList.add('bad'); $('failure').hidden = false; $('failure').textContent = D.failure; }
  $('replay').textContent = D.replay || '';
  var notes = [];
  if (D.window.cutEvents || D.window.cutLogs)
    notes.push('This page shows the run from ' + fmt(START) + ' to its end: ' + D.window.cutEvents + ' earlier network events and ' + D.window.cutLogs +
      ' earlier log lines were left out to keep the file small (crashes, restarts, links and tester actions are all kept, and the label each server had at the cut). LAB_TIMELINE=full embeds the whole run.');
  if (D.window.eventsDropped)
    notes.push('The run was long: its first ' + D.window.eventsDropped + ' network events were not recorded (a timeline keeps the latest million).');
  if (D.window.logsDropped)
    notes.push(D.window.logsDropped + ' log lines before the latest ones were not recorded (the timeline keeps at most the latest ' + (NL + D.window.cutLogs) + ').');
  if (notes.length) { $('note').hidden = false; $('note').textContent = notes.join(' '); }
  methods.forEach(function (m) {
    var c = document.createElement('span');
    c.className = 'chip';
    c.innerHTML = '<i style="background:' + methodColor[m] + '"></i>';
    c.appendChild(document.createTextNode(m));
    c.onclick = function () { methodOn[m] = !methodOn[m]; c.classList.toggle('off', !methodOn[m]); draw(); };
    $('methods').appendChild(c);
  });
  function laneChip(text, lanes) {
    var c = document.createElement('span');
    c.className = 'chip';
    c.textContent = text;
    c.onclick = function () {
      var on = !laneOn[lanes[0]];
      lanes.forEach(function (l) { laneOn[l] = on; });
      c.classList.toggle('off', !on);
      draw();
    };
    $('lanesFilter').appendChild(c);
  }
  order.forEach(function (l) {
    if (laneKind(D.lanes[l]) !== 2 || clerkCount <= MANY_CLERKS) laneChip(D.lanes[l], [l]);
  });
  if (clerkCount > MANY_CLERKS)
    laneChip('all ' + clerkCount + ' clerks', order.filter(function (l) { return laneKind(D.lanes[l]) === 2; }));
  function sw(svg, text) { return '<span><svg width="22" height="14">' + svg + '</svg>' + text + '</span>'; }
  $('legend').innerHTML =
    sw('<rect x="1" y="3" width="20" height="8" fill="#f59e0b"/>', 'leader') +
    sw('<rect x="1" y="3" width="20" height="8" fill="#a855f7"/>', 'candidate') +
    sw('<rect x="1" y="3" width="20" height="8" fill="#94a3b8" opacity=".5"/>', 'follower (from set_label, else get_state)') +
    sw('<line x1="1" y1="12" x2="19" y2="2" stroke="#2563eb" stroke-width="1.4"/>', 'request') +
    sw('<line x1="1" y1="2" x2="19" y2="12" stroke="#2563eb" stroke-dasharray="3 3"/>', 'reply') +
    sw('<path d="M7 3l8 8M15 3l-8 8" stroke="#dc2626" stroke-width="2"/>', 'lost message / crash') +
    sw('<rect x="9" y="5" width="3" height="3" fill="#9ca3af"/>', 'unreachable') +
    sw('<rect x="10" y="2" width="2" height="9" fill="#15803d"/>', 'entry applied') +
    sw('<path d="M6 2l9 5-9 5z" fill="#16a34a"/>', '(re)start') +
    sw('<rect x="1" y="1" width="20" height="12" fill="rgba(220,38,38,.15)"/>', 'cut off') +
    sw('<rect x="1" y="1" width="20" height="12" fill="rgba(59,130,246,.15)"/>', 'partition') +
    sw('<rect x="10" y="3" width="1" height="8" fill="#64748b"/>', 'log line');

  // `#selftest` (the test suite's): show the details of one event of each kind, a call, a log
  // line and a check, search, zoom and pick, then say so in the DOM.
  function selfTest() {
    var seen = {};
    for (var j = 0; j < NE; j++) if (!seen[ek[j]]) { seen[ek[j]] = true; showEvent(j); }
    if (arrows.length) showCall(arrows[0].id);
    if (NL) showLog(NL - 1);
    if (checks.length) showSpan(checks[0].b, checks[0].e, 'check');
    if (ops.length) showSpan(ops[0].b, ops[0].e, 'operation');
    $('search').value = NL ? lx[0].split(' ')[0] : 'x';
    runSearch();
    zoom(0.5); zoom(2);
    paint();
    for (var y = AXIS; y < H; y += 11) for (var x = GUTTER; x < W; x += W / 7) pick(x, y);
    document.body.dataset.selftest = Object.keys(seen).length + ' kinds';
  }
  if (location.hash === '#selftest') selfTest();

  // `#12.5-14` shows that range of virtual seconds (the address keeps the view when shared).
  var range = location.hash.match(/^#([\d.]+)-([\d.]+)$/);
  if (range) setView(+range[1] * 1e6, +range[2] * 1e6);
  else if (D.failure && END - START > 3e6) setView(Math.max(START, END - 3e6), END);
  else setView(START, END);
})();
