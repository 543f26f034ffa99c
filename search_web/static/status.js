// The status area above the grid: why nothing is shown (no match, naming the filters that are
// on; a filter the API refused; Redis or the server down), each with its way out.
import { activeFilters } from "./chips.js";
import { el } from "./format.js";
import { RETRY_MS, sentence } from "./http.js";

const $ = (id) => document.getElementById(id);

/** Show a message in the status area, with an optional action button. */
export function showStatus(name, kind, title, text, action) {
  const box = el("div", { className: `notification ${kind}`, "data-state": name },
    el("p", { className: "has-text-weight-bold", textContent: title }),
    el("p", { textContent: text }));
  if (action) box.append(el("button", { type: "button", className: "button is-small mt-3", textContent: action.label, onclick: action.run }));
  $("status").replaceChildren(box);
}

export const clearStatus = () => $("status").replaceChildren();

/** Nothing matches `state`: say which filters are on (the phone's sheet may be closed). */
export function showEmpty(state, clearFilters) {
  const on = activeFilters(state).map((chip) => chip.text);
  const action = on.length ? { label: "Clear filters", run: clearFilters } : null;
  showStatus("empty", "is-info is-light", "No captures match", on.length
    ? `Nothing was captured that matches ${on.length === 1 ? "this filter" : "these filters"}: ${on.join(" · ")}.`
    : "Nothing has been captured yet. New captures appear here as they arrive.", action);
}

/**
 * A listing failed: the header drops its count (none is known now) and the status says why.
 * `retry` lists again, `clearAll` drops every filter. Returns the timer of an automatic retry.
 */
export function showError(err, { retry, clearAll }) {
  $("total").textContent = "";
  $("total-label").textContent = "Captures unavailable";
  if (err.status === 503) {
    showStatus("redis-down", "is-warning", "The database is not reachable", `${sentence(err.message)} The gallery tries again every ${RETRY_MS / 1000} seconds.`);
    return setTimeout(retry, RETRY_MS);
  }
  if (err.status === 400) {
    showStatus("bad-filter", "is-danger is-light", "These filters cannot be used", err.message, { label: "Clear filters", run: clearAll });
  } else if (err.status === 0) {
    showStatus("offline", "is-danger", "The gallery server cannot be reached", "Check that pigallery serve is running.", { label: "Try again", run: retry });
  } else {
    showStatus("api-error", "is-danger", `The API answered with an error (${err.status})`, err.message, { label: "Try again", run: retry });
  }
  return null;
}
