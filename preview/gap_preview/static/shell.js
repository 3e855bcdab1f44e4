// gap-preview shell: owns the connection (GAP-SSE or WebSocket), keeps the current view,
// and hands it to the sandboxed iframe at most once per animation frame.
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("gap-config").textContent);
  var token = cfg.token;
  // keep the token for a reload of this tab only, then drop it from the address bar
  try { sessionStorage.setItem("gap-token:" + location.port, token); } catch (e) { /* ignore */ }
  var docKey = cfg.doc;
  function addressBar() {
    var q = new URLSearchParams();
    if (docKey) q.set("doc", docKey);
    if (cfg.transport && cfg.transport !== "sse") q.set("transport", cfg.transport);
    var s = q.toString();
    history.replaceState(null, "", location.pathname + (s ? "?" + s : ""));
  }
  addressBar();

  var frame = document.getElementById("gap-frame");
  var statusEl = document.getElementById("gap-status");
  var titleEl = document.getElementById("gap-title");
  var versionEl = document.getElementById("gap-version");
  var picker = document.getElementById("gap-picker");
  var revealBox = document.getElementById("gap-reveal");
  var followBox = document.getElementById("gap-follow");
  var emptyEl = document.getElementById("gap-empty");

  var state = {
    html: null,          // the current view body (GAP artifact, canonical markers)
    base: null,          // the view the frame has (as of the last hand-over); null: unknown
    version: 0,          // meta.source_version of the latest envelope applied
    changed: null,       // Map id → content changed since the last hand-over; null = whole view
    dirty: false,
    inflight: false,     // a render handed to the frame and not yet acknowledged
    frameReady: false,
    cursor: null,
    lastId: null,
    closed: false,
  };
  // measurements for tests and the benchmark: {version, t (epoch ms, DOM updated), ms}
  window.__gap = { rendered: [], events: 0, errors: [], lastEventId: null, transport: cfg.transport || "sse", state: state };

  function setStatus(s) { statusEl.textContent = s; statusEl.dataset.state = s; }
  // a one-line note from the editor side (e.g. what the last model edit cost); text only
  function showNote(t) {
    var el = document.getElementById("gap-note");
    if (!el) return;
    el.textContent = t || "";
    el.hidden = !t;
    el.title = t || "";
  }

  // -- GAP: splice a target's content in the view by its canonical markers ------------------
  var MARK = /<(\/?)gap:target(?=[\s\/>])[^>]*>/g;
  // the opening marker of target `id`, with its attributes in any order and either quote
  function openRe(id) {
    var e = id.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    return new RegExp("<gap:target\\s(?:[^>]*?\\s)?id\\s*=\\s*(?:\"" + e + "\"|'" + e + "')[^>]*>");
  }
  function spliceTarget(html, id, content) {
    var o = openRe(id).exec(html);
    if (!o) return null;
    // (markers end with ">": none starts after the last one, and looking there would search
    // to the end of the text again for every unterminated "<gap:target", as in the engine)
    var j = o.index + o[0].length, depth = 1, m, t = html.slice(0, html.lastIndexOf(">") + 1);
    MARK.lastIndex = j;
    while ((m = MARK.exec(t))) {
      if (m[1]) { if (--depth === 0) return html.slice(0, j) + content + html.slice(m.index); }
      else depth++;
    }
    return null;
  }

  function onEnvelope(env) {
    window.__gap.events++;
    state.recvAt = performance.timeOrigin + performance.now();
    var meta = env.meta || {};
    if (env.name === "synthesize") {
      state.html = env.content[0].body;
      state.changed = null;
    } else if (env.name === "edit") {
      if (state.html === null) return resync("edit before synthesize");
      for (var k = 0; k < env.content.length; k++) {
        var op = env.content[k];
        var next = op.op === "replace" && op.target && op.target.type === "id"
          ? spliceTarget(state.html, op.target.value, op.content) : null;
        if (next === null) return resync("cannot apply " + op.op);
        state.html = next;
        if (state.changed !== null) {  // latest content per target, in order of arrival
          state.changed.delete(op.target.value);
          state.changed.set(op.target.value, op.content);
        }
      }
    } else {
      return;
    }
    applied(meta);
  }

  // preview:splice (our stream only, ?splice=1): a synthesize of a change outside every target,
  // sent as the changed range of the view we have; checked against our copy's length and the
  // event id before it, else we start over with a fresh synthesize
  function onSplice(d, id, prevId) {
    window.__gap.events++;
    window.__gap.splices = (window.__gap.splices || 0) + 1;
    state.recvAt = performance.timeOrigin + performance.now();
    if (state.html === null || state.html.length !== d.base_length || prevId === null ||
        Number(prevId) + 1 !== Number(id) || !(d.start <= d.end && d.end <= state.html.length)) {
      return resync("splice out of order");
    }
    state.html = state.html.slice(0, d.start) + d.text + state.html.slice(d.end);
    state.changed = null;
    applied(d.meta || {});
  }

  function applied(meta) {
    state.version = meta.source_version;
    titleEl.textContent = meta.uri || docKey;
    titleEl.title = meta.uri || docKey;
    versionEl.textContent = "v" + meta.source_version;
    emptyEl.hidden = true;
    state.dirty = true;
    schedule();
  }

  // -- hand-over to the frame: at most one per animation frame, never while one is in flight.
  // The first change in a frame goes at once (no added latency for a lone keystroke); later
  // ones in the same frame coalesce and go on the next frame.
  // One animation-frame callback at most is ever pending, and only it clears handedThisFrame,
  // so two hand-overs can never fall in the same frame. While a render is in flight nothing
  // is scheduled: its "rendered" (or "ready", "need-full") message schedules again.
  var rafPending = false, handedThisFrame = false;
  var enc = new TextEncoder();
  function nextFrame() {
    if (rafPending) return;
    rafPending = true;
    requestAnimationFrame(function () { rafPending = false; handedThisFrame = false; if (state.dirty) schedule(); });
  }
  function schedule() {
    if (state.inflight || !state.frameReady) return;
    if (handedThisFrame) nextFrame(); else flush();
  }
  function flush() {
    if (!state.dirty || state.inflight || !state.frameReady) return;
    handedThisFrame = true;
    nextFrame();
    state.inflight = true;
    state.dirty = false;
    armWatchdog();
    // a whole view (as UTF-8 bytes in a transferred buffer: much cheaper than cloning a big
    // string into the frame's process), or only the changed targets' contents
    // A whole view the frame already has the previous version of (a synthesize: a change
    // outside every target) goes as the one changed range instead; the frame re-parses only
    // the segment around it when it can, else the whole view it rebuilds from the range.
    var splice = state.changed === null && state.base !== null ? changedRange(state.base, state.html) : null;
    var buf = state.changed === null && splice === null ? enc.encode(state.html).buffer : null;
    var scroll = buf ? state.restoreScroll : null;
    if (buf) state.restoreScroll = null;
    frame.contentWindow.postMessage({
      type: "render", version: state.version,
      html: buf, splice: splice, scroll: scroll,
      patches: state.changed === null ? [] : Array.from(state.changed),
      recv: state.recvAt, sent: performance.timeOrigin + performance.now(),
    }, "*", buf ? [buf] : []);
    state.changed = new Map();
    state.base = state.html;
  }

  // Watchdog: a frame that stops answering (an artifact script called document.open/write and
  // wiped our listener, or hangs) is replaced by a fresh one, which gets the whole view. A frame
  // that is only busy (a long render of a huge document, a slow artifact script) is not: after
  // 5 s without "rendered" it is pinged, and a busy frame answers the ping once it is done —
  // replacing it would only start the slow work again, forever. A frame that answers neither
  // within `patience` is replaced, and the patience doubles for the next one.
  var WATCHDOG_MS = 5000, patience = WATCHDOG_MS;
  function armWatchdog() {
    clearTimeout(state.watchdog);
    state.watchdog = setTimeout(function () {
      if (!state.inflight) return;
      try { frame.contentWindow.postMessage({ type: "ping" }, "*"); } catch (e) { /* gone */ }
      state.watchdog = setTimeout(function () {
        if (!state.inflight) return;
        patience = Math.min(patience * 2, 120000);
        window.__gap.replaced = (window.__gap.replaced || 0) + 1;
        loadFrame();
      }, patience);
    }, WATCHDOG_MS);
  }

  // [p, e, text]: a.slice(0, p) + text + a.slice(e) === b, with the longest common prefix and
  // then the longest common suffix (UTF-16 offsets); compared in slices, so at memcmp speed
  var CHUNK = 4096;
  function changedRange(a, b) {
    var la = a.length, lb = b.length, n = Math.min(la, lb), p = 0, s = 0, k;
    while (p < n) {
      k = Math.min(CHUNK, n - p);
      if (a.substr(p, k) === b.substr(p, k)) { p += k; continue; }
      while (a.charCodeAt(p) === b.charCodeAt(p)) p++;
      break;
    }
    var m = n - p;
    while (s < m) {
      k = Math.min(CHUNK, m - s);
      if (a.substr(la - s - k, k) === b.substr(lb - s - k, k)) { s += k; continue; }
      while (a.charCodeAt(la - 1 - s) === b.charCodeAt(lb - 1 - s)) s++;
      break;
    }
    return [p, la - s, b.slice(p, lb - s)];
  }

  function frameUrl() { return cfg.frames[docKey] || "/frame"; }
  var frameSrc = null;  // the bootstrap URL the current frame was loaded from
  // A new sandboxed frame per document. "allow-scripts" only: never the same-origin flag (the
  // artifact would share our origin and could read the token), never popups, forms or
  // top navigation.
  function loadFrame() {
    window.__gap.frames = (window.__gap.frames || 0) + 1;
    state.restoreScroll = state.scroll || null;  // the fresh frame scrolls where the reader was
    clearTimeout(state.watchdog);
    state.frameReady = false;
    state.inflight = false;
    state.base = null;
    var old = frame;
    var f = document.createElement("iframe");
    f.id = "gap-frame";
    f.setAttribute("sandbox", "allow-scripts");
    f.setAttribute("referrerpolicy", "no-referrer");
    f.setAttribute("title", "artifact preview");
    var loads = 0;
    f.addEventListener("load", function () {
      loads++;
      if (loads > 1 && frame === f) {
        // the artifact navigated its frame away: bring the preview back
        loads = 0;
        state.frameReady = false;
        state.restoreScroll = state.scroll || null;
        f.src = frameSrc = frameUrl();
      }
    });
    f.src = frameSrc = frameUrl();
    old.parentNode.replaceChild(f, old);
    frame = f;
  }

  // the frame's scroll position ([x, y]) from a message that carries one
  function noteScroll(m) {
    if (Array.isArray(m.scroll)) state.scroll = [Number(m.scroll[0]) || 0, Number(m.scroll[1]) || 0];
  }
  // the frame lacks the view it was last sent: send it the whole view again
  function resendWhole() {
    state.changed = null; state.base = null; state.dirty = true; state.inflight = false; schedule();
  }
  window.addEventListener("message", function (e) {
    if (e.source !== frame.contentWindow) return;  // only our frame
    var m = e.data;
    if (!m || typeof m !== "object") return;
    if (m.type === "ready") {
      state.frameReady = true;
      state.inflight = false;
      state.changed = null;
      state.base = null;
      if (state.html !== null) { state.dirty = true; schedule(); }
      sendCursor();
    } else if (m.type === "need-full") {
      resendWhole();
    } else if (m.type === "pong") {
      // the frame read our ping but never answered the render before it: that render was lost
      // (the frame was navigating); send the whole view again
      if (state.inflight) resendWhole();
    } else if (m.type === "scroll") {
      noteScroll(m);
    } else if (m.type === "reload") {
      window.__gap.reloadAsks = (window.__gap.reloadAsks || 0) + 1;
      // a script of the artifact changed: a fresh frame runs the new code (debounced while the
      // user is still typing in the script), scrolled where this one was
      noteScroll(m);
      clearTimeout(state.reloadTimer);
      state.reloadTimer = setTimeout(function () {
        window.__gap.reloads = (window.__gap.reloads || 0) + 1;
        loadFrame();
      }, 250);
    } else if (m.type === "rendered") {
      noteScroll(m);
      state.inflight = false;
      clearTimeout(state.watchdog);
      patience = WATCHDOG_MS;
      if (typeof m.version === "number" || typeof m.version === "string") {
        window.__gap.rendered.push({ version: m.version, t: Number(m.t), ms: Number(m.ms), mode: String(m.mode), why: String(m.why || ""),
          recv: Number(m.recv), sent: Number(m.sent), got: Number(m.got) });
        if (window.__gap.rendered.length > 5000) window.__gap.rendered.splice(0, 1000);
      }
      if (state.dirty) schedule();
    } else if (m.type === "open") {
      // a link clicked in the artifact: a new tab, without opener or referrer, and only right
      // after a real click (an artifact script cannot open tabs on its own)
      if (typeof m.url !== "string" || m.url.length > 8192 || !/^(https?|mailto):/i.test(m.url)) return;
      if (navigator.userActivation && !navigator.userActivation.isActive) return;
      window.__gap.opened = (window.__gap.opened || []).concat([m.url]);
      window.open(m.url, "_blank", "noopener,noreferrer");
    } else if (m.type === "reveal") {
      if (!revealBox.checked || typeof m.target !== "string" || m.target.length > 512) return;
      // only right after a real user gesture (a click in the frame activates this page too):
      // an artifact script cannot move the editor on its own
      if (navigator.userActivation && !navigator.userActivation.isActive) return;
      fetch("/reveal", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Gap-Token": token },
        body: JSON.stringify({ doc: docKey, target: m.target }),
        credentials: "omit", cache: "no-store",
      }).catch(function () {});
    }
  });

  function sendCursor() {
    if (!state.frameReady) return;
    frame.contentWindow.postMessage({ type: "cursor", target: state.cursor, follow: followBox.checked }, "*");
  }

  function resync(why) {
    window.__gap.errors.push(why);
    state.lastId = null;
    reconnect(true);
  }

  // -- transports ---------------------------------------------------------------------------
  var es = null, ws = null, retryMs = cfg.retry || 3000, timer = null, fails = 0;
  // a stream refused for good (EventSource gives up on an HTTP error: 404 while the document
  // does not exist yet — the page was opened before the first publish, or before the watched
  // file was created — or a server restarted on the same port): try again later, backing off;
  // poll() connects at once when the document shows up in /documents
  function retryLater() {
    if (timer || state.closed) return;
    var d = Math.min(retryMs * Math.pow(2, Math.min(fails, 5)), 30000);
    fails++;
    timer = setTimeout(function () { timer = null; connect(); }, d);
  }
  function q(extra) {
    var p = new URLSearchParams({ doc: docKey, token: token });
    if (extra) for (var k in extra) if (extra[k] !== null && extra[k] !== undefined) p.set(k, extra[k]);
    return p.toString();
  }
  function handle(name, data, id) {
    var prevId = state.lastId;
    if (id !== undefined && id !== null && id !== "") { state.lastId = id; window.__gap.lastEventId = id; }
    if (name === "gap:envelope") onEnvelope(JSON.parse(data));
    else if (name === "preview:splice") onSplice(JSON.parse(data), id, prevId);
    else if (name === "preview:cursor") { state.cursor = JSON.parse(data).target; sendCursor(); }
    else if (name === "preview:status") { showNote(JSON.parse(data).text); }
    else if (name === "gap:error") {
      var err = JSON.parse(data); window.__gap.errors.push(err.code);
      if (err.fatal) { setStatus("error"); disconnect(); }
    } else if (name === "gap:heartbeat") { /* alive */ }
    else if (name === "gap:complete") {
      var c = JSON.parse(data);
      state.closed = true;
      disconnect();
      setStatus(c.reason === "done" ? "done" : "closed");
      if (c.reason === "done") { try { window.close(); } catch (e) { /* not script-opened */ } }
    }
  }
  function disconnect() {
    if (es) { es.close(); es = null; }
    if (ws) { ws.onclose = null; ws.close(); ws = null; }
    if (timer) { clearTimeout(timer); timer = null; }
  }
  function opened() {
    fails = 0;
    setStatus("live");
    if (!(docKey in cfg.frames)) poll();  // a document that did not exist at load: learn its frame
  }
  function connect() {
    if (!docKey) return;
    state.closed = false;
    setStatus("connecting");
    if (cfg.transport === "ws") return connectWs();
    // EventSource resends Last-Event-ID itself when it reconnects; a fresh one starts from
    // our own last id (query parameter, same meaning).
    es = new EventSource("/events?" + q({ last_event_id: state.lastId, splice: 1 }));
    es.onopen = opened;
    es.onerror = function () {
      if (state.closed) return;
      setStatus("reconnecting");
      if (es && es.readyState === 2) { es.close(); es = null; retryLater(); }  // CLOSED: it will not retry
    };
    ["gap:envelope", "preview:splice", "gap:error", "gap:heartbeat", "gap:complete", "preview:cursor", "preview:status"].forEach(function (n) {
      es.addEventListener(n, function (e) { handle(n, e.data, n === "gap:envelope" || n === "preview:splice" ? e.lastEventId : null); });
    });
  }
  function connectWs() {
    var scheme = location.protocol === "https:" ? "wss:" : "ws:";
    ws = new WebSocket(scheme + "//" + location.host + "/ws?" + q({ last_event_id: state.lastId, splice: 1 }));
    ws.onopen = opened;
    ws.onmessage = function (e) {
      var m = JSON.parse(e.data);
      if (m.retry) { retryMs = m.retry; return; }
      handle(m.event, JSON.stringify(m.data), m.id);
    };
    ws.onclose = function () {
      ws = null;
      if (state.closed) return;
      setStatus("reconnecting");
      retryLater();
    };
  }
  function reconnect(fresh) {
    disconnect();
    if (fresh) state.lastId = null;
    connect();
  }
  // tests: drop the connection as a network failure would; the stream resumes by Last-Event-ID
  window.__gap.dropConnection = function () {
    if (es) { es.close(); es = null; setStatus("reconnecting"); setTimeout(connect, 50); }
    if (ws) { ws.close(); }
  };

  // -- documents ----------------------------------------------------------------------------
  function fillPicker(docs) {
    var keys = docs.map(function (d) { return d.key; }).join("\n");
    if (picker.dataset.keys === keys) return;
    picker.dataset.keys = keys;
    picker.textContent = "";
    docs.forEach(function (d) {
      cfg.frames[d.key] = d.frame;
      var o = document.createElement("option");
      o.value = d.key;
      o.textContent = d.title;
      if (d.key === docKey) o.selected = true;
      picker.appendChild(o);
    });
    picker.hidden = docs.length < 2 && !!docKey;
    // the document appeared after the page was loaded (its frame was not known then): load the
    // frame under its directory, so the artifact's relative URLs resolve
    if (docKey && frameSrc !== null && frameSrc !== frameUrl()) loadFrame();
  }
  function choose(key) {
    if (key === docKey) return;
    docKey = key;
    addressBar();
    clearTimeout(state.reloadTimer); state.restoreScroll = null; state.scroll = null;
    state.html = null; state.base = null; state.lastId = null; state.cursor = null;
    disconnect();
    loadFrame();
    connect();
  }
  picker.addEventListener("change", function () { choose(picker.value); });
  function poll() {
    fetch("/documents", { headers: { "X-Gap-Token": token }, credentials: "omit", cache: "no-store" })
      .then(function (r) {
        // our token is refused: the server was restarted (a new session, a new token) — say so
        // instead of reconnecting forever
        if (r.status === 401) { sessionEnded(); return null; }
        return r.ok ? r.json() : null;
      })
      .then(function (docs) {
        if (!docs) return;
        fillPicker(docs);
        var listed = !!docKey && docs.some(function (d) { return d.key === docKey; });
        // the document was closed and is open again (the editor reopened it): follow it
        if (listed && state.closed && statusEl.dataset.state === "closed") { state.lastId = null; connect(); }
        // waiting to retry a refused stream, and the document is there now: go at once
        else if (listed && timer && !es && !ws && !state.closed) { clearTimeout(timer); timer = null; connect(); }
        if (!docKey && docs.length === 1) choose(docs[0].key);
        else if (!docKey && docs.length > 1) { emptyEl.hidden = false; emptyEl.textContent = "Choose a document above."; picker.hidden = false; }
      })
      .catch(function () {});
  }
  var pollTimer = null;
  function sessionEnded() {
    state.closed = true;
    disconnect();
    clearInterval(pollTimer);
    setStatus("expired");
    showNote("This preview's session has ended (its server was restarted): open the new URL it printed.");
  }
  followBox.addEventListener("change", sendCursor);

  fillPicker(cfg.docs);
  if (!docKey && cfg.docs.length === 1) docKey = cfg.docs[0].key, addressBar();
  if (docKey) { loadFrame(); connect(); }
  else { emptyEl.hidden = false; emptyEl.textContent = cfg.docs.length ? "Choose a document above." : "Waiting for a document…"; picker.hidden = cfg.docs.length === 0; }
  poll();
  pollTimer = setInterval(poll, 2000);
})();
