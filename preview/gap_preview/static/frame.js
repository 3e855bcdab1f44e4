// gap-preview frame: runs inside <iframe sandbox="allow-scripts"> (an opaque origin, no token,
// no access to the server or the parent). Receives the view from the parent page by
// postMessage and morphs the live DOM (morphdom), so scroll, focus, <details open> and form
// state survive. Target markers become comments <!--gap:t:ID--> … <!--/gap:t:ID-->.
(function () {
  "use strict";
  // only ever inside the shell's <iframe sandbox="allow-scripts">: an opaque origin. Loaded any
  // other way (framed without the sandbox by another local page, opened in a tab), rendering
  // would run the artifact — or whatever that page posts — with the server's own origin.
  if (window.origin !== "null" || window.parent === window) return;
  var morph = window.morphdom;
  var P = window.parent;
  var HTML_NS = "http://www.w3.org/1999/xhtml", SVG_NS = "http://www.w3.org/2000/svg";
  var MARK = /<(\/?)gap:target(?=[\s\/>])([^>]*)>/g;
  var ID = /(?:^|\s)id\s*=\s*(?:"([^"]*)"|'([^']*)')/;
  var html = null;          // the current view (with markers)
  var cursor = null, follow = true;
  var revealEnabled = true;
  var overlay = null;
  var renderedOpen = new WeakMap();  // <details> → "open" as the artifact last rendered it
  var scripts = [];

  // -- what the artifact's own scripts did to the page (a chart drawn into a <div>, a class on
  // <body>, a <canvas> appended), kept across updates: the views carry none of it, and an
  // unchanged script does not run again, so a morph to the view would wipe it for good.
  // A MutationObserver sees every change that is not ours (it is disconnected while we morph):
  var scriptAdded = new WeakSet();   // nodes an artifact script (or the user) inserted: never discarded
  var touched = new WeakSet();       // elements whose attributes, children or text they changed
  var scriptAttrs = new WeakMap();   // element → Map(attribute → the artifact's value before the change)
  var ours = new WeakSet();          // the script elements runScripts re-creates
  var scriptRemoved = [];            // [tag, outerHTML, id, child elements, attributes] of the artifact's elements they removed (a "Loading…")
  var baseView = null, baseDoc = null;  // the view before this update, parsed on demand
  var anyTouched = false;
  var reloadWanted = false;
  // a script of the artifact removed: what it made would stay forever — a fresh frame instead
  // (not the bootstrap's own scripts, which the first render replaces)
  var bootScripts = new WeakSet();
  document.querySelectorAll("script").forEach(function (x) { bootScripts.add(x); });
  // A morph may also take a script out and put an equal one back (morphdom does so when an
  // element is inserted before it): that one has run already and must not run again.
  var goneScripts = [];
  function noteScriptGone(node) {
    if (node.nodeType !== 1) return;
    var list = node.localName === "script" ? [node] : node.querySelectorAll("script");
    for (var i = 0; i < list.length; i++) if (!bootScripts.has(list[i])) goneScripts.push(list[i]);
  }
  function settleScripts() {
    for (var i = 0; i < goneScripts.length; i++) {
      var k = -1;
      for (var j = 0; j < scripts.length; j++) if (scripts[j].isEqualNode(goneScripts[i])) { k = j; break; }
      if (k >= 0) scripts.splice(k, 1);  // moved, not changed
      else reloadWanted = true;          // gone for good
    }
    goneScripts = [];
  }
  var MO_OPTS = { subtree: true, childList: true, attributes: true, attributeOldValue: true, characterData: true };
  function noteMutations(records) {
    for (var i = 0; i < records.length; i++) {
      var r = records[i], t = r.target;
      if (r.type === "childList") {
        if (t.nodeType === 1) { touched.add(t); anyTouched = true; }
        for (var k = 0; k < r.addedNodes.length; k++) if (!ours.has(r.addedNodes[k])) scriptAdded.add(r.addedNodes[k]);
        for (var k2 = 0; k2 < r.removedNodes.length; k2++) {
          var rm = r.removedNodes[k2];
          if (rm.nodeType !== 1 || scriptAdded.has(rm) || rm.isConnected || rm.nodeName === "SCRIPT" || scriptRemoved.length >= 256) continue;
          var oh = rm.outerHTML;
          if (oh.length <= 16384) scriptRemoved.push([rm.localName, oh, rm.id, rm.childElementCount, rm.attributes.length]);
        }
      } else if (r.type === "attributes") {
        if (r.attributeName === "open" && t.nodeName === "DETAILS") continue;  // the user's toggle: see renderedOpen
        touched.add(t); anyTouched = true;
        var m = scriptAttrs.get(t);
        if (!m) scriptAttrs.set(t, m = new Map());
        if (!m.has(r.attributeName)) m.set(r.attributeName, r.oldValue);
      } else if (t.parentNode && t.parentNode.nodeType === 1) { touched.add(t.parentNode); anyTouched = true; }  // characterData
    }
  }
  var observer = new MutationObserver(noteMutations);
  var watching = false;
  function watchScripts() { if (!watching) { observer.observe(document, MO_OPTS); watching = true; } }
  function pauseWatch() { if (watching) { noteMutations(observer.takeRecords()); observer.disconnect(); watching = false; } }
  // take out of a freshly parsed view (a Document or a fragment) the elements an artifact script
  // removed from the page, as long as the artifact still renders them the same way
  // (`keep`: the entries not found stay, `root` being only a part of the view or the old one)
  function dropScriptRemoved(root, keep) {
    if (!scriptRemoved.length) return;
    var left = scriptRemoved.filter(function (e) {
      var all;
      try { all = root.querySelectorAll(e[0]); } catch (err) { return false; }
      for (var i = 0; i < all.length; i++) {
        var c = all[i];  // cheap checks first: serialising every <div> of a big page would not be
        if (c.id === e[2] && c.childElementCount === e[3] && c.attributes.length === e[4] && c.outerHTML === e[1]) { c.remove(); return true; }
      }
      return false;  // the artifact changed it (or dropped it): its new version shows
    });
    if (!keep) scriptRemoved = left;
  }
  // the element of the previous view that live element `from` was rendered from, `to` being the
  // new view's: the element at to's place when a whole view is being morphed (both views are
  // paired position by position before the morph), else at from's place in the page (its
  // position among element children, not counting what scripts inserted); or null
  var counterpart = null;
  function pairViews(a, b) {  // children in order, by tag and id; an element the new view inserted pairs with nothing
    counterpart.set(a, b);
    var y = b.firstElementChild;
    for (var x = a.firstElementChild; x && y; x = x.nextElementSibling) {
      for (var z = y, look = 0; z && look < 16; z = z.nextElementSibling, look++) {
        if (z.nodeName === x.nodeName && z.id === x.id) { pairViews(x, z); y = z.nextElementSibling; break; }
      }
    }
  }
  function parseBase() {
    if (baseDoc === null) {
      baseDoc = new DOMParser().parseFromString(toComments(baseView), "text/html");
      dropScriptRemoved(baseDoc, true);
    }
    return baseDoc;
  }
  function baseOf(from, to) {
    if (baseView === null) return null;
    if (counterpart !== null) return counterpart.get(to) || null;
    var path = [];
    for (var n = from; n !== document.documentElement; n = n.parentElement) {
      var par = n && n.parentElement;
      if (!par || scriptAdded.has(n)) return null;
      var i = 0;
      for (var c = par.firstElementChild; c && c !== n; c = c.nextElementSibling) if (!scriptAdded.has(c) && c !== overlay) i++;
      path.push(i);
    }
    var b = parseBase().documentElement;
    for (var k = path.length - 1; k >= 0 && b; k--) b = b.children[path[k]];
    return b || null;
  }

  function toComments(s) {
    var stack = [], k = lastMarkerEnd(s);
    return s.slice(0, k).replace(MARK, function (m, slash, attrs) {
      if (slash) { var id = stack.pop(); return id === undefined ? "" : "<!--/gap:t:" + id + "-->"; }
      var mm = ID.exec(attrs); var v = mm ? (mm[1] !== undefined ? mm[1] : mm[2]) : "";
      stack.push(v);
      return "<!--gap:t:" + v + "-->";
    }) + s.slice(k);
  }
  // markers end with ">": none starts after the last one, and looking there for one would
  // search to the end of the text again for every unterminated "<gap:target" (as the engine)
  function lastMarkerEnd(s) { return s.lastIndexOf(">") + 1; }

  function openRe(id) {
    var e = id.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    return new RegExp("<gap:target\\s(?:[^>]*?\\s)?id\\s*=\\s*(?:\"" + e + "\"|'" + e + "')[^>]*>");
  }
  function splice(s, id, content) {
    var o = openRe(id).exec(s);
    if (!o) return null;
    var j = o.index + o[0].length, depth = 1, m, t = s.slice(0, lastMarkerEnd(s));
    MARK.lastIndex = j;
    while ((m = MARK.exec(t))) {
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
      // an edited script (its code, its data, its src) would not run again: the page asks the
      // parent for a fresh frame (like a live-reload tool, scroll restored) and leaves it as is
      if (from.localName === "script") { reloadWanted = true; return false; }
      if (touched.has(from)) {  // an artifact script changed it: keep that unless the artifact changed it too
        var b = baseOf(from, to);
        if (b && b.isEqualNode(to)) return false;
      }
      var sa = scriptAttrs.get(from);
      if (sa) sa.forEach(function (was, name) {
        if (to.getAttribute(name) === was) {  // the artifact did not change it: keep the script's value
          var cur = from.getAttribute(name);
          if (cur === null) to.removeAttribute(name); else to.setAttribute(name, cur);
        } else sa.delete(name);  // the artifact set it anew: its value wins
      });
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
    onBeforeNodeDiscarded: function (node) {
      if (node === overlay || scriptAdded.has(node)) return false;
      noteScriptGone(node);
      return true;
    },
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
      ours.add(s);
      old.parentNode.replaceChild(s, old);
    }
  }

  function full(view) {
    var doc = new DOMParser().parseFromString(toComments(view), "text/html");
    dropScriptRemoved(doc);
    if (anyTouched && baseView !== null) { counterpart = new WeakMap(); pairViews(doc.documentElement, parseBase().documentElement); }
    try { morph(document.documentElement, doc.documentElement, opts); } finally { counterpart = null; }
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

  // marker comments by their data ("gap:t:ID" / "/gap:t:ID"), first occurrence in document
  // order; an entry is trusted only while it is still connected and unchanged, else the map
  // is rebuilt (one walk over the comments) — saves a whole-document walk per update
  var comments = null;
  function indexComments() {
    comments = new Map();
    var tw = document.createTreeWalker(document, NodeFilter.SHOW_COMMENT), n;
    while ((n = tw.nextNode())) {
      var d = n.data;
      if ((d.lastIndexOf("gap:t:", 0) === 0 || d.lastIndexOf("/gap:t:", 0) === 0) && !comments.has(d)) comments.set(d, n);
    }
  }
  function markerComment(data) {
    var n = comments && comments.get(data);
    if (n && n.isConnected && n.data === data) return n;
    indexComments();
    return comments.get(data) || null;
  }
  function findPair(id) {
    var a = markerComment("gap:t:" + id), b = a && markerComment("/gap:t:" + id);
    if (a && b && (a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING)) return [a, b];
    // a stale or duplicated entry: the exact walk (first opening, then its first closing)
    var tw = document.createTreeWalker(document, NodeFilter.SHOW_COMMENT);
    var n, o = "gap:t:" + id, c = "/gap:t:" + id;
    a = null;
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
      dropScriptRemoved(tpl.content, true);  // a part of the view: what it lacks may be elsewhere
      fresh = Array.prototype.slice.call(tpl.content.childNodes);
    } else return false;
    var old = [];
    for (var n = a.nextSibling; n && n !== b; n = n.nextSibling) if (!scriptAdded.has(n)) old.push(n);
    morphRun(old, fresh, 0, 0, function (f) { p.insertBefore(f, b); });
    tpl.innerHTML = "";
    return true;
  }

  // Morph the live nodes `old` into the parsed nodes `fresh` (both in document order): equal
  // nodes at the start (from index i) and at the end are skipped, the rest is morphed pairwise
  // (same kind) or replaced, surplus old nodes are removed, surplus fresh ones go before the
  // first skipped trailing node (or through `append` when there is none).
  function morphRun(old, fresh, i, j, append) {
    var ol = old.length, nl = fresh.length;
    while (i < ol - j && i < nl - j && old[i].isEqualNode(fresh[i])) i++;
    while (j < ol - i && j < nl - i && old[ol - 1 - j].isEqualNode(fresh[nl - 1 - j])) j++;
    var ref = j > 0 ? old[ol - j] : null;
    for (var k = i; k < Math.max(ol - j, nl - j); k++) {
      var o = k < ol - j ? old[k] : null, f = k < nl - j ? fresh[k] : null;
      if (o && f) {
        if (o.nodeType === f.nodeType && (o.nodeType !== 1 || o.nodeName === f.nodeName)) {
          if (o.nodeType === 1) { if (o !== overlay) morph(o, f, opts); }
          else if (o.nodeValue !== f.nodeValue) o.nodeValue = f.nodeValue;
        } else { noteScriptGone(o); o.parentNode.replaceChild(f, o); noteAddedDeep(f); }
      } else if (f) { if (ref) ref.parentNode.insertBefore(f, ref); else append(f); noteAddedDeep(f); }
      else if (o) { noteScriptGone(o); o.parentNode.removeChild(o); }
    }
  }

  // -- a change outside every target: re-parse and morph only its segment ---------------------
  //
  // The markers cut the view into segments; a change [p, e) → text that lies inside one text run
  // of one segment (between two adjacent markers, or between the last marker and the end of
  // <body>, or between <body>'s start tag and the first marker) only needs that segment's nodes.
  // Those are the nodes between the two marker comments in tree order, taken as maximal whole
  // subtrees (the segment text may close elements that the first comment is in, e.g.
  // "</main><footer>…</footer></body></html>"). The segment's old text is parsed too and must
  // give exactly those nodes (isEqualNode): that checks that parsing the segment alone agrees with
  // the document's parse here. The change itself cannot alter the tag structure (no < or > in
  // it, and it sits between a ">" and a "<"; the new text must parse to the same shape, see
  // sameShape), so the document's parse of the new text differs only there too. Anything else — markers, comments, <head>, tables, SVG, a node the user or a
  // script changed — returns false and the caller morphs the whole document.
  var SEG_TEXT = /[<>]/;
  var SEG_BAD = /<[!?]|<(?:html|head|body|plaintext|frameset|template)\b|<\/(?:head|template|frameset)\b|<\/?gap:target\b/i;
  var BODY_START = /<body\b[^>]*>/ig;
  var HEADISH = /<(?:html|head|body|meta|title|link|style|script|base|noscript|template|basefont|bgsound)\b/i;
  var LEVEL_BAD = { TABLE: 1, TBODY: 1, THEAD: 1, TFOOT: 1, TR: 1, COLGROUP: 1, SELECT: 1, TEMPLATE: 1, HEAD: 1, HTML: 1 };
  function levelOk(el) {
    return el && el.nodeType === 1 && el.namespaceURI === HTML_NS && !LEVEL_BAD[el.nodeName];
  }
  function markerBefore(s, at) {  // [start, end, attributes, closing] of the last marker starting before `at`
    var i = Math.max(s.lastIndexOf("<gap:target", at - 1), s.lastIndexOf("</gap:target", at - 1));
    while (i >= 0) {
      MARK.lastIndex = i;
      var m = MARK.exec(s);
      if (m && m.index === i) return [i, i + m[0].length, m[2], !!m[1]];
      i = Math.max(s.lastIndexOf("<gap:target", i - 1), s.lastIndexOf("</gap:target", i - 1));
    }
    return null;
  }
  function markerAfter(s, at) {
    var i = s.indexOf("gap:target", at);
    while (i >= 0) {
      var st = s.charAt(i - 1) === "<" ? i - 1 : s.charAt(i - 1) === "/" && s.charAt(i - 2) === "<" ? i - 2 : -1;
      if (st >= at) {
        MARK.lastIndex = st;
        var m = MARK.exec(s);
        if (m && m.index === st) return [st, st + m[0].length, m[2], !!m[1]];
      }
      i = s.indexOf("gap:target", i + 1);
    }
    return null;
  }
  function markerId(attrs) { var mm = ID.exec(attrs || ""); return mm ? (mm[1] !== undefined ? mm[1] : mm[2]) : ""; }
  // the comment of the marker [start, end, attrs, closing] found in `s`
  function commentOf(s, mk) {
    if (!mk[3]) return markerComment("gap:t:" + markerId(mk[2]));
    var depth = 0, at = mk[0];  // a closing marker: find its opening (nesting counted)
    for (;;) {
      var prev = markerBefore(s, at);
      if (!prev) return null;
      if (prev[3]) depth++;
      else if (depth === 0) return markerComment("/gap:t:" + markerId(prev[2]));
      else depth--;
      at = prev[0];
    }
  }
  // the maximal whole subtrees after `a` (null: the start of <body>) and before `b` (null: the
  // end of <body>), in order; null when the way between them leaves <body> or crosses a level
  // where parsing depends on context (tables, <select>, SVG, <head>…)
  function between(a, b) {
    var body = document.body, out = [], parent, next;
    if (!body || (a && !body.contains(a)) || (b && !body.contains(b))) return null;
    if (a) { parent = a.parentNode; next = a.nextSibling; } else { parent = body; next = body.firstChild; }
    if (!levelOk(parent)) return null;
    for (;;) {
      if (next === null) {  // this level is done: climb
        if (parent === body) return b ? null : out;
        next = parent.nextSibling;
        parent = parent.parentNode;
        if (!levelOk(parent)) return null;
        continue;
      }
      if (next === b) return out;
      if (b && next.contains(b)) {  // b is inside: descend toward it
        if (!levelOk(next)) return null;
        parent = next; next = next.firstChild;
        continue;
      }
      if (next !== overlay) out.push(next);
      next = next.nextSibling;
    }
  }
  // Parse a segment's text alone. An end tag in it may close an element the segment started
  // in ("</main>"): the document's parse then puts what follows one level up, the fragment's
  // ignores the tag — and would merge two text nodes the document keeps apart. So a separator
  // comment goes after every end tag: at the top level it keeps the nodes apart (and is
  // dropped), inside an element it is removed again and the text re-joined (normalize()).
  var END_TAG = /<\/(?!(?:body|html)\b)[A-Za-z][^>]*>/gi;  // </body>, </html> never close anything
  function parseSegment(s) {
    tpl.innerHTML = s.replace(END_TAG, "$&<!--gap:s-->");
    var root = tpl.content, out = [], inner = [], n;
    for (n = root.firstChild; n; n = n.nextSibling) if (!(n.nodeType === 8 && n.data === "gap:s")) out.push(n);
    var tw = document.createTreeWalker(root, NodeFilter.SHOW_COMMENT);
    while ((n = tw.nextNode())) if (n.data === "gap:s" && n.parentNode !== root) inner.push(n);
    for (var i = 0; i < inner.length; i++) { var par = inner[i].parentNode; par.removeChild(inner[i]); par.normalize(); }
    tpl.innerHTML = "";
    return out;
  }
  var segWhy = "";  // why the last change did not take the segment path (tests, bench)
  function no(why) { segWhy = why; return false; }
  // the same elements, nested the same way, with the same attribute names (text, text nodes and
  // attribute values may differ): a quote typed where the text run was really an attribute value (a ">"
  // inside quotes before it) cannot then have moved where a tag ends
  function notText(n) { return n.nodeType !== 3; }
  function sameShape(xs, ys) {
    xs = Array.prototype.filter.call(xs, notText); ys = Array.prototype.filter.call(ys, notText);
    if (xs.length !== ys.length) return false;
    for (var i = 0; i < xs.length; i++) {
      var x = xs[i], y = ys[i];
      if (x.nodeType !== y.nodeType) return false;
      if (x.nodeType !== 1) continue;
      if (x.nodeName !== y.nodeName || x.attributes.length !== y.attributes.length) return false;
      for (var k = 0; k < x.attributes.length; k++) if (x.attributes[k].name !== y.attributes[k].name) return false;
      if (!sameShape(x.childNodes, y.childNodes)) return false;
    }
    return true;
  }
  function segment(old, p, e, text) {
    segWhy = "";
    if (!document.body || SEG_TEXT.test(text) || SEG_TEXT.test(old.slice(p, e)) || p === 0) return no("markup in the change");
    // the change lies in one text run: a ">" before it, a "<" after it
    var q0 = Math.max(old.lastIndexOf("<", p - 1), old.lastIndexOf(">", p - 1));
    if (q0 < 0 || old.charAt(q0) !== ">") return no("not in a text run");
    var l1 = old.indexOf("<", e), g1 = old.indexOf(">", e);
    if (l1 < 0 || (g1 >= 0 && g1 < l1)) return no("not in a text run");
    var before = markerBefore(old, p), after = markerAfter(old, e);
    if (before && before[1] > p) return no("in a marker");  // inside a marker
    var a = null, b = null, s0, s1 = after ? after[0] : old.length;
    if (before) { a = commentOf(old, before); if (!a) return no("marker comment missing"); s0 = before[1]; }
    else {  // before the first marker: from <body>'s start tag, or the start when nothing goes to <head>
      BODY_START.lastIndex = 0;
      var bm = BODY_START.exec(old);
      if (bm && bm.index + bm[0].length <= p && bm.index < s1) s0 = bm.index + bm[0].length;
      else if (!bm && !HEADISH.test(old.slice(0, p))) s0 = 0;
      else return no("in <head>");
    }
    if (after) { b = commentOf(old, after); if (!b) return no("marker comment missing"); }
    var segOld = old.slice(s0, s1);
    var segNew = old.slice(s0, p) + text + old.slice(e, s1);
    // re-parsing the segment twice must stay well below one whole-document parse
    if (segOld.length + segNew.length > Math.max(old.length / 2, 32768) || SEG_BAD.test(segOld)) return no("segment too large or not plain");
    var live = between(a, b);
    if (live === null) return no("nodes not located");
    var was = parseSegment(segOld);
    if (was.length !== live.length) return no("segment parses differently");
    for (var k = 0; k < live.length; k++) if (!live[k].isEqualNode(was[k])) return no("segment parses differently");
    var fresh = parseSegment(segNew);
    if (!sameShape(was, fresh)) return no("shape changed");
    var ol = was.length, nl = fresh.length, i = 0, j = 0;
    while (i < ol && i < nl && was[i].isEqualNode(fresh[i])) i++;
    while (j < ol - i && j < nl - i && was[ol - 1 - j].isEqualNode(fresh[nl - 1 - j])) j++;
    var oldMid = live.slice(i, ol - j), newMid = fresh.slice(i, nl - j);
    if (oldMid.length === newMid.length) {  // the same shape: morph pair by pair, each in place
      morphRun(oldMid, newMid, 0, 0, null);
      return true;
    }
    // a node appears or disappears (a text run emptied or filled): only where its level is
    // certain, i.e. its neighbours and the nodes it replaces share one parent
    var prev = i > 0 ? live[i - 1] : a, next = j > 0 ? live[ol - j] : b;
    var par = next ? next.parentNode : document.body;
    if ((prev ? prev.parentNode : document.body) !== par) return no("level ambiguous");
    for (var k2 = 0; k2 < oldMid.length; k2++) if (oldMid[k2].parentNode !== par) return no("level ambiguous");
    morphRun(oldMid, newMid, 0, 0, function (f) { par.insertBefore(f, next); });
    return true;
  }

  function render(m) {
    pauseWatch();
    baseView = html; baseDoc = null; goneScripts = [];
    try { return render1(m); } finally { baseView = null; baseDoc = null; watchScripts(); }
  }
  function render1(m) {
    var t0 = performance.now(), mode = "full";
    var got = performance.timeOrigin + t0;
    if (m.html instanceof ArrayBuffer) { html = dec.decode(m.html); full(html); }
    else if (typeof m.html === "string") { html = m.html; full(html); }
    else if (html === null) { P.postMessage({ type: "need-full" }, "*"); return; }
    else if (Array.isArray(m.splice)) {  // a whole view sent as the change [p, e) → text of ours
      var sp = m.splice, p0 = sp[0], e0 = sp[1], text = String(sp[2]);
      if (!(p0 >= 0 && p0 <= e0 && e0 <= html.length)) { P.postMessage({ type: "need-full" }, "*"); return; }
      var prevHtml = html;
      html = html.slice(0, p0) + text + html.slice(e0);
      if (p0 === e0 && text === "") mode = "same";
      else if (segment(prevHtml, p0, e0, text)) mode = "segment";
      else full(html);
    }
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
    settleScripts();
    watchScripts();  // what the artifact's scripts do as they run is theirs
    runScripts();
    pauseWatch();
    if (Array.isArray(m.scroll)) window.scrollTo(Number(m.scroll[0]) || 0, Number(m.scroll[1]) || 0);  // a fresh frame
    drawCursor(false);
    var t1 = performance.now();
    P.postMessage({ type: "rendered", version: m.version, t: performance.timeOrigin + t1, ms: t1 - t0, mode: mode, why: segWhy,
                    recv: m.recv, sent: m.sent, got: got, scroll: [window.scrollX, window.scrollY] }, "*");
    if (reloadWanted) { reloadWanted = false; P.postMessage({ type: "reload", scroll: [window.scrollX, window.scrollY] }, "*"); }
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
  function drawCursorOurs(scroll) {  // the overlay is ours: not an artifact script's change
    var was = watching;
    pauseWatch();
    try { drawCursor(scroll); } finally { if (was) watchScripts(); }
  }
  window.addEventListener("resize", function () { drawCursorOurs(false); });

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

  // a link the user follows (one the artifact's own handlers left alone) opens in a new tab:
  // followed in the frame it would replace the preview (the parent then puts it back, at the
  // top of the page). In-page anchors stay in-page.
  document.addEventListener("click", function (e) {
    if (e.defaultPrevented || e.button !== 0 || !e.target || !e.target.closest) return;
    var a = e.target.closest("a[href]");
    if (!a) return;
    var href = a.getAttribute("href");
    if (!href || href.charAt(0) === "#") return;
    var url;
    try { url = new URL(href, document.baseURI); } catch (err) { return; }
    if (url.protocol === "javascript:") return;
    if (url.hash && url.href.split("#")[0] === location.href.split("#")[0]) return;
    e.preventDefault();
    P.postMessage({ type: "open", url: url.href }, "*");
  });

  window.addEventListener("message", function (e) {
    if (e.source !== P) return;  // only the parent page (artifact scripts are e.source === window)
    var m = e.data;
    if (!m || typeof m !== "object") return;
    if (m.type === "render") {
      try { render(m); }
      catch (err) {  // never leave the parent waiting: retry as a whole-document morph
        pauseWatch();
        try { if (html !== null) full(html); } catch (e2) { /* give up on this update */ }
        watchScripts();
        P.postMessage({ type: "rendered", version: m.version, t: performance.timeOrigin + performance.now(), ms: 0,
                        mode: "error", recv: m.recv, sent: m.sent, got: 0 }, "*");
      }
    }
    else if (m.type === "ping") P.postMessage({ type: "pong" }, "*");  // the parent's watchdog: alive
    else if (m.type === "cursor") { cursor = typeof m.target === "string" ? m.target : null; follow = !!m.follow; drawCursorOurs(true); }
  });
  // where the reader is, for the parent to restore in a fresh frame (a reload for an edited
  // script, a frame replaced by the watchdog or put back after navigating away)
  var scrollTimer = null;
  window.addEventListener("scroll", function () {
    if (scrollTimer === null) scrollTimer = setTimeout(function () {
      scrollTimer = null;
      P.postMessage({ type: "scroll", scroll: [window.scrollX, window.scrollY] }, "*");
    }, 150);
  }, { passive: true });
  function ready() { P.postMessage({ type: "ready" }, "*"); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
