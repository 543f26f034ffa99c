// Filter state: lives in the URL's query string, so a view can be bookmarked, shared, reloaded
// and walked with back/forward. So does `at`, the instant a scrubber jump listed from: no
// filter, where in the listing the view begins. (Talking to the API is http.js's job.)
import { isoWithOffset, viewerZone } from "./format.js";

const LISTS = ["device", "trigger", "camera_make", "camera_model"];
// time_from/time_to: a time-of-day window ("HH:MM", every day) in the viewer's zone.
const SCALARS = ["from", "to", "range", "lux_min", "lux_max", "exposure_min", "exposure_max", "time_from", "time_to", "has_gps", "sort", "at"];
export const RANGES = { "1h": "last hour", today: "today", "7d": "last 7 days", "30d": "last 30 days" };

/** Read the filters from a query string. */
export function readState(search = window.location.search) {
  const params = new URLSearchParams(search);
  const state = Object.fromEntries(LISTS.map((key) => [key, params.getAll(key)]));
  for (const key of SCALARS) state[key] = params.get(key) || "";
  if (state.range && !(state.range in RANGES)) state.range = "";
  if (state.has_gps && !["true", "false"].includes(state.has_gps)) state.has_gps = "";
  // A hand-edited `at` that is no instant starts the view at the top rather than failing it.
  if (state.at && Number.isNaN(Date.parse(state.at))) state.at = "";
  return state;
}

/** Write the filters (and `at`) as a query string, leaving out what is not set. */
export function stateQuery(state) {
  const params = new URLSearchParams();
  for (const key of SCALARS) if (state[key]) params.set(key, state[key]);
  for (const key of LISTS) for (const value of state[key]) params.append(key, value);
  return params;
}

export const emptyState = () => readState("");

/** Start of a quick range, computed now so a bookmarked "last hour" stays the last hour. */
export function rangeStart(range, now = new Date()) {
  const start = new Date(now);
  if (range === "1h") start.setHours(start.getHours() - 1);
  else if (range === "today") start.setHours(0, 0, 0, 0);
  else if (range === "7d") start.setDate(start.getDate() - 7);
  else if (range === "30d") start.setDate(start.getDate() - 30);
  else return null;
  return start;
}

/** API query parameters for the state; `without` drops one filter (for facet chips). */
export function apiParams(state, { without } = {}) {
  const params = stateQuery(state);
  params.delete("range");
  params.delete("at"); // the listing's starting point (Listing's `start`), not a filter
  if (state.range) {
    params.set("from", isoWithOffset(rangeStart(state.range)));
    params.delete("to");
  }
  if (without) params.delete(without);
  // A time-of-day window is the viewer's wall-clock time: the API reads it in this zone, DST and all.
  if ((state.time_from || state.time_to) && viewerZone) params.set("tz", viewerZone);
  return params;
}

/** Facet parameters for the timeline: bars start at midnight (or the hour) in the viewer's zone. */
export function timelineParams(state) {
  const params = apiParams(state);
  if (viewerZone) params.set("tz", viewerZone);
  return params;
}
