// The active filters as chips above the grid, each with its own button removing it: what is
// on can be seen (and undone) without opening the filters, on a phone too.
import { el, formatMinute, formatNumber } from "./format.js";
import { RANGES } from "./state.js";

const capital = (text) => text.charAt(0).toUpperCase() + text.slice(1);

function when(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : formatMinute(date.toISOString());
}

function span(low, high, unit) {
  if (low && high) return `${formatNumber(Number(low))}–${formatNumber(Number(high))} ${unit}`;
  return low ? `≥ ${formatNumber(Number(low))} ${unit}` : `≤ ${formatNumber(Number(high))} ${unit}`;
}

/** The filters `state` has on: [{key, text, clear (its button's name), next (the state without it)}]. */
export function activeFilters(state) {
  const chips = [];
  const add = (key, text, clear, changes) => chips.push({ key, text, clear, next: { ...state, ...changes } });
  if (state.range) add("range", capital(RANGES[state.range]), "Clear the dates", { range: "" });
  if (state.from || state.to) {
    const text = state.from && state.to ? `${when(state.from)} – ${when(state.to)}` : state.from ? `From ${when(state.from)}` : `Until ${when(state.to)}`;
    add("dates", text, "Clear the dates", { from: "", to: "" });
  }
  const { time_from: start, time_to: end } = state;
  if (start || end) {
    const text = start && end ? `${start}–${end}` : start ? `from ${start}` : `until ${end}`;
    add("time-of-day", `Every day ${text}`, "Clear the time of day", { time_from: "", time_to: "" });
  }
  const lists = [["device", "Device"], ["trigger", "Trigger"], ["camera_make", "Make"], ["camera_model", "Model"]];
  for (const [key, name] of lists) {
    for (const value of state[key]) {
      // The value stays out of the button's name: "motion" must keep naming the trigger's checkbox.
      add(key, `${name}: ${value}`, `Clear this ${name.toLowerCase()}`, { [key]: state[key].filter((v) => v !== value) });
    }
  }
  if (state.lux_min || state.lux_max) add("lux", `Light ${span(state.lux_min, state.lux_max, "lx")}`, "Clear the light range", { lux_min: "", lux_max: "" });
  if (state.exposure_min || state.exposure_max) {
    add("exposure", `Exposure ${span(state.exposure_min, state.exposure_max, "µs")}`, "Clear the exposure range", { exposure_min: "", exposure_max: "" });
  }
  if (state.has_gps) add("has_gps", state.has_gps === "true" ? "With a GPS position" : "Without a GPS position", "Clear the location filter", { has_gps: "" });
  return chips;
}

/** Draw the chips into `container`; `apply(next)` makes a state current. */
export function renderChips(container, state, apply, clearAll) {
  const chips = activeFilters(state);
  container.hidden = !chips.length;
  container.replaceChildren(...chips.map((chip, n) => el("span", { className: "tag is-medium is-link is-light filter-chip", "data-active": chip.key },
    el("span", { className: "filter-chip-text", id: `chip-${n}`, textContent: chip.text }),
    el("button", { type: "button", className: "delete is-small", "aria-label": chip.clear, "aria-describedby": `chip-${n}`,
      onclick: () => apply(chip.next) }))));
  if (chips.length > 1) {
    container.append(el("button", { type: "button", className: "button is-small is-text", textContent: "Clear all", onclick: clearAll }));
  }
  return chips;
}
