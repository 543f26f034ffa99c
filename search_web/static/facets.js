// Device chips and the timeline histogram, both drawn from /api/facets.
import { el, formatNumber, formatMinute, formatTime } from "./format.js";

const BUCKET_MS = { hour: 3600e3, day: 86400e3, week: 7 * 86400e3 };

/** [{name, count}] from the facets reply's `devices`. */
export function deviceCounts(reply) {
  return reply.devices.map((d) => ({ name: d.device, count: d.count }));
}

/** {bucket, ms, bars: [{start: Date, count}]} from the facets reply's `bucket` and `histogram`. */
export function histogram(reply) {
  const { bucket } = reply;
  const ms = BUCKET_MS[bucket];
  const given = reply.histogram.map((b) => ({ start: new Date(b.start), count: b.count }));
  return { bucket, ms, bars: fillGaps(given, bucket, ms) };
}

/**
 * Start of the bucket after the one starting at `start`. The API buckets in the viewer's zone
 * (it is sent as `tz`), so days and weeks step by calendar: a DST day lasts 23 or 25 hours.
 */
export function nextStart(start, bucket) {
  const next = new Date(start);
  if (bucket === "day" || bucket === "week") next.setDate(next.getDate() + (bucket === "week" ? 7 : 1));
  else next.setTime(start.getTime() + BUCKET_MS[bucket]);
  return next;
}

/** Add the empty buckets the aggregation leaves out, so bar widths stay proportional to time. */
function fillGaps(bars, bucket, ms) {
  if (bars.length < 2 || (bars[bars.length - 1].start - bars[0].start) / ms > 1000) return bars;
  const counts = new Map(bars.map((b) => [b.start.getTime(), b.count]));
  const filled = [];
  const last = bars[bars.length - 1].start.getTime();
  for (let t = bars[0].start; t.getTime() <= last; t = nextStart(t, bucket)) {
    filled.push({ start: t, count: counts.get(t.getTime()) || 0 });
  }
  return filled;
}

/** Draw the device chips; a chip toggles its device in the filters. */
export function renderDevices(container, counts, selected, onToggle) {
  const names = new Set(counts.map((c) => c.name));
  // A selected device with no matches keeps its chip, so it can be switched off again.
  const all = counts.concat(selected.filter((n) => !names.has(n)).map((name) => ({ name, count: 0 })));
  all.sort((a, b) => a.name.localeCompare(b.name));
  container.replaceChildren(...all.map(({ name, count }) => {
    const on = selected.includes(name);
    return el("button", {
      type: "button",
      className: `tag is-medium device-chip ${on ? "is-link" : "is-light"}`,
      "aria-pressed": on ? "true" : "false",
      "data-device": name,
      onclick: () => onToggle(name),
    }, el("span", { className: "device-name", textContent: name }),
    el("span", { className: "device-count", textContent: formatNumber(count) }));
  }));
  if (!all.length) container.append(el("span", { className: "has-text-grey is-size-7", textContent: "No devices yet" }));
}

/** Draw the histogram; choosing a bar narrows the date range to that bucket. */
export function renderTimeline(parts, hist, onPick) {
  const max = Math.max(1, ...hist.bars.map((b) => b.count));
  parts.bars.replaceChildren(...hist.bars.map((bar) => {
    const end = nextStart(bar.start, hist.bucket);
    const label = `${formatNumber(bar.count)} captures from ${formatTime(bar.start.toISOString())} to ${formatTime(end.toISOString())}`;
    return el("button", {
      type: "button",
      className: "timeline-bar",
      title: label,
      "aria-label": label,
      disabled: bar.count === 0,
      "data-start": bar.start.toISOString(),
      onclick: () => onPick(bar.start, end),
    }, el("span", { className: "timeline-fill", style: `height:${Math.max(2, (100 * bar.count) / max)}%` }));
  }));
  const first = hist.bars[0];
  const last = hist.bars[hist.bars.length - 1];
  parts.start.textContent = first ? formatMinute(first.start.toISOString()) : "";
  parts.end.textContent = last ? formatMinute(nextStart(last.start, hist.bucket).toISOString()) : "";
  parts.bucket.textContent = hist.bars.length ? `one bar per ${hist.bucket}` : "no captures in this range";
}
