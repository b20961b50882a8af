/* Page helpers (ours), loaded on every page before the widget manager (see _config.yml's html_js_files).
 *
 * 1. A MathJax 2 "Hub.Queue" adapter onto MathJax 3. The vendored @jupyter-widgets/html-manager
 *    (embed.js) typesets widget labels with the MathJax 2 API, `MathJax.Hub.Queue(["Typeset",
 *    MathJax.Hub, element])`, whenever `window.MathJax` exists; the book loads MathJax 3 (Sphinx's
 *    mathjax_path), which has no `Hub`, so every slider label threw "Cannot read properties of
 *    undefined (reading 'Queue')". Here `MathJax.Hub.Queue` exists on whatever `window.MathJax` is
 *    (Sphinx's configuration object before MathJax 3 has loaded, MathJax 3 itself afterwards) and
 *    queues each "Typeset" job on MathJax 3's `startup.promise` -> `typesetPromise([element])`, the
 *    documented way to typeset content added after the page was typeset. Function jobs are run in
 *    order on the same queue; other MathJax 2 job kinds are not used by the widget manager.
 *
 * 2. Alt text for the static sliders' images. The widget manager draws each precomputed image as
 *    an <img> without alt text (ipywidgets' Image has no alt); unet_core.widgets.parameter_slider
 *    writes the text into the slider's container (`data-alt`), and it is given to every image drawn
 *    there, now or later (the manager renders on the window's load event).
 */
(function () {
  "use strict";

  // --- 1. MathJax.Hub.Queue -> MathJax 3 -------------------------------------------------------
  let chain = Promise.resolve();

  function typeset(element) {
    const mj = window.MathJax;
    if (!mj || !mj.startup || typeof mj.startup.promise === "undefined") {
      return Promise.resolve();  // MathJax 3 is not (yet) running: it typesets the page itself when it starts
    }
    mj.startup.promise = mj.startup.promise
      .then(() => (mj.typesetPromise ? mj.typesetPromise(element ? [element] : undefined) : undefined))
      .catch((err) => console.error("MathJax typeset failed:", err));
    return mj.startup.promise;
  }

  function run(job) {
    if (typeof job === "function") return job();
    if (Array.isArray(job) && job[0] === "Typeset") return typeset(job[2]);
    if (Array.isArray(job) && typeof job[0] === "function") return job[0].apply(null, job.slice(1));
    return undefined;
  }

  const Hub = Object.freeze({
    Queue(...jobs) {
      for (const job of jobs) chain = chain.then(() => run(job));
      return chain;
    },
  });

  function attach(obj) {
    if (obj && typeof obj === "object" && !("Hub" in obj)) {
      // not enumerable: MathJax 3 reads its configuration with Object.keys and must not see it
      Object.defineProperty(obj, "Hub", { value: Hub, enumerable: false, configurable: true });
    }
    return obj;
  }

  let current = attach(window.MathJax);
  Object.defineProperty(window, "MathJax", {
    configurable: true,
    enumerable: true,
    get: () => current,
    set: (value) => { current = attach(value); },
  });

  // --- 2. alt text of the static sliders' images ------------------------------------------------
  function label(root) {
    const alt = root.getAttribute("data-alt");
    if (!alt) return;
    for (const img of root.querySelectorAll("img:not([alt])")) img.setAttribute("alt", alt);
  }

  function watchSliders() {
    for (const root of document.querySelectorAll(".unet-param-slider[data-alt]")) {
      label(root);
      new MutationObserver(() => label(root)).observe(root, { childList: true, subtree: true });
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", watchSliders);
  else watchSliders();
})();
