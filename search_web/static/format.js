// Formatting and DOM helpers. Values from Redis only ever become text nodes or
// attribute values here, never HTML, so a device named "<img onerror=...>" stays text.

/** The viewer's IANA zone, e.g. "Europe/Berlin" (undefined in browsers that cannot tell). */
export const viewerZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
const zoneId = viewerZone || "local time";
// dateStyle/timeStyle cannot be combined with timeZoneName, hence the explicit parts.
const full = new Intl.DateTimeFormat(undefined, {
  year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
});
const number = new Intl.NumberFormat();

/** Name the viewer's zone, e.g. "Europe/Berlin (CET)". */
export function zoneLabel() {
  const part = full.formatToParts(new Date()).find((p) => p.type === "timeZoneName");
  return part && part.value !== zoneId ? `${zoneId} (${part.value})` : zoneId;
}

export const formatTime = (iso) => full.format(new Date(iso));
// A tile's one compact line: the day is in its section's heading.
const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
export const formatClock = (iso) => clock.format(new Date(iso));

const DAY_THIS_YEAR = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long" });
const DAY_OTHER_YEAR = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "long", year: "numeric" });
const DAY_BC = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "long", year: "numeric", era: "short" });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const capital = (text) => text.charAt(0).toLocaleUpperCase() + text.slice(1);

/** The viewer's local calendar day of an instant, as a sortable key "2026-11-29" (years padded). */
export function dayKey(date) {
  const year = date.getFullYear();
  const y = year < 0 ? `-${String(-year).padStart(6, "0")}` : String(year).padStart(4, "0");
  return `${y}-${String(date.getMonth() + 1).padStart(2, "0")}-${String(date.getDate()).padStart(2, "0")}`;
}

/**
 * A day section's heading in the viewer's zone, as photo apps write it: "Today", "Yesterday",
 * "Saturday, November 29" this year, "October 12, 2008" (with its year) any other year.
 */
export function dayHeading(date, now = new Date()) {
  const today = new Date(now);
  today.setHours(0, 0, 0, 0);
  const day = new Date(date);
  day.setHours(0, 0, 0, 0);
  // By calendar, not by 24 h: a DST day is 23 or 25 hours long.
  const yesterday = new Date(today);
  yesterday.setDate(today.getDate() - 1);
  if (day.getTime() === today.getTime()) return capital(relative.format(0, "day"));
  if (day.getTime() === yesterday.getTime()) return capital(relative.format(-1, "day"));
  if (day.getFullYear() === today.getFullYear()) return DAY_THIS_YEAR.format(date);
  return (date.getFullYear() < 1 ? DAY_BC : DAY_OTHER_YEAR).format(date);
}
const minute = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
export const formatMinute = (iso) => minute.format(new Date(iso));
export const formatNumber = (n) => (n === null || n === undefined ? "–" : number.format(n));

/** Format a byte count as kB/MB. */
export function formatBytes(n) {
  if (n === null || n === undefined) return "–";
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${Math.round(n / 1e3)} kB`;
}

/** Format an exposure in µs with the photographer's 1/x s form. */
export function formatExposure(us) {
  if (us === null || us === undefined) return "–";
  const seconds = us / 1e6;
  const shutter = seconds >= 1 ? `${seconds.toFixed(1)} s` : `1/${Math.round(1 / seconds)} s`;
  return `${number.format(us)} µs (${shutter})`;
}

// Captures are taken from 0001-01-01 to 9999-12-31 UTC; a bar or a jump in the viewer's zone may reach past either.
const FIRST_INSTANT = Date.parse("0001-01-01T00:00:00Z");
const LAST_INSTANT = Date.parse("9999-12-31T23:59:59.999Z");
export const clampInstant = (date) => new Date(Math.min(Math.max(date.getTime(), FIRST_INSTANT), LAST_INSTANT));

const pad = (n, w = 2) => String(Math.abs(n)).padStart(w, "0");

/** The viewer's local date and time of `date`, "0999-06-01T08:03:58" (years always four digits:
 * ISO 8601, and the API, read "999-06-01" as nothing). */
function localTime(date) {
  return `${pad(date.getFullYear(), 4)}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** ISO 8601 in the viewer's zone with its offset, so the API knows what the viewer meant. */
export function isoWithOffset(date) {
  const offset = -date.getTimezoneOffset();
  // Local mean time, before a zone's standard time (New York before 1883: -04:56:02), is not a
  // whole number of minutes, which an ISO 8601 offset cannot say: such instants go in UTC.
  if (!Number.isInteger(offset)) return date.toISOString();
  const sign = offset >= 0 ? "+" : "-";
  const ms = date.getMilliseconds() ? `.${pad(date.getMilliseconds(), 3)}` : "";
  return `${localTime(date)}${ms}${sign}${pad(Math.trunc(offset / 60))}:${pad(offset % 60)}`;
}

/** Value for an <input type="datetime-local"> showing `date` in the viewer's zone. */
export function toLocalInput(date) {
  return localTime(date);
}

/** Parse an <input type="datetime-local"> value: no offset means the viewer's zone. */
export function fromLocalInput(value) {
  return value ? new Date(value) : null;
}

/** Create an element; `props` become properties or attributes, strings become text. */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "className" || key === "textContent" || key === "type") node[key] = value;
    // Through the CSSOM: a style attribute is inline style, which the page's CSP refuses.
    else if (key === "style") node.style.cssText = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child); // append() makes strings text nodes
  }
  return node;
}
