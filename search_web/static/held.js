// The grid's items, bounded like its DOM. Each item is ~0.3-0.5 kB of JavaScript: scrolling
// through 20,000 with all of them kept measured 8.9 MB of heap after GC in Chromium; with at most
// HELD kept, 2,376 items and 3.0 MB. Past HELD, the chunks farthest off the screen let go of
// theirs and keep their first capture ({id, taken_at}) and count; coming near again, or stepped
// into by the viewer, a chunk gets them back with one `start=` request (the grid's `load`).

const HELD = 2400; // 4 x grid.js's LIVE_TILES

/** Past HELD items, the chunks farther than `far` px off the screen (and not pinned) let go. */
export function forget(grid, far) {
  if (grid.items.length <= HELD) return;
  const height = window.innerHeight;
  const keep = grid.pinned();
  const candidates = [];
  for (const chunk of grid.chunks()) {
    if (chunk.filled || !chunk.items || chunk.items.some((item) => item.id === keep)) continue;
    const box = chunk.node.getBoundingClientRect();
    const distance = box.bottom < 0 ? -box.bottom : box.top - height;
    if (distance > far) candidates.push([distance, chunk]);
  }
  candidates.sort((a, b) => b[0] - a[0]);
  const gone = new Set();
  let left = grid.items.length;
  // Down to three quarters, so the next page does not let go of a chunk every time.
  for (const [, chunk] of candidates) {
    if (left <= HELD * 0.75) break;
    left -= chunk.items.length;
    for (const item of chunk.items) {
      gone.add(item.id);
      grid.where.delete(item.id);
    }
    chunk.first = { id: chunk.items[0].id, taken_at: chunk.items[0].taken_at };
    chunk.items = null;
  }
  if (gone.size) grid.items = grid.items.filter((item) => !gone.has(item.id));
}

/** A chunk's items again (a promise): one request from its first capture's time. */
export function recall(grid, chunk) {
  if (chunk.items) return Promise.resolve();
  chunk.loading ??= grid.load(chunk.first, chunk.count).then((reply) => {
    chunk.loading = null;
    if (!chunk.section.chunks.includes(chunk) || !grid.sections.includes(chunk.section)) return; // cleared meanwhile
    // The listing from that instant may start with captures of the same time that come before.
    const from = Math.max(0, reply.items.findIndex((item) => item.id === chunk.first.id));
    const items = reply.items.slice(from).filter((item) => !grid.where.has(item.id)).slice(0, chunk.count);
    let at = 0; // where they go in `items`: after those held of the chunks before
    for (const other of grid.chunks()) {
      if (other === chunk) break;
      at += other.items?.length ?? 0;
    }
    grid.listed += items.length - chunk.count; // deleted meanwhile: fewer
    Object.assign(chunk, { items, count: items.length });
    for (const item of items) grid.where.set(item.id, chunk);
    grid.items.splice(at, 0, ...items);
    grid.showHeld();
  }, () => {
    chunk.loading = null; // aborted by new filters, or failed: the next approach asks again
  });
  return chunk.loading;
}

/** The chunks either side of `id`'s, with their items (a promise). */
export function around(grid, id) {
  const all = grid.chunks();
  const at = all.indexOf(grid.where.get(id));
  if (at < 0) return Promise.resolve();
  return Promise.all([all[at - 1], all[at + 1]].filter((chunk) => chunk && !chunk.items).map((chunk) => recall(grid, chunk)));
}
