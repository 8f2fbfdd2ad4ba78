// A region that scrolls (a code block with long lines, a wide table) must be
// reachable by keyboard, or a reader without a mouse never sees its end. While an
// element scrolls it gets tabindex="0" (arrow keys then scroll it); it loses it when
// the window grows wide enough. Checked again when the window is resized and when
// the page adds content (the output of a block run in the browser).
"use strict";

(() => {
  const SCROLLERS = "pre, .table-wrapper, .math-wrapper, .output";
  const MARK = "scrollFocus"; // data-scroll-focus: the tabindex is ours to remove

  function scrolls(element) {
    const style = getComputedStyle(element);
    const canScroll = (overflow) => overflow === "auto" || overflow === "scroll";
    return (
      (canScroll(style.overflowX) && element.scrollWidth > element.clientWidth) ||
      (canScroll(style.overflowY) && element.scrollHeight > element.clientHeight)
    );
  }

  function update() {
    for (const element of document.querySelectorAll(SCROLLERS)) {
      const ours = MARK in element.dataset;
      if (scrolls(element)) {
        if (!ours && !element.hasAttribute("tabindex")) {
          element.tabIndex = 0;
          element.dataset[MARK] = "";
        }
      } else if (ours) {
        element.removeAttribute("tabindex");
        delete element.dataset[MARK];
      }
    }
  }

  let pending = false;
  function updateSoon() {
    if (!pending) {
      pending = true;
      requestAnimationFrame(() => {
        pending = false;
        update();
      });
    }
  }

  function start() {
    update();
    window.addEventListener("resize", updateSoon);
    window.addEventListener("load", updateSoon);
    const article = document.querySelector("article") || document.body;
    new MutationObserver(updateSoon).observe(article, {
      childList: true,
      subtree: true,
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
