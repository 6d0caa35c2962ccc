// Layout checks for test_phone_layout.py, added to every page of its browser contexts as
// window.ytLayout. Each returns what is wrong, as sentences (an empty list when nothing is).

window.ytLayout = (() => {
  const shown = (el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden';
  };
  const name = (el) => {
    const id = el.id ? `#${el.id}` : '';
    return `${el.tagName.toLowerCase()}${id} "${el.textContent.trim().replace(/\s+/g, ' ').slice(0, 50)}"`;
  };

  /** The lines an element's text takes: [{top, left, right}] (its text only, not icons). */
  function lines(el) {
    const size = parseFloat(getComputedStyle(el).fontSize);
    const rects = [];
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!node.textContent.trim()) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      rects.push(...range.getClientRects());
    }
    const found = [];
    for (const r of rects) {
      if (r.width < 1) continue;
      const line = found.find((l) => Math.abs(l.top - r.top) < size * 0.6);
      if (line) {
        line.left = Math.min(line.left, r.left);
        line.right = Math.max(line.right, r.right);
      } else {
        found.push({ top: r.top, left: r.left, right: r.right });
      }
    }
    return found;
  }

  /** The page in a window `width` px wide: nothing wider than the window. */
  function problems(width) {
    const found = [];
    const viewport = Math.min(document.documentElement.clientWidth, width);
    const page = document.scrollingElement.scrollWidth;
    if (page > viewport) found.push(`the page is ${page} px wide in a ${viewport} px window`);
    for (const el of [document.documentElement, document.body]) {
      const overflow = getComputedStyle(el).overflowX;
      if (overflow === 'hidden' || overflow === 'clip') found.push(`${el.tagName} hides what overflows`);
    }
    // tables fit: nothing scrolls inside them, so no column (an amount) is out of sight
    for (const wrap of document.querySelectorAll('.table-wrap')) {
      if (shown(wrap) && wrap.scrollWidth > wrap.clientWidth + 1) {
        const what = name(wrap.querySelector('tbody') || wrap);
        found.push(`a table scrolls sideways (${wrap.scrollWidth} px in ${wrap.clientWidth}): ${what}`);
      }
    }
    for (const cell of document.querySelectorAll('td.num, td.amount, tfoot td, .kv dd')) {
      if (!shown(cell)) continue;
      const r = cell.getBoundingClientRect();
      if (r.left < -1 || r.right > viewport + 1) found.push(`cut off: ${name(cell)}`);
    }
    // no box of text squeezed to a character or two a line (a link inside a sentence wraps
    // with the sentence: the sentence is checked)
    const texts = 'a, button, th, td, label, legend, h1, h2, h3, dt, dd, p, .tag, .btn-label, .badge';
    for (const el of document.querySelectorAll(texts)) {
      if (!shown(el) || !el.textContent.trim() || getComputedStyle(el).display === 'inline') continue;
      const taken = lines(el);
      const widest = Math.max(...taken.map((l) => l.right - l.left));
      const size = parseFloat(getComputedStyle(el).fontSize);
      if (taken.length >= 2 && widest < 2.5 * size) {
        found.push(`squeezed into ${taken.length} narrow lines: ${name(el)}`);
      }
    }
    // a button, tag or heading of a form field or column does not leave a character alone on a line
    for (const el of document.querySelectorAll('button, .btn, .tag, th, dt, .field > span, .btn-label')) {
      if (!shown(el) || !el.textContent.trim()) continue;
      const taken = lines(el);
      const narrowest = Math.min(...taken.map((l) => l.right - l.left));
      if (taken.length >= 2 && narrowest < 1.5 * parseFloat(getComputedStyle(el).fontSize)) {
        found.push(`a character alone on a line: ${name(el)}`);
      }
    }
    return found;
  }

  /** Each control: inside the window, and not covered (what is at its middle is itself). */
  function onScreen(selectors) {
    const width = document.documentElement.clientWidth;
    return selectors.map((selector) => {
      const el = document.querySelector(selector);
      if (!el) return `${selector}: missing`;
      const r = el.getBoundingClientRect();
      const inside = r.width > 0 && r.left >= -0.5 && r.top >= -0.5
        && r.right <= width + 0.5 && r.bottom <= innerHeight + 0.5;
      if (!inside) return `${selector}: off the screen at [${[r.left, r.top, r.right, r.bottom].map(Math.round)}]`;
      const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
      return hit && el.contains(hit) ? null : `${selector}: covered by ${hit ? name(hit) : 'nothing'}`;
    }).filter(Boolean);
  }

  /** [text, lines] of each main menu link (its own text, without a badge). */
  function linkLines() {
    return [...document.querySelectorAll('.nav a')].map((a) => {
      const range = document.createRange();
      range.selectNodeContents(a.firstChild);
      return [a.textContent.trim(), new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size];
    });
  }

  /** Show a toast now: null if it keeps clear of the control bar `bar`, else what it covers. */
  async function toastClearOf(bar) {
    const { toast } = await import('/static/js/ui.js');
    toast('A notice as long as they get: someone joined, left, or the network is weak now');
    const shown = document.querySelector('#toasts .toast:last-child').getBoundingClientRect();
    const controls = document.querySelector(bar).getBoundingClientRect();
    const apart = shown.bottom <= controls.top || shown.top >= controls.bottom;
    return apart ? null : `a toast [${Math.round(shown.top)}, ${Math.round(shown.bottom)}] covers ${bar} from ${Math.round(controls.top)}`;
  }

  return { problems, onScreen, linkLines, toastClearOf };
})();
