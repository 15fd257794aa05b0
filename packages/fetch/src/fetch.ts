import {
  type CommitResult,
  requestInfo as coreRequestInfo,
  type RequestInfo,
  type SessionError,
} from '@kv-session/core';

/**
 * Reads what core needs from a Web `Request`: the `Cookie` header, the id header named `header`
 * (if configured) and whether the request came over HTTPS (from the URL, or from the first
 * `X-Forwarded-Proto` value when `trustProxy` is set).
 */
export function requestInfo(
  request: Request,
  options: { header?: string | undefined; trustProxy?: boolean | undefined } = {},
): RequestInfo {
  return coreRequestInfo(request.headers, options.header, {
    secure: request.url.startsWith('https:'),
    trustProxy: options.trustProxy,
  });
}

function hasNothing(result: CommitResult): boolean {
  return result.setCookie === undefined && Object.keys(result.headers).length === 0;
}

function addTo(headers: Headers, result: CommitResult): void {
  if (result.setCookie !== undefined) headers.append('set-cookie', result.setCookie);
  for (const [name, value] of Object.entries(result.headers)) headers.set(name, value);
}

/**
 * Adds a commit's `Set-Cookie` and id header to a response. Returns the same `Response` when its
 * headers are mutable, otherwise a copy with the same body and status (responses from `fetch()` and
 * `Response.redirect()` have immutable headers).
 */
export function applyCommit(response: Response, result: CommitResult): Response {
  if (hasNothing(result)) return response;
  try {
    addTo(response.headers, result);
    return response;
  } catch {
    // Immutable headers (TypeError): copy. Nothing was added, since append is the first call that can throw.
    const headers = new Headers(response.headers);
    addTo(headers, result);
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  }
}

/**
 * A plain-text error response for a {@link SessionError}: its `status` (503 when storage is
 * unavailable), and its message only when the error is safe to show (`expose`, i.e. status < 500).
 */
export function errorResponse(error: SessionError): Response {
  if (!error.expose) return error.getResponse();
  return new Response(error.message, {
    status: error.status,
    headers: { 'content-type': 'text/plain; charset=utf-8' },
  });
}
