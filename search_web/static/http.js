// The page's HTTP client for the JSON API. Callers that may be overtaken (a new filter, a jump
// on the timeline) pass an AbortController's signal: the old request is cancelled in the
// browser, not merely ignored when it answers.

// How long the page waits before asking again after the server or Redis could not answer.
export const RETRY_MS = 5000;

export class ApiError extends Error {
  constructor(status, message, body = {}) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

/** True for the rejection of a request its caller aborted: nothing to report. */
export const isAbort = (err) => err?.name === "AbortError";

/** Fetch JSON; any failure becomes an ApiError with the API's own message when it sent one. */
export async function api(path, options = {}) {
  let response;
  try {
    response = await fetch(path, { headers: { Accept: "application/json" }, ...options });
  } catch (err) {
    if (isAbort(err)) throw err;
    throw new ApiError(0, "The pigallery server cannot be reached.");
  }
  let body = {};
  if (response.status !== 204) {
    try {
      body = await response.json();
    } catch (err) {
      if (isAbort(err)) throw err;
      if (response.ok) throw new ApiError(response.status, "The server sent a reply that is not JSON.");
    }
  }
  if (!response.ok) {
    const message = body.message || body.error || response.statusText || "request failed";
    throw new ApiError(response.status, message, body);
  }
  return body;
}

/** A sentence of the API's message: "retry shortly" becomes "retry shortly." before more text follows. */
export function sentence(text) {
  const trimmed = String(text || "").trim();
  return !trimmed || /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}
