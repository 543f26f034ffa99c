// Several captures chosen at once (a tile's checkbox, shift-click for a range, a long press on
// a phone), then downloaded as one ZIP (GET /api/export.zip?id=…) or, with the token, deleted.
import { api } from "./http.js";
import { exportHref } from "./export.js";
import { formatNumber } from "./format.js";
import { bearer, forgetToken, keepToken, savedToken } from "./token.js";

const $ = (id) => document.getElementById(id);
const plural = (n) => `${formatNumber(n)} capture${n === 1 ? "" : "s"}`;

export class Selection {
  /** `items()` gives the grid's items in display order; `onChange()` redraws the tiles. */
  constructor({ items, onChange, onDeleted, maxIds }) {
    this.ids = new Set();
    this.anchor = null; // the last capture chosen on its own: a shift-click's range starts there
    this.items = items;
    this.onChange = onChange;
    this.onDeleted = onDeleted;
    this.maxIds = maxIds;
    $("selection-clear").addEventListener("click", () => this.clear());
    // The bar sticks at the top while a selection is on: the day headings stick just below it
    // (its height changes as it wraps or asks to confirm a delete; hidden it is 0).
    const bar = $("selection-bar");
    new ResizeObserver(() => {
      document.documentElement.style.setProperty("--selection-bar", `${bar.hidden ? 0 : bar.offsetHeight}px`);
    }).observe(bar);
    if ($("selection-delete")) {
      $("selection-delete").addEventListener("click", () => this.askDelete());
      $("selection-cancel-delete").addEventListener("click", () => ($("selection-confirm").hidden = true));
      $("selection-confirm-delete").addEventListener("click", () => this.confirmDelete());
    }
  }

  get size() {
    return this.ids.size;
  }

  has(id) {
    return this.ids.has(id);
  }

  toggle(id) {
    if (this.ids.has(id)) this.ids.delete(id);
    else this.ids.add(id);
    this.anchor = id;
    this.changed();
  }

  /** Select every capture from the anchor to `id`, both included (shift-click). */
  extend(id) {
    const items = this.items();
    const from = items.findIndex((item) => item.id === this.anchor);
    const to = items.findIndex((item) => item.id === id);
    if (from < 0 || to < 0) {
      this.toggle(id);
      return;
    }
    for (const item of items.slice(Math.min(from, to), Math.max(from, to) + 1)) this.ids.add(item.id);
    this.changed();
  }

  clear() {
    if (!this.ids.size) return;
    this.ids.clear();
    this.anchor = null;
    this.changed();
  }

  /** Forget a capture no longer in the grid (deleted, or the filters changed). */
  drop(id) {
    if (this.ids.delete(id)) this.changed();
  }

  changed() {
    const count = this.ids.size;
    $("selection-bar").hidden = count === 0;
    $("selection-count").textContent = `${plural(count)} selected`;
    const link = $("selection-download");
    if (count > this.maxIds) {
      link.removeAttribute("href");
      link.setAttribute("aria-disabled", "true");
      link.title = `A download of chosen captures holds at most ${formatNumber(this.maxIds)}; use the filters and the Download button above for more.`;
    } else {
      // Newest first, as the grid lists them by default; the ids alone, no filters.
      link.href = exportHref([...this.ids].map((id) => ["id", id]));
      link.removeAttribute("aria-disabled");
      link.title = `Download the ${plural(count)} as a ZIP (full images, JSON and CSV metadata)`;
    }
    if ($("selection-confirm")) $("selection-confirm").hidden = true;
    this.onChange();
  }

  askDelete() {
    $("selection-error").textContent = "";
    $("selection-confirm-text").textContent = `Delete ${plural(this.ids.size)} for good?`;
    const known = savedToken();
    $("selection-token-field").hidden = Boolean(known);
    $("selection-confirm").hidden = false;
    (known ? $("selection-confirm-delete") : $("selection-token")).focus();
  }

  /** One DELETE per capture, in turn; the first refusal stops the rest and says why. */
  async confirmDelete() {
    const token = savedToken() || $("selection-token").value.trim();
    if (!token) {
      $("selection-error").textContent = "Enter the API token to delete.";
      return;
    }
    const button = $("selection-confirm-delete");
    button.disabled = true;
    try {
      for (const id of [...this.ids]) {
        try {
          await api(`/api/captures/${encodeURIComponent(id)}`, { method: "DELETE", headers: bearer(token) });
        } catch (err) {
          if (err.status === 401 || err.status === 403) {
            forgetToken();
            $("selection-token-field").hidden = false;
          }
          if (err.status !== 404) { // already gone is as good as deleted
            $("selection-error").textContent = `Not deleted: ${err.message}`;
            $("selection-count").textContent = `${plural(this.ids.size)} selected`;
            return;
          }
        }
        keepToken(token);
        this.ids.delete(id);
        this.onDeleted(id);
      }
      $("selection-token").value = "";
      this.anchor = null;
      this.changed();
    } finally {
      button.disabled = false;
    }
  }
}
