// gap-preview frame: runs inside <iframe sandbox="allow-scripts"> (an opaque origin, no token,
// no access to the server or the parent). Receives the view from the parent page by
// postMessage and morphs the live DOM (morphdom), so scroll, focus, <details open> and form
// state survive. Target markers become comments <!--gap:t:ID--> … <!--/gap:t:ID-->.
(function () {
  "use strict";
  var morph = window.morphdom;
  var P = window.parent;
  var HTML_NS = "http://www.w3.org/1999/xhtml", SVG_NS = "http://www.w3.org/2000/svg";
  var MARK = /<(\/?)gap:target\b([^>]*)>/g;
  var ID = /(?:^|\s)id\s*=\s*(?:"([^"]*)"|'([^']*)')/;
  var html = null;          // the current view (with markers)
  var cursor = null, follow = true;
  var revealEnabled = true;
  var overlay = null;
  var renderedOpen = new WeakMap();  // <details> → "open" as the artifact last rendered it
  var scripts = [];

  function toComments(s) {
    var stack = [];
    return s.replace(MARK, function (m, slash, attrs) {
      if (slash) { var id = stack.pop(); return id === undefined ? "" : "<!--/gap:t:" + id + "-->"; }
      var mm = ID.exec(attrs); var v = mm ? (mm[1] !== undefined ? mm[1] : mm[2]) : "";
      stack.push(v);
      return "<!--gap:t:" + v + "-->";
    });
  }

  function openRe(id) {
    var e = id.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    return new RegExp("<gap:target\\s(?:[^>]*?\\s)?id\\s*=\\s*(?:\"" + e + "\"|'" + e + "')[^>]*>");
  }
  function splice(s, id, content) {
    var o = openRe(id).exec(s);
    if (!o) return null;
    var j = o.index + o[0].length, depth = 1, m;
    MARK.lastIndex = j;
    while ((m = MARK.exec(s))) {
      if (m[1]) { if (--depth === 0) return s.slice(0, j) + content + s.slice(m.index); }
      else depth++;
    }
    return null;
  }

  // -- morphing -------------------------------------------------------------------------------
  function noteAdded(node) {
    if (node.nodeType !== 1) return;
    if (node.nodeName === "SCRIPT") scripts.push(node);
    else if (node.nodeName === "DETAILS") renderedOpen.set(node, node.hasAttribute("open"));
  }
  function noteAddedDeep(node) {
    if (node.nodeType !== 1) return;
    noteAdded(node);
    var all = node.querySelectorAll("script,details");
    for (var i = 0; i < all.length; i++) noteAdded(all[i]);
  }
  var opts = {
    onBeforeElUpdated: function (from, to) {
      if (from === overlay) return false;
      if (from.isEqualNode(to)) return false;       // unchanged subtree: skip (the fast path)
      if (from.nodeName === "DETAILS") {
        var was = renderedOpen.has(from) ? renderedOpen.get(from) : from.hasAttribute("open");
        var want = to.hasAttribute("open");
        renderedOpen.set(from, want);
        if (was === want) {  // the artifact did not change it: keep what the user chose
          if (from.open) to.setAttribute("open", ""); else to.removeAttribute("open");
        }
      }
      return true;
    },
    onBeforeNodeDiscarded: function (node) { return node !== overlay; },
    onNodeAdded: function (node) { noteAdded(node); return node; },
  };
  // scripts parsed by DOMParser / <template> never run; re-create them so artifact scripts
  // run once when they first appear (in document order, external ones without async)
  function runScripts() {
    var list = scripts; scripts = [];
    for (var i = 0; i < list.length; i++) {
      var old = list[i];
      if (!old.isConnected) continue;
      var s = document.createElement("script");
      for (var k = 0; k < old.attributes.length; k++) s.setAttribute(old.attributes[k].name, old.attributes[k].value);
      if (!old.hasAttribute("async")) s.async = false;
      s.textContent = old.textContent;
      old.parentNode.replaceChild(s, old);
    }
  }

  function full(view) {
    var doc = new DOMParser().parseFromString(toComments(view), "text/html");
    morph(document.documentElement, doc.documentElement, opts);
    // comments before <html> / after </html> (a target around the whole document)
    syncDocumentComments(doc);
  }
  function syncDocumentComments(doc) {
    var want = [], have = [];
    doc.childNodes.forEach(function (n) { if (n.nodeType === 8) want.push(n.data); });
    document.childNodes.forEach(function (n) { if (n.nodeType === 8) have.push(n); });
    if (want.join("\n") === have.map(function (n) { return n.data; }).join("\n")) return;
    have.forEach(function (n) { n.remove(); });
    var before = true;
    doc.childNodes.forEach(function (n) {
      if (n.nodeType === 1) { before = false; return; }
      if (n.nodeType !== 8) return;
      var c = document.createComment(n.data);
      if (before) document.insertBefore(c, document.documentElement); else document.appendChild(c);
    });
  }

  function findPair(id) {
    var tw = document.createTreeWalker(document, NodeFilter.SHOW_COMMENT);
    var a = null, n, o = "gap:t:" + id, c = "/gap:t:" + id;
    while ((n = tw.nextNode())) {
      if (a === null) { if (n.data === o) a = n; }
      else if (n.data === c) return [a, n];
    }
    return null;
  }

  var tpl = document.createElement("template");
  var dec = new TextDecoder();
  // morph only the nodes between a target's two comments (an edit envelope's replace)
  function local(id, content) {
    var pair = findPair(id);
    if (!pair) return false;
    var a = pair[0], b = pair[1], p = a.parentNode;
    if (p !== b.parentNode || !p || p.nodeType !== 1 || p === document.documentElement) return false;
    if (/<(html|head|body)[\s>]|<!doctype/i.test(content)) return false;
    var fresh;
    if (p.namespaceURI === SVG_NS) {
      tpl.innerHTML = "<svg>" + toComments(content) + "</svg>";
      fresh = tpl.content.firstChild ? Array.prototype.slice.call(tpl.content.firstChild.childNodes) : [];
    } else if (p.namespaceURI === HTML_NS) {
      tpl.innerHTML = toComments(content);
      fresh = Array.prototype.slice.call(tpl.content.childNodes);
    } else return false;
    var old = [];
    for (var n = a.nextSibling; n && n !== b; n = n.nextSibling) old.push(n);
    var i = 0, j = 0, ol = old.length, nl = fresh.length;
    while (i < ol && i < nl && old[i].isEqualNode(fresh[i])) i++;
    while (j < ol - i && j < nl - i && old[ol - 1 - j].isEqualNode(fresh[nl - 1 - j])) j++;
    var ref = j > 0 ? old[ol - j] : b;
    for (var k = i; k < Math.max(ol - j, nl - j); k++) {
      var o = k < ol - j ? old[k] : null, f = k < nl - j ? fresh[k] : null;
      if (o && f) {
        if (o.nodeType === f.nodeType && (o.nodeType !== 1 || o.nodeName === f.nodeName)) {
          if (o.nodeType === 1) { if (o !== overlay) morph(o, f, opts); }
          else if (o.nodeValue !== f.nodeValue) o.nodeValue = f.nodeValue;
        } else { p.replaceChild(f, o); noteAddedDeep(f); }
      } else if (f) { p.insertBefore(f, ref); noteAddedDeep(f); }
      else if (o) { p.removeChild(o); }
    }
    tpl.innerHTML = "";
    return true;
  }

  function render(m) {
    var t0 = performance.now(), mode = "full";
    var got = performance.timeOrigin + t0;
    if (m.html instanceof ArrayBuffer) { html = dec.decode(m.html); full(html); }
    else if (typeof m.html === "string") { html = m.html; full(html); }
    else if (html === null) { P.postMessage({ type: "need-full" }, "*"); return; }
    var patches = Array.isArray(m.patches) ? m.patches : [];
    var needFull = false;
    for (var k = 0; k < patches.length; k++) {
      var id = String(patches[k][0]), content = String(patches[k][1]);
      var next = splice(html, id, content);
      if (next === null) { P.postMessage({ type: "need-full" }, "*"); return; }
      html = next;
      if (!needFull) {
        mode = "local";
        if (!local(id, content)) needFull = true;
      }
    }
    if (needFull) { full(html); mode = "full-fallback"; }
    runScripts();
    drawCursor(false);
    var t1 = performance.now();
    P.postMessage({ type: "rendered", version: m.version, t: performance.timeOrigin + t1, ms: t1 - t0, mode: mode,
                    recv: m.recv, sent: m.sent, got: got }, "*");
  }

  // -- editor cursor → outline ------------------------------------------------------------
  function drawCursor(scroll) {
    if (!overlay) {
      overlay = document.createElement("div");
      overlay.setAttribute("data-gap-overlay", "");
      overlay.style.cssText = "position:absolute;pointer-events:none;z-index:2147483647;outline:2px solid rgba(255,140,0,.9);" +
        "outline-offset:1px;background:rgba(255,160,0,.08);border-radius:2px;display:none;margin:0;padding:0;";
    }
    if (!overlay.isConnected) document.documentElement.appendChild(overlay);
    var pair = cursor ? findPair(cursor) : null;
    if (!pair) { overlay.style.display = "none"; overlay.removeAttribute("data-target"); return; }
    var r = document.createRange();
    r.setStartAfter(pair[0]); r.setEndBefore(pair[1]);
    var rect = r.getBoundingClientRect();
    if (rect.width === 0 && rect.height === 0) {
      var el = pair[0].parentNode;  // an empty target: outline its element
      rect = el && el.getBoundingClientRect ? el.getBoundingClientRect() : rect;
    }
    overlay.setAttribute("data-target", cursor);
    overlay.style.display = "block";
    overlay.style.left = (rect.left + window.scrollX) + "px";
    overlay.style.top = (rect.top + window.scrollY) + "px";
    overlay.style.width = rect.width + "px";
    overlay.style.height = rect.height + "px";
    if (scroll && follow && (rect.bottom < 0 || rect.top > window.innerHeight)) {
      window.scrollTo({ top: Math.max(0, rect.top + window.scrollY - 40), behavior: "instant" });
    }
  }
  window.addEventListener("resize", function () { drawCursor(false); });

  // -- click → innermost target → parent (→ server → editor) ---------------------------------
  function innermostTarget(node) {
    var tw = document.createTreeWalker(document, NodeFilter.SHOW_COMMENT);
    tw.currentNode = node;
    var skip = 0, n;
    while ((n = tw.previousNode())) {
      var d = n.data;
      if (d.lastIndexOf("/gap:t:", 0) === 0) skip++;
      else if (d.lastIndexOf("gap:t:", 0) === 0) { if (skip) skip--; else return d.slice(6); }
    }
    return null;
  }
  document.addEventListener("click", function (e) {
    if (!revealEnabled || !e.target || e.target.nodeType !== 1) return;
    // the text under the pointer (an inline target inside a paragraph), else the element
    var node = e.target;
    var caret = document.caretRangeFromPoint ? document.caretRangeFromPoint(e.clientX, e.clientY) : null;
    if (caret && caret.startContainer && caret.startContainer.nodeType === 3 && e.target.contains(caret.startContainer)) node = caret.startContainer;
    var id = innermostTarget(node);
    if (id !== null) P.postMessage({ type: "reveal", target: id }, "*");
  }, true);

  window.addEventListener("message", function (e) {
    if (e.source !== P) return;  // only the parent page (artifact scripts are e.source === window)
    var m = e.data;
    if (!m || typeof m !== "object") return;
    if (m.type === "render") {
      try { render(m); }
      catch (err) {  // never leave the parent waiting: retry as a whole-document morph
        try { if (html !== null) full(html); } catch (e2) { /* give up on this update */ }
        P.postMessage({ type: "rendered", version: m.version, t: performance.timeOrigin + performance.now(), ms: 0,
                        mode: "error", recv: m.recv, sent: m.sent, got: 0 }, "*");
      }
    }
    else if (m.type === "cursor") { cursor = typeof m.target === "string" ? m.target : null; follow = !!m.follow; drawCursor(true); }
  });
  function ready() { P.postMessage({ type: "ready" }, "*"); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
