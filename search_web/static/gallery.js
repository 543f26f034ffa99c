// The gallery page: filters <-> URL, the grid with infinite scroll, live updates.
import { el, formatNumber, formatShort, formatTime, fromLocalInput, isoWithOffset, toLocalInput, zoneLabel } from "./format.js";
import { deviceCounts, histogram, renderDevices, renderTimeline } from "./facets.js";
import { Lightbox } from "./lightbox.js";
import { initTimelapse } from "./timelapse.js";
import { updateExport } from "./export.js";
import { api, apiParams, emptyState, hasFilters, readState, stateQuery, timelineParams } from "./state.js";

const $ = (id) => document.getElementById(id);
const PAGE_SIZE = Number(document.body.dataset.pageSize) || 48;
const RETRY_MS = 5000;
const NEAR_BOTTOM = "800px"; // start fetching the next page this far before the end shows
const form = $("filters");

// Everything the grid shows; `generation` discards replies for filters no longer current.
// `counted` is how many matches the view accounts for (shown, waiting in the banner, or still
// to be paged), so live updates can tell captures that arrived with an earlier time.
const view = { items: [], ids: new Set(), cursor: null, done: false, total: 0, counted: null, late: 0, loading: null, generation: 0, pending: [], params: new URLSearchParams() };
let state = readState();
let retryTimer = null;

const lightbox = new Lightbox({
  get items() { return view.items; },
  get total() { return view.total; },
  get done() { return view.done; },
  loadMore: () => loadPage(view.generation),
}, { deleteEnabled: document.body.dataset.deleteEnabled === "true", onDeleted: removeItem });

/* Filters <-> form <-> URL */

function fillForm() {
  for (const name of ["lux_min", "lux_max", "exposure_min", "exposure_max", "time_from", "time_to"]) form.elements[name].value = state[name];
  showTimeOfDay();
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
}

/** The time-of-day window as an active filter ("Every day 12:00–12:15"), with a button clearing it. */
function showTimeOfDay() {
  const { time_from: start, time_to: end } = state;
  const text = start && end ? `${start}–${end}` : start ? `from ${start}` : end ? `until ${end}` : "";
  $("time-of-day").replaceChildren(...(text ? [el("span", { className: "tag is-link is-light", "data-active": "time-of-day" },
    `Every day ${text}`,
    el("button", { type: "button", className: "delete is-small", "aria-label": "Clear the time of day",
      onclick: () => apply({ ...state, time_from: "", time_to: "" }) }))] : []));
}

function formState() {
  const next = { ...state };
  for (const name of ["lux_min", "lux_max", "exposure_min", "exposure_max", "time_from", "time_to"]) next[name] = form.elements[name].value.trim();
  next.sort = form.elements.sort.value === "oldest" ? "oldest" : "";
  next.trigger = [...form.querySelectorAll('input[name="trigger"]:checked')].map((b) => b.value);
  return next;
}

/** Make `next` the current filters: new history entry, fresh grid. */
function apply(next) {
  state = next;
  history.pushState(null, "", `${location.pathname}${stateQuery(state).toString() ? "?" : ""}${stateQuery(state)}`);
  fillForm();
  reload();
}

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
$("clear-filters").addEventListener("click", () => apply({ ...emptyState(), sort: state.sort }));
window.addEventListener("popstate", () => {
  state = readState();
  lightbox.close();
  fillForm();
  reload();
});

/* Grid */

function tile(item) {
  const when = formatTime(item.taken_at);
  const button = el("button", { type: "button", className: "tile-button", "aria-label": `Open capture from ${item.device}, ${when}` },
    el("img", { src: item.thumbnail_url, alt: `Capture from ${item.device} at ${when}`, loading: "lazy", decoding: "async", width: 320, height: 240 }),
    el("span", { className: "tile-caption" },
      el("time", { datetime: item.taken_at, textContent: formatShort(item.taken_at), title: when }),
      el("span", { className: "tile-device", textContent: item.device }),
      el("span", { className: "tile-lux", textContent: item.lux === null || item.lux === undefined ? "" : `${formatNumber(item.lux)} lx` })));
  button.addEventListener("click", () => lightbox.open(item.id, button));
  return el("li", { className: "tile", "data-id": item.id }, button);
}

function add(items, { atTop = false } = {}) {
  const fresh = items.filter((item) => !view.ids.has(item.id));
  for (const item of fresh) view.ids.add(item.id);
  if (atTop) {
    view.items.unshift(...fresh);
    $("grid").prepend(...fresh.map(tile));
  } else {
    view.items.push(...fresh);
    $("grid").append(...fresh.map(tile));
  }
}

function removeItem(id) {
  view.items = view.items.filter((item) => item.id !== id);
  view.ids.delete(id);
  $("grid").querySelector(`li[data-id="${CSS.escape(id)}"]`)?.remove();
  setTotal(view.total - 1);
  view.counted -= 1;
  if (!view.items.length) showEmpty();
}

function setTotal(total) {
  view.total = Math.max(0, total);
  $("total").textContent = formatNumber(view.total);
  $("total-label").textContent = view.total === 1 ? "capture" : "captures";
  updateExport($("export"), view.params, view.total); // the grid's own parameters
}

function setMore() {
  const more = $("more");
  more.classList.toggle("is-loading-more", Boolean(view.loading));
  if (view.loading) more.textContent = "Loading more captures…";
  else if (view.done && view.items.length) more.textContent = `End of results — all ${formatNumber(view.items.length)} shown.`;
  else more.textContent = "";
}

/** Show a message in the status area, with an optional action button. */
function showStatus(name, kind, title, text, action) {
  const box = el("div", { className: `notification ${kind}`, "data-state": name },
    el("p", { className: "has-text-weight-bold", textContent: title }),
    el("p", { textContent: text }));
  if (action) box.append(el("button", { type: "button", className: "button is-small mt-3", textContent: action.label, onclick: action.run }));
  $("status").replaceChildren(box);
}

function showEmpty() {
  const action = hasFilters(state) ? { label: "Clear filters", run: () => apply({ ...emptyState(), sort: state.sort }) } : null;
  showStatus("empty", "is-info is-light", "No captures match", hasFilters(state)
    ? "Nothing was captured that matches these filters." : "Nothing has been captured yet. New captures appear here as they arrive.", action);
}

function showError(err) {
  clearTimeout(retryTimer);
  if (err.status === 503) {
    showStatus("redis-down", "is-warning", "The database is not reachable", `${err.message} The gallery tries again every ${RETRY_MS / 1000} seconds.`);
    retryTimer = setTimeout(reload, RETRY_MS);
  } else if (err.status === 400) {
    showStatus("bad-filter", "is-danger is-light", "These filters cannot be used", err.message, { label: "Clear filters", run: () => apply(emptyState()) });
  } else if (err.status === 0) {
    showStatus("offline", "is-danger", "The gallery server cannot be reached", "Check that pigallery serve is running.", { label: "Try again", run: reload });
  } else {
    showStatus("api-error", "is-danger", `The API answered with an error (${err.status})`, err.message, { label: "Try again", run: reload });
  }
}

/** Fetch the next page for filter generation `generation` (one fetch at a time). */
function loadPage(generation) {
  if (view.loading || view.done || generation !== view.generation) return view.loading || Promise.resolve();
  // The filters this generation started with: a quick range's `from` is "now minus 7 days",
  // and the API refuses a cursor sent with filters other than those it was issued for.
  const params = new URLSearchParams(view.params);
  params.set("limit", PAGE_SIZE);
  if (view.cursor) params.set("cursor", view.cursor);
  view.loading = api(`/api/captures?${params}`).then((reply) => {
    if (generation !== view.generation) return;
    $("status").replaceChildren();
    setTotal(reply.total);
    if (view.counted === null) view.counted = reply.total;
    add(reply.items);
    view.cursor = reply.next_cursor;
    view.done = !reply.next_cursor;
    if (!view.items.length) showEmpty();
  }).catch((err) => {
    // A reply for filters no longer shown says nothing about the current view.
    if (generation !== view.generation) return;
    showError(err);
    view.done = true;
  }).finally(() => {
    if (generation !== view.generation) return;
    view.loading = null;
    setMore();
    // The observer only reports changes: if the end is still in reach, keep going.
    if (!view.done && nearBottom()) loadPage(generation);
  });
  setMore();
  return view.loading;
}

function nearBottom() {
  return $("sentinel").getBoundingClientRect().top < window.innerHeight + parseInt(NEAR_BOTTOM, 10);
}

function loadFacets(generation) {
  // Chips count each device under the other filters, so unselected devices keep their counts;
  // with no device selected those are the timeline's own filters, and one request serves both.
  const timelineReply = api(`/api/facets?${timelineParams(state)}`);
  const chipsReply = state.device.length ? api(`/api/facets?${apiParams(state, { without: "device" })}`) : timelineReply;
  const timelineParts = { bars: $("timeline"), start: $("timeline-start"), end: $("timeline-end"), bucket: $("timeline-bucket") };
  // Each is drawn as soon as its own reply comes: the chips never wait on, or fail with, the timeline.
  chipsReply.then((chips) => {
    if (generation === view.generation) renderDevices($("devices"), deviceCounts(chips), state.device, toggleDevice);
  }).catch(() => {}); // the grid reports the error; the chips just stay as they were
  return timelineReply.then((timeline) => {
    if (generation === view.generation) renderTimeline(timelineParts, histogram(timeline), pickBucket);
  }).catch((err) => {
    if (generation !== view.generation) return;
    // Bars of earlier filters would pass for these ones': clear them and say why.
    renderTimeline(timelineParts, { bucket: "", bars: [] }, pickBucket);
    timelineParts.bucket.textContent = `no timeline: ${err.message}`;
  });
}

function toggleDevice(name) {
  const device = state.device.includes(name) ? state.device.filter((d) => d !== name) : [...state.device, name];
  apply({ ...state, device });
}

// Captures are taken from 0001-01-01 to 9999-12-31 UTC; a bar in the viewer's zone may reach past either.
const FIRST_INSTANT = Date.parse("0001-01-01T00:00:00Z");
const LAST_INSTANT = Date.parse("9999-12-31T23:59:59.999Z");

/** A bar's edge for the URL: with the viewer's offset, or in UTC where that form would not be ISO 8601. */
function barEdge(date) {
  const when = new Date(Math.min(Math.max(date.getTime(), FIRST_INSTANT), LAST_INSTANT));
  // isoWithOffset writes neither years before 1000 with four digits nor a local mean time's
  // offset, which has seconds (New York's -04:56:02 until 1883).
  const plain = when.getFullYear() >= 1000 && when.getFullYear() <= 9999 && Number.isInteger(when.getTimezoneOffset());
  return plain ? isoWithOffset(when) : when.toISOString();
}

function pickBucket(start, end) {
  // `to` is inclusive in the API, so stop just before the next bucket starts.
  apply({ ...state, range: "", from: barEdge(start), to: barEdge(new Date(end.getTime() - 1)) });
}

function reload() {
  clearTimeout(retryTimer);
  view.generation += 1;
  Object.assign(view, { items: [], ids: new Set(), cursor: null, done: false, counted: null, late: 0, loading: null, pending: [],
    params: apiParams(state) });
  updateExport($("export"), view.params, null); // disabled until the first page gives the total
  $("grid").replaceChildren();
  $("new-banner").hidden = true;
  loadFacets(view.generation);
  return loadPage(view.generation);
}

/* Live updates: the event says something arrived; the API says whether it matches. */

let liveTimer = null;

function connectLive(reconnected = false) {
  const source = new EventSource("/api/events");
  const live = $("live");
  const onCapture = () => { clearTimeout(liveTimer); liveTimer = setTimeout(refreshLive, 300); };
  source.onopen = () => {
    live.textContent = "live";
    live.className = "tag is-success is-light";
    if (reconnected) onCapture(); // catch up on what arrived while the stream was down
    reconnected = true;
  };
  source.onerror = () => {
    live.textContent = "reconnecting…";
    live.className = "tag is-warning is-light";
    // EventSource retries a dropped stream itself, but gives up for good on an error
    // reply (503 while Redis is down): then start a new one a little later.
    if (source.readyState === EventSource.CLOSED) setTimeout(() => connectLive(true), RETRY_MS);
  };
  source.onmessage = onCapture;
  source.addEventListener("capture", onCapture);
}

async function refreshLive() {
  const generation = view.generation;
  if (view.loading) await view.loading;
  const params = apiParams(state);
  params.set("limit", PAGE_SIZE);
  let reply;
  try {
    reply = await api(`/api/captures?${params}`);
  } catch (err) {
    return; // the next event or reload tries again
  }
  if (generation !== view.generation || view.counted === null) return;
  setTotal(reply.total);
  if (state.sort === "oldest") {
    // New captures belong at the end, past the last cursor: offer a reload once the end is shown.
    const missing = reply.total - view.items.length;
    if (view.done && missing > 0) showBanner(`${formatNumber(missing)} new capture${missing === 1 ? "" : "s"} at the end — reload`);
    return;
  }
  // Times are compared as instants: "…:00.5Z" sorts before "…:00Z" as text.
  const newest = view.items.length ? Date.parse(view.items[0].taken_at) : -Infinity;
  const known = new Set([...view.ids, ...view.pending.map((i) => i.id)]);
  const fresh = reply.items.filter((i) => !known.has(i.id) && Date.parse(i.taken_at) >= newest);
  // The rest of what arrived is older than the top tile (a Pi sending its backlog late): it
  // belongs somewhere inside the grid, so the banner offers it as a reload rather than on top.
  view.counted += fresh.length;
  view.late = Math.max(0, reply.total - view.counted);
  view.counted = Math.min(view.counted, reply.total); // deleted elsewhere: count from what is left
  if (fresh.length && !view.late && window.scrollY < 100 && !lightbox.isOpen) {
    $("status").replaceChildren();
    add(fresh, { atTop: true });
  } else if (fresh.length || view.late) {
    view.pending = fresh.concat(view.pending);
    const count = view.pending.length + view.late;
    showBanner(`${formatNumber(count)} new capture${count === 1 ? "" : "s"} — show`);
  }
  if (fresh.length) loadFacets(generation);
}

function showBanner(text) {
  $("new-banner").textContent = text;
  $("new-banner").hidden = false;
}

$("new-banner").addEventListener("click", () => {
  if (!view.pending.length || view.late) {
    reload(); // late arrivals go between tiles already shown: a fresh grid puts each in its place
    return;
  }
  add(view.pending, { atTop: true });
  view.pending = [];
  $("new-banner").hidden = true;
  window.scrollTo({ top: 0, behavior: "instant" });
  $("grid").focus({ preventScroll: true });
});

/* Start */

$("zone").textContent = zoneLabel();
// On a phone the filters fold away so the first screen shows captures.
if (window.matchMedia("(max-width: 768px)").matches) $("filters-details").open = false;
fillForm();
history.replaceState(null, "", location.href);
new IntersectionObserver((entries) => {
  if (entries.some((e) => e.isIntersecting)) loadPage(view.generation);
}, { rootMargin: `0px 0px ${NEAR_BOTTOM} 0px` }).observe($("sentinel"));
reload();
connectLive();
initTimelapse(() => view.params); // a time-lapse of what the grid shows
