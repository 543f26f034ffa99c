// The viewer's details panel: everything /api/captures tells about one capture, as rows.
// Fields the API may not send yet (camera, GPS, orientation, time source, file name) are left
// out rather than shown empty.
import { el, formatBytes, formatExposure, formatNumber, formatTime } from "./format.js";

// EXIF orientations 5-8 turn the picture a quarter: shown upright, width and height swap.
const QUARTER_TURNED = new Set([5, 6, 7, 8]);
const TIME_SOURCES = {
  exif: "from the picture's EXIF",
  camera: "from the camera",
  file: "guessed from the file's date",
};
const known = (value) => value !== null && value !== undefined && value !== "";

/** [width, height] as the picture is shown: upright, its EXIF orientation applied. */
export function shownSize(item) {
  return QUARTER_TURNED.has(Number(item.orientation)) ? [item.height, item.width] : [item.width, item.height];
}

/** "NIKON COOLPIX P6000"; a model that already names its make ("Canon EOS 40D") alone. */
export function cameraName(make, model) {
  if (!known(make)) return known(model) ? model : null;
  if (!known(model)) return make;
  return model.toLowerCase().startsWith(make.toLowerCase().split(" ")[0]) ? model : `${make} ${model}`;
}

/** A map site's page for a position: a plain link, so the page itself loads nothing from it. */
export function mapLink(latitude, longitude) {
  const lat = Number(latitude).toFixed(5);
  const lon = Number(longitude).toFixed(5);
  return `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=16/${lat}/${lon}`;
}

function takenRow(item) {
  const value = el("dd", {}, el("span", { className: "nowrap", textContent: formatTime(item.taken_at) }));
  if (item.time_source === "file") {
    value.append(" ", el("span", {
      className: "tag is-warning is-light time-guess", "data-time-source": "file",
      title: "The picture has no capture time of its own: this is its file's modification time.",
    }, "≈ guessed from the file's date"));
  } else if (TIME_SOURCES[item.time_source]) {
    value.append(el("span", { className: "meta-note", textContent: TIME_SOURCES[item.time_source] }));
  }
  return [el("dt", { textContent: "Taken" }), value];
}

/** The detail rows of `item` as <dt>/<dd> pairs. */
export function detailRows(item) {
  const [width, height] = shownSize(item);
  const rows = [
    ["UTC", el("span", { className: "nowrap", textContent: item.taken_at })],
    ["Device", item.device],
    ["Trigger", item.trigger],
    ["Exposure", formatExposure(item.exposure_us)],
    ["Analogue gain", known(item.analogue_gain) ? `${formatNumber(item.analogue_gain)}×` : "–"],
    ["Light", known(item.lux) ? `${formatNumber(item.lux)} lx` : "–"],
    ["Colour temperature", item.colour_temp_k ? `${formatNumber(item.colour_temp_k)} K` : "–"],
    ["Size", el("span", { className: "nowrap", "data-field": "size", textContent: `${formatNumber(width)} × ${formatNumber(height)} px` })],
    ["File size", item.image_url ? formatBytes(item.image_size) : `${formatBytes(item.image_size)} (expired)`],
  ];
  const camera = cameraName(item.camera_make, item.camera_model);
  if (camera) rows.push(["Camera", camera]);
  if (known(item.latitude) && known(item.longitude)) {
    const where = `${Number(item.latitude).toFixed(5)}, ${Number(item.longitude).toFixed(5)}`;
    rows.push(["Location", el("a", {
      href: mapLink(item.latitude, item.longitude), target: "_blank", rel: "noopener noreferrer", className: "nowrap",
      "data-field": "location", title: "Open this position on OpenStreetMap",
    }, where)]);
  }
  if (known(item.source_name)) rows.push(["Original file", item.source_name]);
  rows.push(["ID", el("code", { className: "nowrap", textContent: item.id })]);
  return [...takenRow(item), ...rows.flatMap(([name, value]) => [
    el("dt", { textContent: name }),
    el("dd", {}, value), // a string becomes a text node
  ])];
}
