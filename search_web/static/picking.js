// What a tile does when chosen: open the viewer, or, once something is selected, select.
// A tile's checkbox selects (shift: the range from the last one chosen); on a phone a long
// press selects and later taps add to it. One set of listeners on the grid for all its tiles.
const LONG_PRESS_MS = 500;

export function wirePicking(root, { selection, open }) {
  let timer = null;
  let pressed = false; // a long press chose a tile: the click that may follow must not open it
  const tileId = (event) => event.target.closest("li.tile")?.dataset.id;
  const pick = (id, shift) => (shift ? selection.extend(id) : selection.toggle(id));

  root.addEventListener("click", (event) => {
    const id = tileId(event);
    if (!id) return;
    if (event.target.closest(".tile-select")) {
      pick(id, event.shiftKey);
      return;
    }
    const button = event.target.closest(".tile-button");
    if (!button) return;
    if (pressed) pressed = false;
    else if (event.shiftKey || selection.size) pick(id, event.shiftKey);
    else open(id, button);
  });
  root.addEventListener("touchstart", (event) => {
    const id = tileId(event);
    clearTimeout(timer);
    pressed = false;
    if (id && event.touches.length === 1) {
      timer = setTimeout(() => {
        pressed = true;
        selection.toggle(id);
      }, LONG_PRESS_MS);
    }
  }, { passive: true });
  for (const name of ["touchmove", "touchend", "touchcancel"]) root.addEventListener(name, () => clearTimeout(timer), { passive: true });
  root.addEventListener("contextmenu", (event) => {
    if (pressed) event.preventDefault(); // the long press was a selection, not the picture's menu
  });
}
