// Device chips and the timeline histogram, both drawn from /api/facets.
import { el, formatNumber, formatMinute, formatTime } from "./format.js";

// Months and years by their mean Gregorian length: only to judge how many bars a gap needs.
const BUCKET_MS = {
  hour: 3600e3, day: 86400e3, week: 7 * 86400e3, month: (146097 * 86400e3) / 4800, year: (146097 * 86400e3) / 400,
};
// A bar start as the API writes it. Date.parse refuses an offset with seconds, which the API
// writes for local mean time (New York's -04:56:02 until 1883), and years 0 and 10000 come too.
const START =
  /^([+-]\d{6}|\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,3})\d*)?(?:Z|([+-])(\d\d):(\d\d)(?::(\d\d))?)$/;
const PERIOD = {
  year: new Intl.DateTimeFormat(undefined, { year: "numeric" }),
  month: new Intl.DateTimeFormat(undefined, { year: "numeric", month: "long" }),
};
// Years before 1 with their era: year 0 is 1 BC, which without it would read as year 1.
const PERIOD_BC = {
  year: new Intl.DateTimeFormat(undefined, { year: "numeric", era: "short" }),
  month: new Intl.DateTimeFormat(undefined, { year: "numeric", month: "long", era: "short" }),
};

/** Parse a histogram bar's start; anything else the browser parses itself. */
export function parseStart(text) {
  const m = START.exec(text);
  if (!m) return new Date(text);
  const date = new Date(0);
  // setUTCFullYear, not Date.UTC: that one reads years 0 to 99 as 1900 to 1999.
  date.setUTCFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  date.setUTCHours(Number(m[4]), Number(m[5]), Number(m[6]), Number((m[7] || "0").padEnd(3, "0")));
  if (m[8]) {
    const offset = Number(m[9]) * 3600 + Number(m[10]) * 60 + Number(m[11] || 0);
    date.setTime(date.getTime() - (m[8] === "-" ? -offset : offset) * 1000);
  }
  return date;
}

/** [{name, count}] from the facets reply's `devices`. */
export function deviceCounts(reply) {
  return reply.devices.map((d) => ({ name: d.device, count: d.count }));
}

/** {bucket, ms, bars: [{start: Date, count}]} from the facets reply's `bucket` and `histogram`. */
export function histogram(reply) {
  const { bucket } = reply;
  const ms = BUCKET_MS[bucket];
  const given = reply.histogram.map((b) => ({ start: parseStart(b.start), count: b.count }));
  return { bucket, ms, bars: fillGaps(given, bucket, ms) };
}

/**
 * Start of the bucket after the one starting at `start`. The API buckets in the viewer's zone
 * (it is sent as `tz`), so days, weeks, months and years step by calendar to the next local
 * midnight: a DST day lasts 23 or 25 hours, and after a day that began at the jump over a
 * skipped midnight (01:00) the next one begins at midnight again.
 */
export function nextStart(start, bucket) {
  const next = new Date(start);
  if (bucket === "hour") {
    next.setTime(start.getTime() + BUCKET_MS.hour);
    return next;
  }
  const [year, month, day] = [next.getFullYear(), next.getMonth(), next.getDate()];
  if (bucket === "year") next.setFullYear(year + 1, 0, 1);
  else if (bucket === "month") next.setFullYear(year, month + 1, 1);
  else next.setFullYear(year, month, day + (bucket === "week" ? 7 : 1));
  next.setHours(0, 0, 0, 0);
  return next;
}

/** A month or year bar's own name in the viewer's zone: "March 2026", "2026". */
function period(date, bucket) {
  return (date.getFullYear() < 1 ? PERIOD_BC : PERIOD)[bucket].format(date);
}

function barLabel(bar, end, bucket) {
  const count = `${formatNumber(bar.count)} captures`;
  if (bucket === "month" || bucket === "year") return `${count} in ${period(bar.start, bucket)}`;
  return `${count} from ${formatTime(bar.start.toISOString())} to ${formatTime(end.toISOString())}`;
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
    const label = barLabel(bar, end, hist.bucket);
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
  if (hist.bucket === "month" || hist.bucket === "year") {
    // The first and last month or year shown, by name: their minutes would hide the year.
    parts.start.textContent = first ? period(first.start, hist.bucket) : "";
    parts.end.textContent = last ? period(last.start, hist.bucket) : "";
  } else {
    parts.start.textContent = first ? formatMinute(first.start.toISOString()) : "";
    parts.end.textContent = last ? formatMinute(nextStart(last.start, hist.bucket).toISOString()) : "";
  }
  parts.bucket.textContent = hist.bars.length ? `one bar per ${hist.bucket}` : "no captures in this range";
}
