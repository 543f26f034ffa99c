// The gallery page: filters <-> URL, the grid with infinite scroll both ways, the scrubber,
// selection, live updates. The pieces live in their own modules; this one wires them.
import { clampInstant, formatNumber, fromLocalInput, isoWithOffset, toLocalInput, zoneLabel } from "./format.js";
import { deviceCounts, histogram, renderDevices, renderTimeline } from "./facets.js";
import { Grid } from "./grid.js";
import { Lightbox } from "./lightbox.js";
import { Listing } from "./listing.js";
import { Scrubber } from "./scrubber.js";
import { Selection } from "./selection.js";
import { renderChips } from "./chips.js";
import { clearStatus, showEmpty, showError } from "./status.js";
import { initTimelapse } from "./timelapse.js";
import { updateExport } from "./export.js";
import { api, isAbort } from "./http.js";
import { apiParams, emptyState, readState, stateQuery, timelineParams } from "./state.js";
import { connectLive } from "./live.js";
import { initSheet } from "./sheet.js";
import { wirePicking } from "./picking.js";

const $ = (id) => document.getElementById(id);
const PAGE_SIZE = Number(document.body.dataset.pageSize) || 48;
const NEAR_PX = 800; // start fetching the next page this far before the end shows
const form = $("filters");

let state = readState();
let retryTimer = null;
let facetsController = null;
// The grid's listing and what the page counts of it. `counted` is how many matches the view
// accounts for (shown, waiting in the banner, or still to be paged), so live updates can tell
// captures that arrived with an earlier time; `late` are those.
const view = { listing: null, total: 0, counted: null, late: 0, pending: [], params: new URLSearchParams(), landing: false };

const selection = new Selection({
  items: () => grid.items, onChange: () => grid.showSelection(), onDeleted: removeItem, maxIds: Number(document.body.dataset.maxIds) || 200,
});
const grid = new Grid($("grid"), selection, {
  // A forgotten chunk's captures again: the listing's own filters from its first capture's time.
  load: (first, count) => {
    const params = new URLSearchParams(view.params);
    params.set("start", first.taken_at);
    params.set("limit", count);
    return api(`/api/captures?${params}`, { signal: view.listing.controller.signal });
  },
  pinned: () => lightbox.currentId,
});
const lightbox = new Lightbox({
  get items() { return grid.items; },
  get total() { return view.total; },
  get done() { return view.listing.done; },
  get newerDone() { return view.listing.up.done; },
  around: (id) => grid.around(id),
  loadMore: () => view.listing.more(),
  loadNewer,
}, { deleteEnabled: document.body.dataset.deleteEnabled === "true", onDeleted: removeItem, tileFor: (id) => grid.tileFor(id) });
const scrubber = new Scrubber({ onJump: jump });
initSheet();

/* Filters <-> form <-> URL */

function fillForm() {
  for (const name of ["lux_min", "lux_max", "exposure_min", "exposure_max", "time_from", "time_to", "has_gps"]) form.elements[name].value = state[name];
  form.elements.sort.value = state.sort || "newest";
  for (const box of form.querySelectorAll('input[name="trigger"]')) box.checked = state.trigger.includes(box.value);
  for (const name of ["from", "to"]) {
    const date = state[name] ? new Date(state[name]) : null;
    form.elements[name].value = date && !Number.isNaN(date.getTime()) ? toLocalInput(date) : "";
  }
  for (const button of $("quick-ranges").querySelectorAll("button")) {
    const on = button.dataset.range === state.range && (state.range || !state.from && !state.to);
    button.classList.toggle("is-link", Boolean(on));
    button.setAttribute("aria-pressed", on ? "true" : "false");
  }
  $("grid").setAttribute("aria-label", state.sort === "oldest" ? "Captures, oldest first" : "Captures, newest first");
  const chips = renderChips($("active-filters"), state, apply, clearFilters);
  $("filters-count").hidden = !chips.length;
  $("filters-count").textContent = String(chips.length);
}

function formState() {
  const next = { ...state };
  for (const name of ["lux_min", "lux_max", "exposure_min", "exposure_max", "time_from", "time_to", "has_gps"]) next[name] = form.elements[name].value.trim();
  next.sort = form.elements.sort.value === "oldest" ? "oldest" : "";
  next.trigger = [...form.querySelectorAll('input[name="trigger"]:checked')].map((b) => b.value);
  return next;
}

/** A new history entry for the current state (filters, and where a jump began). */
function pushState() {
  const query = stateQuery(state).toString();
  history.pushState(null, "", `${location.pathname}${query ? "?" : ""}${query}`);
}

/** Make `next` the current filters: new history entry, fresh grid from the top. */
function apply(next) {
  state = { ...next, at: "" };
  pushState();
  fillForm();
  reload();
}

const clearFilters = () => apply({ ...emptyState(), sort: state.sort });

form.addEventListener("change", (event) => {
  const name = event.target.name;
  if (name === "from" || name === "to") {
    const date = fromLocalInput(event.target.value);
    // The entered time is the viewer's local time; the URL and API get it with the offset.
    apply({ ...state, range: "", [name]: date ? isoWithOffset(date) : "" });
  } else {
    apply(formState());
  }
});
form.addEventListener("submit", (event) => event.preventDefault());
$("quick-ranges").addEventListener("click", (event) => {
  const button = event.target.closest("button[data-range]");
  if (button) apply({ ...state, range: button.dataset.range, from: "", to: "" });
});
$("clear-filters").addEventListener("click", clearFilters);
window.addEventListener("popstate", () => {
  state = readState();
  lightbox.close();
  fillForm();
  reload();
});

/* Grid: tiles open the viewer; checkbox, shift-click and long press select */

wirePicking($("grid"), { selection, open: (id, button) => lightbox.open(id, button) });

function removeItem(id) {
  grid.remove(id);
  selection.drop(id);
  setTotal(view.total - 1);
  view.counted -= 1;
  if (!grid.count) showEmpty(state, clearFilters);
}

function setTotal(total) {
  view.total = Math.max(0, total);
  $("total").textContent = formatNumber(view.total);
  $("total-label").textContent = view.total === 1 ? "capture" : "captures";
  updateExport($("export"), view.params, view.total); // the grid's own parameters
}

function setMore() {
  const { listing } = view;
  const more = $("more");
  more.classList.toggle("is-loading-more", Boolean(listing.loading));
  if (listing.loading) more.textContent = "Loading more captures…";
  else if (listing.done && grid.count) {
    more.textContent = listing.up.done ? `End of results — all ${formatNumber(grid.count)} shown.` : "End of results.";
  } else more.textContent = "";
  const newer = $("newer");
  newer.hidden = listing.up.done || !grid.count;
  newer.textContent = listing.up.loading ? "Loading newer captures…" : `Show ${state.sort === "oldest" ? "older" : "newer"} captures`;
}

function onError(err) {
  clearTimeout(retryTimer);
  updateExport($("export"), view.params, null);
  retryTimer = showError(err, { retry: reload, clearAll: () => apply(emptyState()) });
  setMore();
}

function onPage(reply, { newer }) {
  clearStatus();
  setTotal(reply.total); // `total` counts every match, wherever the listing started
  if (view.counted === null) view.counted = reply.total;
  if (newer) {
    // Newer captures go above: keep the tile the reader looks at where it is.
    const anchor = grid.itemAt(0);
    const tile = anchor && grid.tileFor(anchor.id);
    const before = tile?.getBoundingClientRect().top;
    grid.prepend([...reply.items].reverse());
    if (tile) window.scrollBy(0, tile.getBoundingClientRect().top - before);
  } else {
    grid.append(reply.items);
  }
  if (!grid.count) showEmpty(state, clearFilters);
  setMore(); // first: it shows the "newer" button above the grid, which moves the grid down
  if (view.landing) {
    view.landing = false;
    const top = $("grid").getBoundingClientRect().top + window.scrollY;
    window.scrollTo({ top: top - 4, behavior: "instant" });
    lastY = window.scrollY; // a jump's own scroll is no reader scrolling up for newer captures
  }
  // The observer only reports changes: if the end is still in reach, keep going.
  if (!newer && !view.listing.done && nearBottom()) loadMore();
}

const loadMore = () => {
  const loading = view.listing.more();
  setMore();
  return loading;
};

/** The page above the first tile (after a jump); settles when it is shown, or at once if none. */
function loadNewer() {
  if (view.listing.up.done || !grid.count) return Promise.resolve();
  const loading = view.listing.newer();
  setMore();
  return loading;
}

function nearBottom() {
  return $("sentinel").getBoundingClientRect().top < window.innerHeight + NEAR_PX;
}

/** A fresh listing of the current filters: from the top, or from `start` (a Date) after a jump. */
function list(start = null) {
  clearTimeout(retryTimer);
  view.listing?.abort();
  Object.assign(view, { counted: null, late: 0, pending: [], params: apiParams(state), landing: Boolean(start) });
  view.listing = new Listing({ params: view.params, start, pageSize: PAGE_SIZE, onPage, onError });
  grid.clear();
  selection.clear();
  $("new-banner").hidden = true;
  return loadMore();
}

function reload() {
  updateExport($("export"), apiParams(state), null); // disabled until the first page gives the total
  // New filters start at the top; a jump in the URL (reloaded, shared, back) where it began.
  const at = state.at ? new Date(state.at) : null;
  scrubber.at = at;
  loadFacets();
  return list(at);
}

/**
 * The scrubber chose an instant: list from there, with one request, the filters unchanged. The
 * instant goes into the URL, so a reload, a shared link or back/forward lands there again.
 */
function jump(date) {
  lightbox.close();
  state = { ...state, at: clampInstant(date).toISOString() };
  pushState();
  scrubber.showAt(date);
  list(date);
}

function loadFacets() {
  facetsController?.abort();
  facetsController = new AbortController();
  const { signal } = facetsController;
  // Chips count each device under the other filters, so unselected devices keep their counts;
  // with no device selected those are the timeline's own filters, and one request serves both.
  const timelineReply = api(`/api/facets?${timelineParams(state)}`, { signal });
  const chipsReply = state.device.length ? api(`/api/facets?${apiParams(state, { without: "device" })}`, { signal }) : timelineReply;
  const timelineParts = { bars: $("timeline"), start: $("timeline-start"), end: $("timeline-end"), bucket: $("timeline-bucket") };
  // Each is drawn as soon as its own reply comes: the chips never wait on, or fail with, the timeline.
  chipsReply.then((chips) => {
    if (!signal.aborted) renderDevices($("devices"), deviceCounts(chips), state.device, toggleDevice);
  }).catch(() => {}); // the grid reports the error; the chips just stay as they were
  return timelineReply.then((timeline) => {
    if (signal.aborted) return;
    const hist = histogram(timeline);
    renderTimeline(timelineParts, hist, pickBucket);
    $("timeline").parentElement.classList.toggle("is-empty", !hist.bars.length);
    scrubber.set(hist, state.sort !== "oldest");
  }).catch((err) => {
    if (isAbort(err) || signal.aborted) return;
    // Bars of earlier filters would pass for these ones': clear them and say why.
    renderTimeline(timelineParts, { bucket: "", bars: [] }, pickBucket);
    $("timeline").parentElement.classList.add("is-empty");
    scrubber.clear();
    timelineParts.bucket.textContent = `no timeline: ${err.message}`;
  });
}

function toggleDevice(name) {
  const device = state.device.includes(name) ? state.device.filter((d) => d !== name) : [...state.device, name];
  apply({ ...state, device });
}

/** A bar's edge for the URL: with the viewer's offset, or in UTC where that form would not be ISO 8601. */
function barEdge(date) {
  const when = clampInstant(date);
  // isoWithOffset writes neither years before 1000 with four digits nor a local mean time's
  // offset, which has seconds (New York's -04:56:02 until 1883).
  const plain = when.getFullYear() >= 1000 && when.getFullYear() <= 9999 && Number.isInteger(when.getTimezoneOffset());
  return plain ? isoWithOffset(when) : when.toISOString();
}

function pickBucket(start, end) {
  // `to` is inclusive in the API, so stop just before the next bucket starts.
  apply({ ...state, range: "", from: barEdge(start), to: barEdge(new Date(end.getTime() - 1)) });
}

/* Scrolling: more below, newer above after a jump, the scrubber's mark where the reader is */

let lastY = window.scrollY;
let frame = 0;
window.addEventListener("scroll", () => {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    const up = window.scrollY < lastY;
    lastY = window.scrollY;
    if (up && $("sentinel-top").getBoundingClientRect().bottom > -NEAR_PX) loadNewer();
    // The sentinel's observer reports changes only: a page appended and the end scrolled to again
    // before its next check is no change to it, so scrolling checks too.
    if (!up && view.listing && !view.listing.done && !view.listing.loading && nearBottom()) loadMore();
    const item = grid.itemAt(48);
    if (item) scrubber.showAt(new Date(item.taken_at));
  });
}, { passive: true });
$("newer").addEventListener("click", loadNewer);

/* Start */

$("zone").textContent = zoneLabel();
fillForm();
history.replaceState(null, "", location.href);
new IntersectionObserver((entries) => {
  if (entries.some((e) => e.isIntersecting) && view.listing && !view.listing.done) loadMore();
}, { rootMargin: `0px 0px ${NEAR_PX}px 0px` }).observe($("sentinel"));
reload();
connectLive({ view, grid, lightbox, pageSize: PAGE_SIZE, state: () => state, setTotal, loadFacets, reload });
initTimelapse(() => view.params); // a time-lapse of what the grid shows
