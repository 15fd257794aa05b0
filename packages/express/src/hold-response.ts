import { ServerResponse } from 'node:http';

/** The response methods a hold replaces until the save has finished. */
const HELD = ['write', 'end', 'writeHead', 'flushHeaders'] as const;
type HeldName = (typeof HELD)[number];
type Raw = (this: ServerResponse, ...args: unknown[]) => unknown;
type Replacements = Partial<Record<HeldName, Raw>>;

/**
 * The replacements of held responses whose prototype dispatches them (see {@link dispatchFrom}).
 * A WeakMap, not a property of the response: adding four methods to a response object (Node's
 * ServerResponse already has dozens of fields) turns it into a slow dictionary-mode object, and
 * every later field access of Node's HTTP code on it pays: `bench/icount.js` counted 150 k more
 * instructions per request (an Express `/get` is about 1 M) for four own methods that changed nothing.
 */
const replaced = new WeakMap<object, Replacements>();

/** Prototypes whose held methods already dispatch through {@link replaced}. */
const dispatching = new WeakSet<object>();

/**
 * The prototype right above `base` in `obj`'s chain. For an Express request or response (base
 * `IncomingMessage.prototype` or `ServerResponse.prototype`) that is Express's `request` or
 * `response` object, which every app (and mounted sub-app) of one copy of Express shares. Undefined
 * when `base` is `obj`'s own prototype (a bare `node:http` object) or not in its chain.
 */
export function prototypeAbove(obj: object, base: object): object | undefined {
  let target = Object.getPrototypeOf(obj) as object | null;
  while (target !== null && target !== base) {
    const parent = Object.getPrototypeOf(target) as object | null;
    if (parent === base) return target;
    target = parent;
  }
  return undefined;
}

/** Express's response prototype of `res` (see {@link prototypeAbove}). */
function frameworkPrototype(res: ServerResponse): object | undefined {
  return prototypeAbove(res, ServerResponse.prototype);
}

/**
 * Makes `proto`'s held methods call the replacement of the response they run on, when it has one,
 * else the method they replace (once per prototype). Code that looked `res.end` up before the hold
 * was installed (`res.end(await req.session.data())`, a compression middleware's saved `end`) still
 * reaches the hold.
 */
function dispatchFrom(proto: object): void {
  if (dispatching.has(proto)) return;
  const target = proto as Record<HeldName, Raw>;
  for (const name of HELD) {
    const original = target[name];
    const dispatch = function (this: ServerResponse, ...args: unknown[]): unknown {
      const fn = replaced.get(this)?.[name];
      return (fn ?? original).apply(this, args);
    };
    Object.defineProperty(proto, name, { value: dispatch, writable: true, configurable: true });
  }
  dispatching.add(proto);
}

/**
 * Prepares the prototype of `res` so that a hold installed later on any response sharing it is
 * reached even through a method looked up before (see {@link dispatchFrom}). False for a response
 * without a framework prototype (a bare `node:http` one), whose hold then uses own properties.
 */
export function dispatchHolds(res: ServerResponse): boolean {
  const proto = frameworkPrototype(res);
  if (proto === undefined) return false;
  dispatchFrom(proto);
  return true;
}

/** Installs and removes the replacements of one response's held methods. */
interface MethodTable {
  /**
   * What a replaced call goes to once the save is done: on an Express response the prototype's
   * dispatcher (the method it replaced, once reset; not a wrapper some middleware set on `res`,
   * which would then run twice), on a bare one the method `res` had.
   */
  readonly original: Readonly<Record<HeldName, Raw>>;
  set(name: HeldName, fn: Raw): void;
  /** Back to the response's own methods (the names given). */
  reset(names: readonly HeldName[]): void;
}

function methodTable(res: ServerResponse): MethodTable {
  const proto = frameworkPrototype(res);
  if (proto !== undefined) {
    dispatchFrom(proto);
    return {
      original: proto as Record<HeldName, Raw>,
      set(name, fn) {
        const table = replaced.get(res);
        if (table === undefined) replaced.set(res, { [name]: fn });
        else table[name] = fn;
      },
      reset(names) {
        const table = replaced.get(res);
        if (table !== undefined) for (const name of names) delete table[name];
      },
    };
  }
  // A bare node:http response: own properties (its shape matters less than losing the hold).
  const target = res as unknown as Record<HeldName, Raw>;
  const own = Object.fromEntries(HELD.map((name) => [name, target[name]])) as Record<HeldName, Raw>;
  return {
    original: own,
    set(name, fn) {
      target[name] = fn;
    },
    reset(names) {
      for (const name of names) target[name] = own[name];
    },
  };
}

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

const HEADER_WRITES = ['write', 'writeHead', 'flushHeaders'] as const;

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
 * On an Express response the replacements are dispatched from Express's response prototype (see
 * {@link dispatchFrom}), so the response object keeps its shape; on a bare `node:http` response
 * they are its own properties. Works on both, so the Express middleware and its express-session
 * drop-in (which also runs under Connect and a bare `http.createServer`) share it.
 */
export function holdUntilSaved(
  res: ServerResponse,
  save: () => Promise<void>,
  fail: (error: unknown) => void,
): void {
  const methods = methodTable(res);
  const { write, end, writeHead, flushHeaders } = methods.original;
  const call = (fn: Raw, args: unknown[]): unknown => fn.apply(res, args);
  let state: 'idle' | 'saving' | 'saved' = 'idle';
  const queued: (() => void)[] = [];
  const failed = (error: unknown): void => {
    queued.length = 0;
    methods.reset(HELD);
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
      methods.reset(HEADER_WRITES);
      for (const queuedOp of queued.splice(0)) queuedOp();
    }, failed);
  };
  methods.set('write', (...args: unknown[]): boolean => {
    afterSave(() => call(write, args));
    return true;
  });
  methods.set('writeHead', function (this: ServerResponse, ...args: unknown[]): ServerResponse {
    afterSave(() => call(writeHead, keepCookies(res, args)));
    return this;
  });
  methods.set('flushHeaders', (): void => {
    afterSave(() => call(flushHeaders, []));
  });
  methods.set('end', function (this: ServerResponse, ...args: unknown[]): ServerResponse {
    const streamed = state !== 'idle';
    methods.set('end', function (this: ServerResponse) {
      return this; // a second end() while saving
    });
    afterSave(() => {
      const finish = (): void => {
        methods.reset(HELD);
        call(end, args);
      };
      // Streamed: changes made after the first write still need saving before the end.
      if (streamed) save().then(finish, failed);
      else finish();
    });
    return this;
  });
}
