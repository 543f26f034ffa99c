// The detail view: full image (requested only now), metadata, download, prev/next, delete.
import { api } from "./state.js";
import { el, formatBytes, formatExposure, formatNumber, formatTime } from "./format.js";

const TOKEN_KEY = "pigallery.token";
const $ = (id) => document.getElementById(id);

export class Lightbox {
  /**
   * `source` gives the loaded items and can load more (for "next" past the last tile);
   * `onDeleted(id)` removes a deleted capture from the page.
   */
  constructor(source, { deleteEnabled, onDeleted }) {
    this.source = source;
    this.onDeleted = onDeleted;
    this.node = $("lightbox");
    this.image = $("lb-image");
    this.currentId = null;
    this.returnFocus = null;
    for (const closer of this.node.querySelectorAll("[data-close]")) closer.addEventListener("click", () => this.close());
    $("lb-prev").addEventListener("click", () => this.step(-1));
    $("lb-next").addEventListener("click", () => this.step(1));
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
  }

  get isOpen() {
    return this.node.classList.contains("is-active");
  }

  current() {
    return this.source.items.find((item) => item.id === this.currentId);
  }

  open(id, opener) {
    this.returnFocus = opener || document.activeElement;
    this.show(id);
    this.node.classList.add("is-active");
    document.documentElement.classList.add("is-clipped");
    $("lb-close").focus();
  }

  close() {
    if (!this.isOpen) return;
    this.node.classList.remove("is-active");
    document.documentElement.classList.remove("is-clipped");
    this.image.removeAttribute("src");
    this.currentId = null;
    if (this.returnFocus && this.returnFocus.isConnected) this.returnFocus.focus();
  }

  async step(delta) {
    const items = this.source.items;
    let index = items.findIndex((item) => item.id === this.currentId) + delta;
    if (index >= items.length && !this.source.done) {
      await this.source.loadMore();
      index = Math.min(index, this.source.items.length - 1);
    }
    const target = this.source.items[index];
    if (target) this.show(target.id);
  }

  show(id) {
    this.currentId = id;
    const items = this.source.items;
    const index = items.findIndex((item) => item.id === id);
    const item = items[index];
    $("lb-confirm").hidden = true;
    $("lb-title").textContent = `${item.device} · ${formatTime(item.taken_at)}`;
    $("lb-position").textContent = `${index + 1} of ${formatNumber(this.source.total)}`;
    $("lb-prev").disabled = index <= 0;
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
    this.renderMeta(item);
  }

  showThumbnail(item) {
    $("lb-note").hidden = false;
    this.image.src = item.thumbnail_url;
    $("lb-download").hidden = true;
  }

  renderMeta(item) {
    const rows = [
      ["Taken", formatTime(item.taken_at)],
      ["Taken (UTC)", item.taken_at],
      ["Device", item.device],
      ["Trigger", item.trigger],
      ["Light", item.lux === null || item.lux === undefined ? "–" : `${formatNumber(item.lux)} lx`],
      ["Exposure", formatExposure(item.exposure_us)],
      ["Analogue gain", item.analogue_gain === null || item.analogue_gain === undefined ? "–" : `${formatNumber(item.analogue_gain)}×`],
      ["Colour temperature", item.colour_temp_k ? `${formatNumber(item.colour_temp_k)} K` : "–"],
      ["Size", `${formatNumber(item.width)} × ${formatNumber(item.height)} px`],
      ["File size", item.image_url ? formatBytes(item.image_size) : `${formatBytes(item.image_size)} (expired)`],
      ["ID", item.id],
    ];
    $("lb-meta").replaceChildren(...rows.flatMap(([name, value]) => [el("dt", { textContent: name }), el("dd", { textContent: String(value) })]));
  }

  askDelete() {
    $("lb-delete-error").textContent = "";
    const known = sessionStorage.getItem(TOKEN_KEY);
    $("lb-token-field").hidden = Boolean(known);
    $("lb-confirm").hidden = false;
    (known ? $("lb-confirm-delete") : $("lb-token")).focus();
  }

  async confirmDelete() {
    const token = sessionStorage.getItem(TOKEN_KEY) || $("lb-token").value.trim();
    if (!token) {
      $("lb-delete-error").textContent = "Enter the API token to delete.";
      return;
    }
    const id = this.currentId;
    try {
      await api(`/api/captures/${encodeURIComponent(id)}`, { method: "DELETE", headers: { Authorization: `Bearer ${token}`, Accept: "application/json" } });
    } catch (err) {
      if (err.status === 401 || err.status === 403) {
        sessionStorage.removeItem(TOKEN_KEY);
        $("lb-token-field").hidden = false;
      }
      if (err.status !== 404) {
        $("lb-delete-error").textContent = `Not deleted: ${err.message}`;
        return;
      }
    }
    sessionStorage.setItem(TOKEN_KEY, token);
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
