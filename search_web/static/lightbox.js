// The viewer: full screen and dark; the full image (requested only now, its neighbours
// preloaded), swipe and arrow keys, the details panel, download and delete.
import { api } from "./http.js";
import { detailRows } from "./details.js";
import { formatNumber, formatTime } from "./format.js";
import { bearer, forgetToken, keepToken, savedToken } from "./token.js";

const $ = (id) => document.getElementById(id);
const SWIPE_PX = 50; // a horizontal move at least this long, and mostly sideways, is a swipe
const SWIPE_MS = 800;
const PHONE = window.matchMedia("(max-width: 768px)");

export class Lightbox {
  /**
   * `source` gives the loaded items and can load more (for "next" past the last tile) and,
   * after a scrubber jump, newer ones (for "previous" past the first);
   * `onDeleted(id)` removes a deleted capture from the page; `tileFor(id)` finds a tile to
   * give focus back to (the one that opened the viewer may have been recycled meanwhile).
   */
  constructor(source, { deleteEnabled, onDeleted, tileFor }) {
    this.source = source;
    this.onDeleted = onDeleted;
    this.tileFor = tileFor;
    this.node = $("lightbox");
    this.image = $("lb-image");
    this.currentId = null;
    this.returnFocus = null;
    this.preloaded = [];
    for (const closer of this.node.querySelectorAll("[data-close]")) closer.addEventListener("click", () => this.close());
    $("lb-prev").addEventListener("click", () => this.step(-1));
    $("lb-next").addEventListener("click", () => this.step(1));
    $("lb-info").addEventListener("click", () => this.showPanel($("lb-panel").hidden));
    if (deleteEnabled) {
      $("lb-delete").addEventListener("click", () => this.askDelete());
      $("lb-cancel-delete").addEventListener("click", () => ($("lb-confirm").hidden = true));
      $("lb-confirm-delete").addEventListener("click", () => this.confirmDelete());
    }
    // A full image that expired after the list was fetched answers 410: fall back to the thumbnail.
    this.image.addEventListener("error", () => {
      const item = this.current();
      if (item && this.image.getAttribute("src") !== item.thumbnail_url) this.showThumbnail(item);
    });
    document.addEventListener("keydown", (event) => this.onKey(event));
    this.listenForSwipes($("lb-stage"));
  }

  get isOpen() {
    return this.node.classList.contains("is-active");
  }

  current() {
    return this.source.items.find((item) => item.id === this.currentId);
  }

  open(id, opener) {
    this.returnFocus = opener || document.activeElement;
    // The picture first on a phone; the details beside it where there is room.
    this.showPanel(!PHONE.matches);
    this.show(id);
    this.node.classList.add("is-active");
    document.documentElement.classList.add("is-clipped");
    $("lb-close").focus();
  }

  close() {
    if (!this.isOpen) return;
    const id = this.currentId;
    this.node.classList.remove("is-active");
    document.documentElement.classList.remove("is-clipped");
    this.image.removeAttribute("src");
    this.currentId = null;
    this.preloaded = [];
    const back = this.returnFocus?.isConnected ? this.returnFocus : this.tileFor(id)?.querySelector("button");
    back?.focus();
  }

  showPanel(on) {
    $("lb-panel").hidden = !on;
    $("lb-info").setAttribute("aria-expanded", on ? "true" : "false");
  }

  async step(delta) {
    // Captures far off the screen may have been let go (grid.js): the neighbours' come back first.
    await this.source.around(this.currentId);
    if (!this.isOpen) return;
    const items = this.source.items;
    let index = items.findIndex((item) => item.id === this.currentId) + delta;
    if (index < 0 && !this.source.newerDone) {
      // The grid's newer page goes above the current item: find it again after the wait.
      await this.source.loadNewer();
      index = this.source.items.findIndex((item) => item.id === this.currentId) + delta;
      if (index < 0) $("lb-prev").disabled = this.source.newerDone; // nothing newer after all
    } else if (index >= items.length && !this.source.done) {
      await this.source.loadMore();
      index = Math.min(index, this.source.items.length - 1);
    }
    const target = this.source.items[index];
    if (target && this.isOpen) this.show(target.id);
  }

  show(id) {
    this.currentId = id;
    const items = this.source.items;
    const index = items.findIndex((item) => item.id === id);
    const item = items[index];
    $("lb-confirm").hidden = true;
    $("lb-title").textContent = `${item.device} · ${formatTime(item.taken_at)}`;
    $("lb-position").textContent = `${index + 1} of ${formatNumber(this.source.total)}`;
    $("lb-prev").disabled = index <= 0 && this.source.newerDone;
    $("lb-next").disabled = index >= items.length - 1 && this.source.done;
    this.image.alt = `Capture from ${item.device} at ${formatTime(item.taken_at)}`;
    if (item.image_url) {
      $("lb-note").hidden = true;
      this.image.src = item.image_url;
    } else {
      this.showThumbnail(item);
    }
    const download = $("lb-download");
    download.hidden = !item.image_url;
    if (item.image_url) {
      download.href = item.image_url;
      download.download = `${item.device.replace(/[^\w.-]+/g, "_")}-${item.taken_at.replace(/[:]/g, "")}.jpg`;
    }
    $("lb-meta").replaceChildren(...detailRows(item));
    this.preload(index);
  }

  /** Fetch the previous and next full images now, so stepping shows them at once. */
  preload(index) {
    const items = this.source.items;
    // Kept referenced until the next step, or the browser may drop the request.
    this.preloaded = [items[index - 1], items[index + 1]].filter((item) => item?.image_url).map((item) => {
      const image = new Image();
      image.decoding = "async";
      image.src = item.image_url;
      return image;
    });
  }

  showThumbnail(item) {
    $("lb-note").hidden = false;
    this.image.src = item.thumbnail_url;
    $("lb-download").hidden = true;
  }

  /**
   * One finger moved sideways: next or previous. Two fingers are the browser's pinch zoom, and
   * while zoomed in a one-finger move pans the picture: neither is taken for a swipe. Nothing
   * calls preventDefault, so the browser's own zoom and scrolling keep working.
   */
  listenForSwipes(stage) {
    let start = null;
    stage.addEventListener("touchstart", (event) => {
      start = event.touches.length === 1 ? { x: event.touches[0].clientX, y: event.touches[0].clientY, t: Date.now() } : null;
    }, { passive: true });
    stage.addEventListener("touchmove", (event) => {
      if (event.touches.length > 1) start = null;
    }, { passive: true });
    stage.addEventListener("touchend", (event) => {
      if (!start || event.changedTouches.length !== 1) return;
      const dx = event.changedTouches[0].clientX - start.x;
      const dy = event.changedTouches[0].clientY - start.y;
      const zoomed = (window.visualViewport?.scale || 1) > 1.01;
      if (!zoomed && Math.abs(dx) >= SWIPE_PX && Math.abs(dx) > 1.5 * Math.abs(dy) && Date.now() - start.t < SWIPE_MS) {
        this.step(dx < 0 ? 1 : -1);
      }
      start = null;
    }, { passive: true });
  }

  askDelete() {
    $("lb-delete-error").textContent = "";
    const known = savedToken();
    this.showPanel(true);
    $("lb-token-field").hidden = Boolean(known);
    $("lb-confirm").hidden = false;
    (known ? $("lb-confirm-delete") : $("lb-token")).focus();
  }

  async confirmDelete() {
    const token = savedToken() || $("lb-token").value.trim();
    if (!token) {
      $("lb-delete-error").textContent = "Enter the API token to delete.";
      return;
    }
    const id = this.currentId;
    try {
      await api(`/api/captures/${encodeURIComponent(id)}`, { method: "DELETE", headers: bearer(token) });
    } catch (err) {
      if (err.status === 401 || err.status === 403) {
        forgetToken();
        $("lb-token-field").hidden = false;
      }
      if (err.status !== 404) {
        $("lb-delete-error").textContent = `Not deleted: ${err.message}`;
        return;
      }
    }
    keepToken(token);
    $("lb-token").value = "";
    const items = this.source.items;
    const index = items.findIndex((item) => item.id === id);
    const neighbour = items[index + 1] || items[index - 1];
    this.onDeleted(id);
    if (neighbour) this.show(neighbour.id);
    else this.close();
  }

  onKey(event) {
    if (!this.isOpen) return;
    const typing = ["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement?.tagName);
    if (event.key === "Escape") {
      event.preventDefault();
      if (!$("lb-confirm").hidden) $("lb-confirm").hidden = true;
      else this.close();
    } else if (event.key === "ArrowLeft" && !typing) {
      event.preventDefault();
      this.step(-1);
    } else if (event.key === "ArrowRight" && !typing) {
      event.preventDefault();
      this.step(1);
    } else if (event.key === "Tab") {
      this.trapFocus(event);
    }
  }

  /** Keep Tab inside the open dialog. */
  trapFocus(event) {
    const focusable = [...this.node.querySelectorAll("button, a[href], input")].filter((n) => !n.disabled && n.offsetParent !== null);
    if (!focusable.length) return;
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  }
}
