import type { ServerResponse } from 'node:http';

/**
 * The arguments of a deferred `writeHead`, with a `Set-Cookie` in its headers object merged with the
 * one the save set: Node lets the object's value replace the header set before.
 */
function keepCookies(res: ServerResponse, args: unknown[]): unknown[] {
  const i = typeof args[1] === 'string' ? 2 : 1;
  const headers = args[i];
  const ours = res.getHeader('set-cookie');
  if (ours === undefined || typeof headers !== 'object' || headers === null || Array.isArray(headers)) {
    return args;
  }
  const key = Object.keys(headers).find((k) => k.toLowerCase() === 'set-cookie');
  if (key === undefined) return args;
  const theirs = (headers as Record<string, unknown>)[key];
  const merged = [...[theirs].flat(), ...[ours].flat()].map(String);
  const copy = [...args];
  copy[i] = { ...headers, [key]: merged };
  return copy;
}

/**
 * Makes `res` wait for `save` before its headers leave, however they are written: the first
 * `write` (streamed bodies), `writeHead` (a redirect or an SSE route written by hand),
 * `flushHeaders`, or `end`. Those calls are deferred until `save` has finished (and set its headers;
 * Node writes headers synchronously, the save is async), then replayed in order; a write or end made
 * meanwhile queues behind them, and `res.headersSent` stays false until then. A streamed response
 * saves once more before its end, for changes made after the first write. When a save rejects, the
 * queue is dropped, `res` gets its own methods back and `fail` answers (the app's error handler
 * through `next(err)`, or Express's, which aborts a response already started).
 *
 * Works on any `node:http` response, so the Express middleware and its express-session drop-in
 * (which also runs under Connect and a bare `http.createServer`) share it.
 */
export function holdUntilSaved(
  res: ServerResponse,
  save: () => Promise<void>,
  fail: (error: unknown) => void,
): void {
  const { write, end, writeHead, flushHeaders } = res;
  type Raw = (...a: unknown[]) => unknown;
  let state: 'idle' | 'saving' | 'saved' = 'idle';
  const queued: (() => void)[] = [];
  const restoreHeaderWrites = (): void => {
    res.write = write;
    res.writeHead = writeHead;
    res.flushHeaders = flushHeaders;
  };
  const restore = (): void => {
    restoreHeaderWrites();
    res.end = end;
  };
  const failed = (error: unknown): void => {
    queued.length = 0;
    restore();
    fail(error);
  };
  const afterSave = (op: () => void): void => {
    if (state === 'saved') {
      op();
      return;
    }
    queued.push(op);
    if (state === 'saving') return;
    state = 'saving';
    save().then(() => {
      state = 'saved';
      restoreHeaderWrites();
      for (const queuedOp of queued.splice(0)) queuedOp();
    }, failed);
  };
  res.write = ((...args: unknown[]): boolean => {
    afterSave(() => (write as Raw).apply(res, args));
    return true;
  }) as ServerResponse['write'];
  res.writeHead = function (this: ServerResponse, ...args: unknown[]): ServerResponse {
    afterSave(() => (writeHead as Raw).apply(res, keepCookies(res, args)));
    return this;
  } as ServerResponse['writeHead'];
  res.flushHeaders = (): void => {
    afterSave(() => flushHeaders.call(res));
  };
  res.end = function (this: ServerResponse, ...args: unknown[]): ServerResponse {
    const streamed = state !== 'idle';
    res.end = function (this: ServerResponse) {
      return this; // a second end() while saving
    } as ServerResponse['end'];
    afterSave(() => {
      const finish = (): void => {
        restore();
        (end as Raw).apply(res, args);
      };
      // Streamed: changes made after the first write still need saving before the end.
      if (streamed) save().then(finish, failed);
      else finish();
    });
    return this;
  } as ServerResponse['end'];
}
