// The grid: captures in sections by day (sticky headings in the viewer's zone), each section's
// tiles in chunks of CHUNK. Memory stays bounded however far one scrolls: past LIVE_TILES tiles
// in the DOM, the chunks farthest from the viewport give their tiles back and keep only their
// height (so nothing on screen moves), and get them again when they come near (NEAR).
// The items' data is bounded too (held.js): `items` holds those of the chunks not let go, in
// display order, for the viewer and the selection.
import * as held from "./held.js";
import { dayHeading, dayKey, el, formatClock, formatNumber, formatTime } from "./format.js";

const CHUNK = 60; // tiles per <ul>: the unit emptied and refilled (a multiple of 2-6 columns)
// ~9 DOM nodes a tile: 600 tiles are ~5,400 nodes, a dozen screens of a 1440 px desktop.
const LIVE_TILES = 600;
const NEAR = 1500; // px: a chunk this close to the viewport keeps, or gets back, its tiles

export class Grid {
  /**
   * `root` is the #grid element; `selection.has(id)` tells the tiles' checkboxes. Tiles report
   * through events on `root` (see gallery.js), so 20,000 tiles add no listener each.
   * `load(first, count)` gets a forgotten chunk's items back (a promise of the API's listing from
   * `first.taken_at`); `pinned()` names an item that must stay (the one the viewer shows).
   */
  constructor(root, selection, { load, pinned }) {
    this.root = root;
    this.selection = selection;
    this.load = load;
    this.pinned = pinned;
    this.items = [];
    this.listed = 0; // items in the grid, held or forgotten
    this.where = new Map(); // id -> its chunk
    this.sections = [];
    this.live = 0;
    this.observer = new IntersectionObserver((entries) => this.onNear(entries), { rootMargin: `${NEAR}px 0px` });
    let resizing = null;
    window.addEventListener("resize", () => {
      clearTimeout(resizing);
      resizing = setTimeout(() => this.resizeEmpty(), 150);
    });
  }

  /** How many captures the grid lists (its items held or not). */
  get count() {
    return this.listed;
  }

  /** The first capture listed, held or not ({id, taken_at} at least), or undefined. */
  first() {
    const chunk = this.sections[0]?.chunks[0];
    return chunk && (chunk.items?.[0] ?? chunk.first);
  }

  clear() {
    this.observer.disconnect();
    this.items = [];
    this.listed = 0;
    this.where.clear();
    this.showHeld();
    this.sections = [];
    this.live = 0;
    this.root.replaceChildren();
  }

  /** Add items after the last one shown (they come in display order). */
  append(items) {
    const fresh = items.filter((item) => !this.where.has(item.id));
    for (const item of fresh) {
      const key = dayKey(new Date(item.taken_at));
      let section = this.sections[this.sections.length - 1];
      if (!section || section.key !== key) section = this.addSection(key, item, false);
      let chunk = section.chunks[section.chunks.length - 1];
      if (!chunk || !chunk.items || chunk.items.length >= CHUNK) chunk = this.addChunk(section, false);
      chunk.items.push(item);
      chunk.count += 1;
      this.where.set(item.id, chunk);
      if (chunk.filled) {
        chunk.node.append(this.tile(item));
        this.live += 1;
      }
    }
    this.items.push(...fresh);
    this.listed += fresh.length;
    this.trim();
    return fresh;
  }

  /** Add items before the first one shown (`items` in display order). */
  prepend(items) {
    const fresh = items.filter((item) => !this.where.has(item.id));
    for (const item of [...fresh].reverse()) {
      const key = dayKey(new Date(item.taken_at));
      let section = this.sections[0];
      if (!section || section.key !== key) section = this.addSection(key, item, true);
      let chunk = section.chunks[0];
      if (!chunk || !chunk.items || chunk.items.length >= CHUNK) chunk = this.addChunk(section, true);
      chunk.items.unshift(item);
      chunk.count += 1;
      this.where.set(item.id, chunk);
      if (chunk.filled) {
        chunk.node.prepend(this.tile(item));
        this.live += 1;
      }
    }
    this.items.unshift(...fresh);
    this.listed += fresh.length;
    this.trim();
    return fresh;
  }

  remove(id) {
    const chunk = this.where.get(id);
    if (!chunk) return;
    this.where.delete(id);
    this.listed -= 1;
    chunk.count -= 1;
    this.items.splice(this.items.findIndex((item) => item.id === id), 1);
    chunk.items.splice(chunk.items.findIndex((item) => item.id === id), 1);
    const tile = chunk.filled && chunk.node.querySelector(`li[data-id="${CSS.escape(id)}"]`);
    if (tile) {
      tile.remove();
      this.live -= 1;
    }
    if (chunk.items.length) return;
    const { section } = chunk;
    this.observer.unobserve(chunk.node);
    chunk.node.remove();
    section.chunks.splice(section.chunks.indexOf(chunk), 1);
    if (!section.chunks.length) {
      section.node.remove();
      this.sections.splice(this.sections.indexOf(section), 1);
    }
  }

  /** The tile of `id`, its chunk refilled first if it had given its tiles back. */
  tileFor(id) {
    const chunk = this.where.get(id);
    if (!chunk) return null;
    if (!chunk.filled) this.fill(chunk);
    return chunk.node.querySelector(`li[data-id="${CSS.escape(id)}"]`);
  }

  /** The first item whose chunk reaches below `top` px of the viewport: where the reader is. */
  itemAt(top) {
    for (const section of this.sections) {
      const box = section.node.getBoundingClientRect();
      if (box.bottom <= top) continue;
      for (const chunk of section.chunks) {
        const rect = chunk.node.getBoundingClientRect();
        if (rect.bottom <= top) continue;
        if (!chunk.filled) return chunk.items?.[0] ?? chunk.first;
        const tile = [...chunk.node.children].find((li) => li.getBoundingClientRect().bottom > top);
        return tile ? chunk.items.find((item) => item.id === tile.dataset.id) : chunk.items[0];
      }
    }
    return null;
  }

  /** Show the selection's state on the tiles in the DOM (the others get it when refilled). */
  showSelection() {
    this.root.classList.toggle("is-selecting", this.selection.size > 0);
    for (const li of this.root.querySelectorAll("li.tile")) {
      const on = this.selection.has(li.dataset.id);
      li.classList.toggle("is-selected", on);
      li.querySelector(".tile-select").checked = on;
    }
  }

  addSection(key, item, atTop) {
    const heading = el("h2", { className: "day-heading", textContent: dayHeading(new Date(item.taken_at)) });
    const node = el("section", { className: "day", "data-day": key, "aria-label": heading.textContent }, heading);
    const section = { key, node, chunks: [] };
    if (atTop) {
      this.sections.unshift(section);
      this.root.prepend(node);
    } else {
      this.sections.push(section);
      this.root.append(node);
    }
    return section;
  }

  addChunk(section, atTop) {
    const node = el("ul", { className: "day-tiles" });
    // `count` and `first` stay when the items are forgotten (items: null).
    const chunk = { node, items: [], section, filled: true, count: 0, first: null, loading: null };
    node.chunk = chunk;
    if (atTop) {
      section.chunks.unshift(chunk);
      section.node.firstElementChild.after(node); // after the heading
    } else {
      section.chunks.push(chunk);
      section.node.append(node);
    }
    this.observer.observe(node);
    return chunk;
  }

  tile(item) {
    const when = formatTime(item.taken_at);
    const lux = item.lux === null || item.lux === undefined ? "" : `${formatNumber(item.lux)} lx`;
    const selected = this.selection.has(item.id);
    return el("li", { className: `tile${selected ? " is-selected" : ""}`, "data-id": item.id },
      el("button", { type: "button", className: "tile-button", "aria-label": `Open capture from ${item.device}, ${when}` },
        el("img", { src: item.thumbnail_url, alt: `Capture from ${item.device} at ${when}`, loading: "lazy", decoding: "async", width: 320, height: 240 }),
        el("span", { className: "tile-caption" },
          el("time", { datetime: item.taken_at, textContent: formatClock(item.taken_at), title: when }),
          el("span", { className: "tile-device", textContent: item.device }),
          el("span", { className: "tile-lux", textContent: lux }))),
      el("input", { type: "checkbox", className: "tile-select", checked: selected, "aria-label": `Select capture from ${item.device}, ${when}` }));
  }

  fill(chunk) {
    chunk.node.replaceChildren(...chunk.items.map((item) => this.tile(item)));
    chunk.node.style.height = "";
    chunk.filled = true;
    this.live += chunk.items.length;
  }

  empty(chunk) {
    // Its exact height, so the page below and above does not move.
    chunk.node.style.height = `${chunk.node.getBoundingClientRect().height}px`;
    chunk.node.replaceChildren();
    chunk.filled = false;
    this.live -= chunk.items.length;
  }

  onNear(entries) {
    for (const entry of entries) {
      const { chunk } = entry.target;
      if (!entry.isIntersecting || !chunk || chunk.filled) continue;
      if (chunk.items) this.fill(chunk);
      else this.recall(chunk).then(() => !chunk.filled && chunk.items && this.fill(chunk));
    }
    this.trim();
  }

  chunks() {
    return this.sections.flatMap((section) => section.chunks);
  }

  /** The chunks either side of `id`'s get their items back: the viewer steps into them. */
  around(id) {
    return held.around(this, id);
  }

  recall(chunk) {
    return held.recall(this, chunk);
  }

  /** How many items the page holds, on the grid for anyone to read (tests, devtools). */
  showHeld() {
    this.root.dataset.held = String(this.items.length);
  }

  /** Past LIVE_TILES, empty the farthest chunks (never one near the viewport or holding focus). */
  trim() {
    if (this.live > LIVE_TILES) this.emptyFar();
    held.forget(this, 2 * NEAR); // only chunks emptied of their tiles, and farther off
    this.showHeld();
  }

  /** Empty the farthest chunks, down to three quarters of LIVE_TILES. */
  emptyFar() {
    const height = window.innerHeight;
    const far = [];
    for (const section of this.sections) {
      for (const chunk of section.chunks) {
        if (!chunk.filled || chunk.node.contains(document.activeElement)) continue;
        const box = chunk.node.getBoundingClientRect();
        const distance = box.bottom < 0 ? -box.bottom : Math.max(0, box.top - height);
        if (distance > NEAR) far.push([distance, chunk]);
      }
    }
    far.sort((a, b) => b[0] - a[0]);
    // Three quarters, so one more page does not empty a chunk every time.
    for (const [, chunk] of far) {
      if (this.live <= LIVE_TILES * 0.75) break;
      this.empty(chunk);
    }
  }

  /** After a resize the columns change: give the empty chunks the height their rows now take. */
  resizeEmpty() {
    const sample = this.sections.flatMap((s) => s.chunks).find((c) => c.filled && c.node.firstElementChild);
    if (!sample) return;
    const style = getComputedStyle(sample.node);
    const columns = style.gridTemplateColumns.split(" ").length;
    const gap = parseFloat(style.rowGap) || 0;
    const row = sample.node.firstElementChild.getBoundingClientRect().height;
    for (const section of this.sections) {
      for (const chunk of section.chunks) {
        if (chunk.filled) continue;
        const rows = Math.ceil(chunk.count / columns);
        chunk.node.style.height = `${rows * row + (rows - 1) * gap}px`;
      }
    }
  }
}
