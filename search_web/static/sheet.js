// On a phone the filters are a sheet over the page, opened from the header's "Filters" button
// (which counts the active ones), so the first screen is pictures. On wider screens they are
// a column beside the grid and the button is not shown.
const $ = (id) => document.getElementById(id);

export function initSheet() {
  const sheet = $("filters-sheet");
  const opener = $("filters-open");
  const show = (open) => {
    document.body.classList.toggle("sheet-open", open);
    $("filters-backdrop").hidden = !open;
    opener.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) $("filters-close").focus();
    else if (sheet.contains(document.activeElement)) opener.focus();
  };
  opener.addEventListener("click", () => show(!document.body.classList.contains("sheet-open")));
  for (const id of ["filters-close", "filters-done", "filters-backdrop"]) $(id).addEventListener("click", () => show(false));
  sheet.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && document.body.classList.contains("sheet-open")) show(false);
  });
}
