/* Web Workers cannot start from file:// pages, so site search would fail when
 * the site is opened from a shared folder or USB stick. This replaces Worker
 * with an invisible same-origin iframe that runs the worker script and passes
 * messages both ways. Written for fengqiao; it only acts on file:// pages. */
(function () {
  "use strict";
  if (location.protocol !== "file:" || typeof window.IFrameWorker !== "undefined") return;

  function IFrameWorker(url) {
    var target = document.createDocumentFragment();
    var self = this;
    this.onmessage = null;
    this.onerror = null;
    this.addEventListener = target.addEventListener.bind(target);
    this.removeEventListener = target.removeEventListener.bind(target);
    this.dispatchEvent = target.dispatchEvent.bind(target);
    var queue = [];
    var ready = false;
    var frame = document.createElement("iframe");
    frame.setAttribute("aria-hidden", "true");
    frame.setAttribute("tabindex", "-1");
    frame.style.display = "none";
    (document.body || document.documentElement).appendChild(frame);
    var win = frame.contentWindow;
    var doc = win.document;
    doc.open();
    doc.write("<!doctype html><html><head></head><body></body></html>");
    doc.close();

    function toHost(data) {
      var ev = new MessageEvent("message", { data: data });
      if (typeof self.onmessage === "function") self.onmessage(ev);
      self.dispatchEvent(ev);
    }
    function load(src) {
      return new Promise(function (resolve, reject) {
        var s = doc.createElement("script");
        s.src = new URL(src, location.href).href;
        s.onload = function () { resolve(); };
        s.onerror = function () { reject(new Error("cannot load " + src)); };
        doc.head.appendChild(s);
      });
    }
    win.postMessage = function (data) { setTimeout(function () { toHost(data); }, 0); };
    win.importScripts = function () {
      var urls = Array.prototype.slice.call(arguments);
      return urls.reduce(function (p, u) { return p.then(function () { return load(u); }); },
        Promise.resolve());
    };
    win.onerror = function (msg) {
      var ev = new ErrorEvent("error", { message: String(msg) });
      if (typeof self.onerror === "function") self.onerror(ev);
      self.dispatchEvent(ev);
    };
    this.postMessage = function (data) {
      if (!ready) { queue.push(data); return; }
      win.dispatchEvent(new MessageEvent("message", { data: data }));
    };
    this.terminate = function () { frame.remove(); };
    load(url).then(function () {
      ready = true;
      queue.splice(0).forEach(function (d) { self.postMessage(d); });
    });
  }

  window.IFrameWorker = IFrameWorker;
  window.Worker = IFrameWorker;
})();
