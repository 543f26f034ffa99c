// Live updates: the event stream says something arrived; the API says whether it matches the
// filters. New captures go on top while the reader is there, else a banner offers them.
import { formatNumber } from "./format.js";
import { RETRY_MS, api } from "./http.js";
import { apiParams } from "./state.js";

const $ = (id) => document.getElementById(id);

/**
 * `page` is the gallery's: {view, grid, lightbox, pageSize, state(), setTotal, loadFacets, reload}.
 */
export function connectLive(page) {
  const { view, grid } = page;
  let timer = null;

  function showBanner(text) {
    $("new-banner").textContent = text;
    $("new-banner").hidden = false;
  }

  async function refresh() {
    const { listing } = view;
    if (listing.loading) await listing.loading;
    const state = page.state();
    const params = apiParams(state);
    params.set("limit", page.pageSize);
    let reply;
    try {
      reply = await api(`/api/captures?${params}`, { signal: listing.controller.signal });
    } catch (err) {
      return; // aborted by new filters, or failed: the next event or reload tries again
    }
    if (listing !== view.listing || view.counted === null) return;
    page.setTotal(reply.total);
    // After a jump the top of the grid is not the newest capture: scrolling up reaches them.
    if (!listing.up.done) return;
    if (state.sort === "oldest") {
      // New captures belong at the end, past the last cursor: offer a reload once the end is shown.
      const missing = reply.total - grid.count;
      if (listing.done && missing > 0) showBanner(`${formatNumber(missing)} new capture${missing === 1 ? "" : "s"} at the end — reload`);
      return;
    }
    // Times are compared as instants: "…:00.5Z" sorts before "…:00Z" as text.
    // The first listed, its data held or not (captures far off the screen are let go: grid.js).
    const newest = grid.count ? Date.parse(grid.first().taken_at) : -Infinity;
    const known = new Set([...grid.items.map((i) => i.id), ...view.pending.map((i) => i.id)]);
    const fresh = reply.items.filter((i) => !known.has(i.id) && Date.parse(i.taken_at) >= newest);
    // The rest of what arrived is older than the top tile (a Pi sending its backlog late): it
    // belongs somewhere inside the grid, so the banner offers it as a reload rather than on top.
    view.counted += fresh.length;
    view.late = Math.max(0, reply.total - view.counted);
    view.counted = Math.min(view.counted, reply.total); // deleted elsewhere: count from what is left
    if (fresh.length && !view.late && window.scrollY < 100 && !page.lightbox.isOpen) {
      $("status").replaceChildren();
      grid.prepend(fresh);
    } else if (fresh.length || view.late) {
      view.pending = fresh.concat(view.pending);
      const count = view.pending.length + view.late;
      showBanner(`${formatNumber(count)} new capture${count === 1 ? "" : "s"} — show`);
    }
    if (fresh.length) page.loadFacets();
  }

  $("new-banner").addEventListener("click", () => {
    if (!view.pending.length || view.late) {
      page.reload(); // late arrivals go between tiles already shown: a fresh grid puts each in its place
      return;
    }
    grid.prepend(view.pending);
    view.pending = [];
    $("new-banner").hidden = true;
    window.scrollTo({ top: 0, behavior: "instant" });
    $("grid").focus({ preventScroll: true });
  });

  function connect(reconnected = false) {
    const source = new EventSource("/api/events");
    const live = $("live");
    const onCapture = () => { clearTimeout(timer); timer = setTimeout(refresh, 300); };
    source.onopen = () => {
      live.textContent = "live";
      live.className = "tag is-success is-light";
      if (reconnected) onCapture(); // catch up on what arrived while the stream was down
      reconnected = true;
    };
    source.onerror = () => {
      live.textContent = "reconnecting…";
      live.className = "tag is-warning is-light";
      // EventSource retries a dropped stream itself, but gives up for good on an error
      // reply (503 while Redis is down): then start a new one a little later.
      if (source.readyState === EventSource.CLOSED) setTimeout(() => connect(true), RETRY_MS);
    };
    source.onmessage = onCapture;
    source.addEventListener("capture", onCapture);
  }
  connect();
}
