// The toolbar's Download button: every capture the grid's filters match, as one ZIP
// (GET /api/export.zip: full images, captures.json, captures.csv). A plain <a download>,
// so the browser streams the file to disk itself, with its own progress and cancel.
import { formatNumber } from "./format.js";

/** The export URL for the grid's API parameters (paging ones left out: the export walks them all). */
export function exportHref(params) {
  const query = new URLSearchParams(params);
  query.delete("limit");
  query.delete("cursor");
  const text = query.toString();
  return `/api/export.zip${text ? "?" : ""}${text}`;
}

/**
 * Point `link` at the export of `params`; `total` is how many captures they match (null until
 * the grid's first page says). Until then, with nothing to download, or with more than the
 * server's limit (the link's data-max), the button is disabled with the reason in its title,
 * rather than a download that fails.
 */
export function updateExport(link, params, total) {
  if (!link) return;
  const most = Number(link.dataset.max) || Infinity;
  let reason = "";
  if (total === null || total === undefined) reason = "Counting the captures that match the filters…";
  else if (total === 0) reason = "No captures match the filters.";
  else if (total > most) reason = `${formatNumber(total)} captures match; a download holds at most ${formatNumber(most)}: narrow the filters (dates, devices, …).`;
  if (reason) {
    link.removeAttribute("href");
    link.setAttribute("disabled", "");
    link.setAttribute("aria-disabled", "true");
    link.title = reason;
  } else {
    link.href = exportHref(params);
    link.removeAttribute("disabled");
    link.removeAttribute("aria-disabled");
    link.title = `Download ${formatNumber(total)} capture${total === 1 ? "" : "s"} as a ZIP (full images, JSON and CSV metadata)`;
  }
}
