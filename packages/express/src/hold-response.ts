import { ServerResponse } from 'node:http';

/** The response methods a hold replaces until the save has finished. */
const HELD = ['write', 'end', 'writeHead', 'flushHeaders'] as const;
type HeldName = (typeof HELD)[number];
type Raw = (this: ServerResponse, ...args: unknown[]) => unknown;

/**
 * The hold of each held response whose prototype dispatches it (see {@link dispatchFrom}). A
 * WeakMap, not a property of the response: adding methods to a response object (Node's
 * ServerResponse already has dozens of fields) turns it into a slow dictionary-mode object, and
 * every later field access of Node's HTTP code on it pays: `bench/icount.js` counted 150 k more
 * instructions per request (an Express `/get` is about 1 M) for four own methods that changed nothing.
 */
const holds = new WeakMap<object, Hold>();

/** Prototypes whose held methods already dispatch through {@link holds}. */
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
    const bit = BITS[name];
    const dispatch = function (this: ServerResponse, ...args: unknown[]): unknown {
      const hold = holds.get(this);
      return hold !== undefined && (hold.held & bit) !== 0
        ? hold.call(name, args)
        : original.apply(this, args);
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

/** One bit per held method, for {@link Hold.held}. */
const BITS: Readonly<Record<HeldName, number>> = { write: 1, writeHead: 2, flushHeaders: 4, end: 8 };
const HEADER_WRITES = 1 | 2 | 4;
const ALL = HEADER_WRITES | 8;

/**
 * The state of one held response (see {@link holdUntilSaved}): one object per response, its
 * replaced methods dispatched to {@link call} by name, rather than a closure per method and per
 * deferred call (fewer objects live across the save, which on Express's busy heap are promoted and
 * collected by full GCs).
 */
class Hold {
  /** The held methods (bits of {@link BITS}) that still go to {@link call}. */
  held = ALL;
  readonly #res: ServerResponse;
  readonly #save: () => Promise<void> | void;
  readonly #fail: (error: unknown) => void;
  /**
   * What a replaced call goes to once the save is done: on an Express response the prototype's
   * dispatcher (the method it replaced, once released; not a wrapper some middleware set on `res`,
   * which would then run twice), on a bare one the method `res` had.
   */
  readonly #original: Readonly<Record<HeldName, Raw>>;
  /** A bare node:http response's own methods, put back on release; undefined on Express's. */
  readonly #own: Readonly<Record<HeldName, Raw>> | undefined;
  #state: 'idle' | 'saving' | 'saved' = 'idle';
  /** Calls deferred until the save is done, in order; made on first use. */
  #queued: (() => void)[] | undefined;
  #ended = false;

  constructor(
    res: ServerResponse,
    save: () => Promise<void> | void,
    fail: (error: unknown) => void,
    original: Readonly<Record<HeldName, Raw>>,
    own: Readonly<Record<HeldName, Raw>> | undefined,
  ) {
    this.#res = res;
    this.#save = save;
    this.#fail = fail;
    this.#original = original;
    this.#own = own;
  }

  /** A call of the held method `name`. */
  call(name: HeldName, args: unknown[]): unknown {
    const res = this.#res;
    switch (name) {
      case 'write':
        this.#afterSave(() => this.#original.write.apply(res, args));
        return true;
      case 'writeHead':
        this.#afterSave(() => this.#original.writeHead.apply(res, keepCookies(res, args)));
        return res;
      case 'flushHeaders':
        this.#afterSave(() => this.#original.flushHeaders.apply(res, []));
        return undefined;
      default:
        return this.#end(args);
    }
  }

  #end(args: unknown[]): ServerResponse {
    const res = this.#res;
    if (this.#ended) return res; // a second end() while saving
    this.#ended = true;
    // The usual case (the body sent with one end()) saves now, without queueing a call first.
    if (this.#state === 'idle') this.#saveThenEnd(args);
    // Streamed: changes made after the first write still need saving before the end.
    else this.#afterSave(() => this.#saveThenEnd(args));
    return res;
  }

  /** Saves, then ends the response: at once when the save finished at once. */
  #saveThenEnd(args: unknown[]): void {
    const started = this.#start();
    if (started === 'done') this.#finish(args);
    else if (started === 'pending') this.#queue(() => this.#finish(args));
  }

  /** Runs `op` once the save is done (at once when it is), in the order of the calls. */
  #afterSave(op: () => void): void {
    if (this.#state === 'saved') {
      op();
      return;
    }
    this.#queue(op);
    if (this.#state === 'idle') this.#start();
  }

  #queue(op: () => void): void {
    if (this.#queued === undefined) this.#queued = [op];
    else this.#queued.push(op);
  }

  /**
   * Starts the save. 'done': it finished at once, the header writes are released and the queued
   * calls ran; 'pending': they run when it fulfils; 'failed': it threw, and `fail` was called.
   */
  #start(): 'done' | 'pending' | 'failed' {
    this.#state = 'saving';
    let saving: Promise<void> | void;
    try {
      saving = this.#save();
    } catch (error) {
      this.#failed(error);
      return 'failed';
    }
    if (saving instanceof Promise) {
      saving.then(this.#saved, this.#failed);
      return 'pending';
    }
    this.#saved();
    return 'done';
  }

  readonly #saved = (): void => {
    this.#state = 'saved';
    this.#release(HEADER_WRITES);
    const queued = this.#queued;
    this.#queued = undefined;
    if (queued !== undefined) for (const op of queued) op();
  };

  readonly #failed = (error: unknown): void => {
    this.#queued = undefined;
    this.#release(ALL);
    this.#fail(error);
  };

  #finish(args: unknown[]): void {
    this.#release(ALL);
    this.#original.end.apply(this.#res, args);
  }

  /** Gives the response its own methods back (the bits of `mask`); all of them: the hold is over. */
  #release(mask: number): void {
    this.held &= ~mask;
    const own = this.#own;
    if (own === undefined) {
      // Its entry is dropped once the hold is over: V8's young-generation GC keeps a WeakMap value
      // (this hold, and through it the response) alive for one more collection after its key died.
      if (this.held === 0) holds.delete(this.#res);
      return;
    }
    const target = this.#res as unknown as Record<HeldName, Raw>;
    for (const name of HELD) if ((mask & BITS[name]) !== 0) target[name] = own[name];
  }
}

/**
 * Makes `res` wait for `save` before its headers leave, however they are written: the first
 * `write` (streamed bodies), `writeHead` (a redirect or an SSE route written by hand),
 * `flushHeaders`, or `end`. Those calls are deferred until `save` has finished (and set its headers;
 * Node writes headers synchronously, the save is async), then replayed in order; a write or end made
 * meanwhile queues behind them, and `res.headersSent` stays false until then. A `save` that returns
 * no promise has finished: the call goes on in the same tick (a read-only session with nothing to
 * store). A streamed response saves once more before its end, for changes made after the first
 * write. When a save rejects (or throws), the queue is dropped, `res` gets its own methods back and
 * `fail` answers (the app's error handler through `next(err)`, or Express's, which aborts a response
 * already started).
 *
 * On an Express response the held calls are dispatched from Express's response prototype (see
 * {@link dispatchFrom}), so the response object keeps its shape; on a bare `node:http` response
 * they are its own properties. Works on both, so the Express middleware and its express-session
 * drop-in (which also runs under Connect and a bare `http.createServer`) share it.
 */
export function holdUntilSaved(
  res: ServerResponse,
  save: () => Promise<void> | void,
  fail: (error: unknown) => void,
): void {
  const proto = frameworkPrototype(res);
  if (proto !== undefined) {
    dispatchFrom(proto);
    holds.set(res, new Hold(res, save, fail, proto as Record<HeldName, Raw>, undefined));
    return;
  }
  // A bare node:http response: own properties (its shape matters less than losing the hold).
  const target = res as unknown as Record<HeldName, Raw>;
  const own = Object.fromEntries(HELD.map((name) => [name, target[name]])) as Record<HeldName, Raw>;
  const hold = new Hold(res, save, fail, own, own);
  for (const name of HELD) {
    target[name] = function (this: ServerResponse, ...args: unknown[]): unknown {
      return hold.call(name, args);
    };
  }
}
