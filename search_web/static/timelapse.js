// "Make time-lapse": a job of POST /api/timelapses with the grid's current filters, its progress,
// then the finished MP4 in a <video> with a download link. The API token is asked for as for
// deletes, and kept for the tab (sessionStorage, the same key) once the API accepts it.
import { formatBytes, formatNumber } from "./format.js";
import { ApiError, api } from "./http.js";
import { bearer, forgetToken, keepToken, savedToken } from "./token.js";

const POLL_MS = 700;
// Query parameters of the grid that are no filters of a time-lapse.
const NOT_FILTERS = new Set(["sort", "limit", "cursor", "start"]);
const LIST_FILTERS = new Set(["device", "trigger", "camera_make", "camera_model"]);
const STATES = { queued: "Waiting for the encoder…", selecting: "Selecting frames…", encoding: "Encoding", storing: "Storing the video…" };
const $ = (id) => document.getElementById(id);

/** The filters as the JSON body wants them: a repeated parameter becomes a list. */
export function filtersBody(params) {
  const body = {};
  for (const [name, value] of params) {
    if (NOT_FILTERS.has(name)) continue;
    if (name in body) body[name] = [].concat(body[name], value);
    else body[name] = LIST_FILTERS.has(name) ? [value] : value;
  }
  return body;
}

function seconds(value) {
  if (value === null || value === undefined) return "";
  if (value < 90) return `about ${Math.max(1, Math.round(value))} s left`;
  return `about ${Math.round(value / 60)} min left`;
}

/** Wire the button and dialog; `currentParams()` returns the grid's API parameters. */
export function initTimelapse(currentParams) {
  const dialog = $("timelapse");
  const open = $("timelapse-open");
  if (!dialog || !open) return; // no token on the server: no button
  let job = null; // the job shown: its status
  let timer = null;
  let opener = null;

  const show = (part) => {
    $("tl-form").hidden = part !== "form";
    $("tl-progress-box").hidden = part !== "progress";
    $("tl-result").hidden = part !== "result";
    $("tl-start").hidden = part !== "form";
    $("tl-cancel").hidden = part !== "progress";
    $("tl-download").hidden = part !== "result";
    $("tl-again").hidden = part !== "result";
  };
  const close = () => {
    dialog.classList.remove("is-active");
    $("tl-video").pause();
    opener?.focus();
  };
  const fail = (message) => {
    $("tl-error").textContent = message;
  };

  open.addEventListener("click", () => {
    opener = open;
    $("tl-scope").textContent = `Of the captures matching the current filters (${$("total")?.textContent || "…"}).`;
    $("tl-token-field").hidden = Boolean(savedToken());
    if (!job) show("form");
    dialog.classList.add("is-active");
    (job ? $("tl-close") : $("tl-start")).focus();
  });
  for (const button of dialog.querySelectorAll("[data-tl-close]")) button.addEventListener("click", close);
  dialog.addEventListener("keydown", (event) => {
    if (event.key === "Escape") close();
  });
  $("tl-form").addEventListener("submit", (event) => {
    event.preventDefault();
    start();
  });
  $("tl-start").addEventListener("click", start);
  $("tl-cancel").addEventListener("click", cancel);
  $("tl-again").addEventListener("click", () => {
    job = null;
    $("tl-video").removeAttribute("src");
    $("tl-video").load();
    show("form");
  });

  function options() {
    const form = $("tl-form").elements;
    const body = filtersBody(currentParams());
    const sample = form["tl-sample"].value;
    if (sample === "every") body.every = form.every.value.trim();
    if (sample === "daily_at") {
      body.daily_at = form.daily_at.value;
      const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
      if (zone && !body.tz) body.tz = zone; // the day and the time are the viewer's
    }
    const duration = form.duration.value.trim();
    if (duration) body.duration = Number(duration);
    else if (form.fps.value.trim()) body.fps = Number(form.fps.value);
    for (const name of ["width", "height"]) if (form[name].value.trim()) body[name] = Number(form[name].value);
    if (form.deflicker.checked) body.deflicker = true;
    return body;
  }

  async function start() {
    fail("");
    const token = savedToken() || $("tl-token").value.trim();
    if (!token) {
      $("tl-token-field").hidden = false;
      fail("Enter the API token to make a time-lapse.");
      $("tl-token").focus();
      return;
    }
    $("tl-start").classList.add("is-loading");
    try {
      job = await api("/api/timelapses", {
        method: "POST",
        headers: { ...bearer(token), "Content-Type": "application/json" },
        body: JSON.stringify(options()),
      });
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        forgetToken();
        $("tl-token-field").hidden = false;
        fail("The API token was refused: enter it again.");
      } else {
        fail(err.message);
      }
      return;
    } finally {
      $("tl-start").classList.remove("is-loading");
    }
    keepToken(token);
    $("tl-token").value = "";
    show("progress");
    render(job);
    poll();
  }

  function poll() {
    clearTimeout(timer);
    const id = job?.id;
    if (!id) return;
    timer = setTimeout(async () => {
      let status;
      try {
        status = await api(`/api/timelapses/${encodeURIComponent(id)}`);
      } catch (err) {
        if (job?.id !== id) return;
        if (err.status === 404) {
          job = null;
          show("form");
          fail("The time-lapse is gone (cancelled or expired).");
          return;
        }
        $("tl-progress-text").textContent = `${err.message} Retrying…`;
        poll();
        return;
      }
      if (job?.id !== id) return; // cancelled meanwhile
      job = status;
      render(status);
      if (status.state !== "done" && status.state !== "failed") poll();
    }, POLL_MS);
  }

  function render(status) {
    const bar = $("tl-progress");
    if (status.state === "done") {
      show("result");
      const video = $("tl-video");
      video.src = status.video_url;
      $("tl-download").href = status.video_url;
      $("tl-download").setAttribute("download", `timelapse-${status.id.slice(0, 8)}.mp4`);
      const notes = status.thumbnail_frames ? `; ${formatNumber(status.thumbnail_frames)} from thumbnails (full image expired)` : "";
      $("tl-result-text").textContent = `${formatNumber(status.frames_done)} frames, ${status.width}×${status.height}, `
        + `${status.duration.toFixed(1)} s at ${Number(status.fps.toFixed(2))} fps, ${formatBytes(status.size_bytes)}${notes}. `
        + `Kept until ${new Date(status.expires_at).toLocaleString()}.`;
      return;
    }
    if (status.state === "failed") {
      job = null;
      show("form");
      fail(`The time-lapse failed: ${status.error || "unknown error"}`);
      return;
    }
    show("progress");
    bar.value = status.progress;
    bar.textContent = `${Math.round(status.progress * 100)}%`;
    const counts = status.frames_total ? `${formatNumber(status.frames_done)} / ${formatNumber(status.frames_total)} frames` : "";
    $("tl-progress-text").textContent = [STATES[status.state] || status.state, counts, seconds(status.eta_seconds)]
      .filter(Boolean).join(" · ");
  }

  async function cancel() {
    if (!job) return;
    const id = job.id;
    const token = savedToken();
    job = null;
    clearTimeout(timer);
    try {
      await api(`/api/timelapses/${encodeURIComponent(id)}`, { method: "DELETE", headers: bearer(token) });
      show("form");
      fail("Cancelled.");
    } catch (err) {
      show("form");
      fail(err.message);
    }
  }
}
