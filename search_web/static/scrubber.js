// The timeline scrubber beside the grid: a rail from the newest capture to the oldest (or the
// other way for "oldest first"), proportional to time, labelled with years or months, its
// density drawn from the timeline's own /api/facets histogram (no request of its own).
// Clicking, dragging or keys choose an instant; `onJump(date)` lists from there with one query.
import { el, formatNumber } from "./format.js";
import { nextStart } from "./facets.js";

const $ = (id) => document.getElementById(id);
const LABEL_GAP = 22; // px a label is given on average when choosing months or years
const LABEL_PX = 16; // px a drawn label needs (about 14 high at .68rem): closer ones are dropped
const RAIL_TOP_MAX = 0.4; // of the window's height: a tall page head leaves the rail this much at least
const KEY_WAIT_MS = 500; // keys move the mark; the jump waits until they rest this long
const YEAR = new Intl.DateTimeFormat(undefined, { year: "numeric" });
const MONTH = new Intl.DateTimeFormat(undefined, { month: "short" });
const DAY = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
const TIP = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "long", year: "numeric" });

/** The start of the local calendar year, month or day holding `ms`. */
function floorTo(ms, unit) {
  const t = new Date(ms);
  t.setHours(0, 0, 0, 0);
  if (unit !== "day") t.setDate(1);
  if (unit === "year") t.setMonth(0);
  return t;
}

/** Period starts (local calendar) after `lo` up to `hi`: each 1 January, 1st of the month, or midnight. */
function periodStarts(lo, hi, unit, most) {
  const t = floorTo(lo, unit);
  const out = [];
  while (out.length <= most) {
    if (unit === "year") t.setFullYear(t.getFullYear() + 1);
    else if (unit === "month") t.setMonth(t.getMonth() + 1);
    else t.setDate(t.getDate() + 1);
    if (t.getTime() >= hi) break;
    out.push(new Date(t));
  }
  return out;
}

export class Scrubber {
  constructor({ onJump }) {
    this.onJump = onJump;
    this.box = $("scrubber");
    this.rail = $("scrubber-rail");
    this.range = null; // {lo, hi} in ms
    this.newestFirst = true;
    this.pending = null;
    this.keyTimer = null;
    this.rail.addEventListener("pointerdown", (event) => {
      if (!this.range || event.button > 0) return;
      this.rail.setPointerCapture(event.pointerId);
      this.dragging = true;
      this.mark(this.timeAtY(event.clientY));
    });
    this.rail.addEventListener("pointermove", (event) => {
      if (this.range) this.mark(this.timeAtY(event.clientY));
    });
    this.rail.addEventListener("pointerleave", () => {
      if (!this.dragging) $("scrubber-hover").hidden = true;
    });
    this.rail.addEventListener("pointerup", (event) => {
      if (!this.dragging) return;
      this.dragging = false;
      $("scrubber-hover").hidden = true;
      this.onJump(this.timeAtY(event.clientY));
    });
    this.rail.addEventListener("keydown", (event) => this.onKey(event));
    window.addEventListener("resize", () => {
      this.place();
      this.draw();
    });
  }

  /**
   * Stick the rail where it stands with the page at its top: scrolled, it stays at that height of
   * the window instead of rising to the top, so a jump from the top of the page (which scrolls to
   * the grid) leaves it where it was under the pointer. Measured when drawn for new filters and on
   * resize, never during a jump.
   */
  place() {
    if (this.dragging) return;
    const wrap = this.box.parentElement;
    const top = wrap.getBoundingClientRect().top + window.scrollY;
    const most = RAIL_TOP_MAX * window.innerHeight;
    this.box.style.setProperty("--rail-top", `${Math.round(Math.max(8, Math.min(top, most)))}px`);
  }

  /** Draw for a histogram ({bucket, bars}) in display order newest-first or not. */
  set(hist, newestFirst) {
    this.hist = hist;
    this.newestFirst = newestFirst;
    const bars = hist.bars;
    this.range = bars.length ? { lo: bars[0].start.getTime(), hi: nextStart(bars[bars.length - 1].start, hist.bucket).getTime() } : null;
    this.box.hidden = !this.range;
    if (this.range) this.place();
    this.draw();
    // Where the reader was, else (a new view) the start of the listing.
    if (this.range) this.showAt(this.at ?? new Date(this.newestFirst ? this.range.hi : this.range.lo));
  }

  clear() {
    this.range = null;
    this.at = null;
    this.hist = null;
    this.draw();
  }

  /** 0 at the rail's top, 1 at its bottom. */
  fraction(ms) {
    const { lo, hi } = this.range;
    const f = (ms - lo) / (hi - lo);
    return Math.min(1, Math.max(0, this.newestFirst ? 1 - f : f));
  }

  timeAtY(y) {
    const box = this.rail.getBoundingClientRect();
    const f = Math.min(1, Math.max(0, (y - box.top) / box.height));
    const { lo, hi } = this.range;
    return new Date(Math.round(lo + (this.newestFirst ? 1 - f : f) * (hi - lo)));
  }

  draw() {
    this.box.hidden = !this.range;
    if (!this.range) return;
    const { lo, hi } = this.range;
    this.rail.dataset.lo = new Date(lo).toISOString();
    this.rail.dataset.hi = new Date(hi).toISOString();
    this.rail.setAttribute("aria-valuemin", String(lo));
    this.rail.setAttribute("aria-valuemax", String(hi));
    const height = this.rail.clientHeight || 400;
    // A phone's narrow rail has room for a year, hardly a month's name: labels twice as far apart.
    const gap = this.rail.clientWidth < 48 ? 2 * LABEL_GAP : LABEL_GAP;
    const most = Math.max(2, Math.floor(height / gap));
    // Months (each January by its year) where they fit, else years thinned to fit; days for a
    // span under two months.
    let unit = "month";
    let starts = periodStarts(lo, hi, "month", most);
    if (starts.length > most) [unit, starts] = ["year", periodStarts(lo, hi, "year", 10_000)];
    else if (starts.length < 2) [unit, starts] = ["day", periodStarts(lo, hi, "day", 10_000)];
    const every = Math.max(1, Math.ceil(starts.length / most));
    const name = (date) => (unit === "year" ? YEAR.format(date) : unit === "day" ? DAY.format(date)
      : date.getMonth() === 0 ? YEAR.format(date) : MONTH.format(date));
    const major = (date) => unit === "year" || (unit === "month" && date.getMonth() === 0);
    // Each period is labelled where it begins in reading order: newest first that is its end (the
    // top of its stretch), so clicking a year's label lands on that year's newest captures.
    const periods = [floorTo(lo, unit), ...starts];
    const placed = periods.map((start, i) => [start, periods[i + 1]?.getTime() ?? hi]).filter((_, i) => i % every === 0)
      .map(([start, end]) => ({ start, at: this.fraction(this.newestFirst ? Math.min(end, hi) : Math.max(start.getTime(), lo)) }));
    // A period cut short at an end of the range (a month a few days old) would sit on its
    // neighbour's label: years first, then the rest in order, each only where it has room.
    const kept = [];
    for (const label of [...placed.filter((p) => major(p.start)), ...placed.filter((p) => !major(p.start))]) {
      if (kept.every((other) => Math.abs(other.at - label.at) * height >= LABEL_PX)) kept.push(label);
    }
    kept.sort((a, b) => a.at - b.at);
    $("scrubber-labels").replaceChildren(...kept.map(({ start, at }) => {
      const label = el("span", { className: `scrubber-label${major(start) ? " is-major" : ""}`, textContent: name(start) });
      label.style.top = `${100 * at}%`;
      return label;
    }));
    const max = Math.max(1, ...this.hist.bars.map((b) => b.count));
    $("scrubber-density").replaceChildren(...this.hist.bars.filter((b) => b.count).map((bar) => {
      const a = this.fraction(bar.start.getTime());
      const b = this.fraction(nextStart(bar.start, this.hist.bucket).getTime());
      const mark = el("span", { className: "scrubber-bar", title: `${formatNumber(bar.count)} captures` });
      mark.style.top = `${100 * Math.min(a, b)}%`;
      mark.style.height = `max(1px, ${100 * Math.abs(b - a)}%)`;
      mark.style.width = `${Math.max(8, (100 * bar.count) / max)}%`;
      return mark;
    }));
  }

  /** Where the reader is: the thumb at the first capture on screen. */
  showAt(date) {
    if (!this.range || !date) return;
    this.at = date;
    $("scrubber-thumb").style.top = `${100 * this.fraction(date.getTime())}%`;
    this.rail.setAttribute("aria-valuenow", String(date.getTime()));
    this.rail.setAttribute("aria-valuetext", TIP.format(date));
  }

  /** The hover / drag mark with its date. */
  mark(date) {
    const hover = $("scrubber-hover");
    hover.hidden = false;
    hover.style.top = `${100 * this.fraction(date.getTime())}%`;
    hover.textContent = TIP.format(date);
  }

  onKey(event) {
    if (!this.range) return;
    const steps = { ArrowDown: ["month", 1], ArrowUp: ["month", -1], PageDown: ["year", 1], PageUp: ["year", -1] };
    const now = Number(this.rail.getAttribute("aria-valuenow")) || (this.newestFirst ? this.range.hi : this.range.lo);
    let next;
    if (event.key === "Home") next = this.newestFirst ? this.range.hi : this.range.lo;
    else if (event.key === "End") next = this.newestFirst ? this.range.lo : this.range.hi;
    else if (steps[event.key]) {
      const [unit, down] = steps[event.key];
      const date = new Date(this.pending ?? now);
      // Down the rail is back in time when newest come first.
      const sign = this.newestFirst ? -down : down;
      if (unit === "year") date.setFullYear(date.getFullYear() + sign);
      else date.setMonth(date.getMonth() + sign);
      next = Math.min(this.range.hi, Math.max(this.range.lo, date.getTime()));
    } else {
      return;
    }
    event.preventDefault();
    this.pending = next;
    this.mark(new Date(next));
    this.showAt(new Date(next));
    clearTimeout(this.keyTimer);
    this.keyTimer = setTimeout(() => {
      $("scrubber-hover").hidden = true;
      const at = new Date(this.pending);
      this.pending = null;
      this.onJump(at);
    }, KEY_WAIT_MS);
  }
}
