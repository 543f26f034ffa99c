// What the grid lists, page by page: /api/captures with keyset cursors down (older, for newest
// first), and after a jump on the scrubber from `start`, up too (newer, the other sort order
// from the same instant). Each listing owns an AbortController: a new one cancels the old
// one's requests in the browser, and nothing an old request answers reaches the page.
import { clampInstant } from "./format.js";
import { api, isAbort } from "./http.js";

const instant = (date) => clampInstant(date).toISOString();

export class Listing {
  /**
   * `params`: the filters' API parameters (sort included when oldest); `start`: a Date to list
   * from, or null for the top. `pageSize` items a request. The listing calls `onPage(reply, {newer})`
   * with each page and `onError(err)` when one fails.
   */
  constructor({ params, start = null, pageSize, onPage, onError }) {
    this.params = params;
    this.sort = params.get("sort") === "oldest" ? "oldest" : "newest";
    this.start = start ? instant(start) : null;
    this.pageSize = pageSize;
    this.onPage = onPage;
    this.onError = onError;
    this.controller = new AbortController();
    this.down = { cursor: null, done: false, loading: null, params: null };
    // Newer than the first item shown: nothing, unless the listing began at a jump.
    this.up = { cursor: null, done: !this.start, loading: null, params: null };
  }

  get done() {
    return this.down.done;
  }

  get loading() {
    return this.down.loading;
  }

  abort() {
    this.controller.abort();
  }

  /** The next page down (older when newest first); one at a time. */
  more() {
    return this.page(this.down, this.sort);
  }

  /** The next page up (newer when newest first), after a jump. */
  newer() {
    return this.page(this.up, this.sort === "oldest" ? "newest" : "oldest");
  }

  page(side, sort) {
    if (side.loading || side.done) return side.loading || Promise.resolve();
    const { signal } = this.controller;
    const newer = side === this.up;
    const first = !side.params;
    if (first) {
      const params = new URLSearchParams(this.params);
      if (newer) params.set("sort", sort);
      if (this.start) params.set("start", this.start);
      side.params = params;
    }
    const params = new URLSearchParams(side.params);
    // Continued with the cursor alone: `start` only places the first page (the API refuses both).
    if (!first) params.delete("start");
    params.set("limit", this.pageSize);
    if (side.cursor) params.set("cursor", side.cursor);
    side.loading = api(`/api/captures?${params}`, { signal }).then((reply) => {
      if (signal.aborted) return;
      side.cursor = reply.next_cursor;
      side.done = !reply.next_cursor;
      side.loading = null;
      this.onPage(reply, { newer });
    }, (err) => {
      side.loading = null;
      if (isAbort(err) || signal.aborted) return;
      side.done = true;
      this.onError(err, { newer });
    });
    return side.loading;
  }
}
