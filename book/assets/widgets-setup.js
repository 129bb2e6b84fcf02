// Loaded on pages with widget outputs, after RequireJS and before the ipywidgets HTML manager
// (book/_config.yml, nb_ipywidgets_js). Two things the manager needs on a site that serves it itself:
(function () {
  "use strict";
  // 1. Where its files are. Its CSS points at font files relative to this folder; without it the browser
  //    looks for them under the page's own folder.
  //    Its modules compute that folder from their RequireJS module names ("@jupyter-widgets/base", ...), so map
  //    those names onto the folder too.
  var here = document.currentScript && document.currentScript.src;
  if (here) {
    var folder = new URL("html-manager/", here).href;
    window.__jupyter_widgets_assets_path__ = folder;
    if (window.require && typeof window.require.config === "function") {
      var base = folder.replace(/\/$/, "");
      window.require.config({ paths: { "@jupyter-widgets/html-manager/dist": base, "@jupyter-widgets": base } });
    }
  }
  // 2. MathJax 2's API. The manager typesets widget labels with MathJax.Hub.Queue(["Typeset", MathJax.Hub, el])
  //    whenever window.MathJax exists, but the site serves MathJax 3, which has no Hub. Give whatever object
  //    window.MathJax holds (the configuration first, then MathJax itself) a Hub that MathJax 3 understands.
  var hub = {
    Queue: function () {
      for (var i = 0; i < arguments.length; i++) {
        var cmd = arguments[i];
        if (typeof cmd === "function") {
          cmd();
        } else if (Array.isArray(cmd) && cmd[0] === "Typeset") {
          var mj = window.MathJax;
          if (mj && mj.startup && mj.startup.promise && mj.typesetPromise) {
            var el = cmd[2];
            mj.startup.promise
              .then(function () { return mj.typesetPromise(el ? [el] : undefined); })
              .catch(function (err) { console.warn("MathJax could not typeset a widget:", err); });
          }
        }
      }
    },
  };
  function withHub(obj) {
    if (obj && typeof obj === "object" && !("Hub" in obj)) {
      Object.defineProperty(obj, "Hub", { value: hub, enumerable: false, configurable: true, writable: true });
    }
    return obj;
  }
  var current = withHub(window.MathJax);
  Object.defineProperty(window, "MathJax", {
    configurable: true,
    enumerable: true,
    get: function () { return current; },
    set: function (value) { current = withHub(value); },
  });
})();
