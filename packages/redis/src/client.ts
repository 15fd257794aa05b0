import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { SessionError, StorageError, StorageUnavailableError } from '@kv-session/core';
import { type IoredisClientLike, IoredisDriver, isIoredisClient } from './driver-ioredis.js';

/** Options of a script call, as node-redis's `eval`/`evalSha` take them. */
export interface ScriptCallOptions {
  keys: string[];
  /** Strings, or Buffers sent as they are (a value read as a Buffer goes back without re-encoding). */
  arguments: (string | Buffer)[];
}

/**
 * The part of a node-redis client that {@link StorageRedisKV} uses. Typed structurally so that the
 * results of `createClient`, `createCluster` and `createSentinel` all fit (with any modules, scripts,
 * RESP version or type mapping), without importing classes that only some of them have.
 */
export interface RedisClientLike {
  get(key: string): Promise<unknown>;
  getEx(key: string, options: { type: 'PX'; value: number }): Promise<unknown>;
  set(
    key: string,
    value: string,
    options: { expiration: { type: 'PX'; value: number }; condition?: 'NX' },
  ): Promise<unknown>;
  pExpire(key: string, milliseconds: number): Promise<unknown>;
  del(key: string): Promise<unknown>;
  eval(script: string, options: ScriptCallOptions): Promise<unknown>;
  evalSha(sha1: string, options: ScriptCallOptions): Promise<unknown>;
}

/** Server replies that mean "not available right now" rather than "this command is wrong". */
const UNAVAILABLE_REPLIES = /^(LOADING|CLUSTERDOWN|TRYAGAIN|MASTERDOWN|READONLY|BUSY|MOVED|ASK)\b/;

/** Errors that are programming mistakes, not connectivity problems. */
function isProgrammingError(error: unknown): boolean {
  return error instanceof TypeError || error instanceof RangeError || error instanceof SyntaxError;
}

/** Class names of the reply errors of node-redis (`ErrorReply` and subclasses) and ioredis (`ReplyError`). */
const REPLY_ERROR_CLASSES: ReadonlySet<string> = new Set(['ErrorReply', 'ReplyError']);

/** The class name of node-redis's abort of a queued command ("The command was aborted"). */
const ABORT_ERROR_CLASSES: ReadonlySet<string> = new Set(['AbortError']);

/**
 * Whether `error` is an Error of a class named in `names`, or of a subclass of one. Recognised by
 * class name along the prototype chain, so that a second copy of the client library in
 * node_modules still works, and so that neither library has to be loaded.
 */
function isErrorOfClass(error: unknown, names: ReadonlySet<string>): error is Error {
  let proto: unknown = error instanceof Error ? Object.getPrototypeOf(error) : null;
  while (proto !== null && proto !== Error.prototype) {
    const name = (proto as { constructor?: { name?: unknown } }).constructor?.name;
    if (typeof name === 'string' && names.has(name)) return true;
    proto = Object.getPrototypeOf(proto);
  }
  return false;
}

/**
 * True for a reply error sent by the server (node-redis `ErrorReply` and subclasses, ioredis
 * `ReplyError`), recognised by class name ({@link isErrorOfClass}).
 */
export function isErrorReply(error: unknown): error is Error {
  return isErrorOfClass(error, REPLY_ERROR_CLASSES);
}

/**
 * Maps a node-redis or ioredis failure to a kv-session error: server replies are {@link StorageError} (except
 * the "try later" ones), everything else (socket closed, offline, timeouts, refused connections) is
 * {@link StorageUnavailableError}, which adapters answer with 503.
 */
export function toStorageError(error: unknown, operation: string): StorageError | StorageUnavailableError {
  const message = error instanceof Error ? error.message : String(error);
  if (isErrorReply(error) ? UNAVAILABLE_REPLIES.test(message) : !isProgrammingError(error)) {
    return new StorageUnavailableError(`Redis is unavailable (${operation}): ${message}`, { cause: error });
  }
  return new StorageError(`Redis ${operation} failed: ${message}`, { cause: error });
}

/** Text of a string reply (node-redis returns a Buffer under a Buffer type mapping); undefined for nil. */
export function replyText(reply: unknown, operation: string): string | undefined {
  if (reply === null || reply === undefined) return undefined;
  if (typeof reply === 'string') return reply;
  if (Buffer.isBuffer(reply)) return reply.toString('utf8');
  throw new StorageError(`Redis ${operation} returned an unexpected reply of type ${typeof reply}`);
}

/**
 * Gives node-redis commands an abort signal that fires `timeoutMs` after the start of the slice of
 * time in which they were issued, so never after their own deadline: a command still waiting in the
 * client's offline queue then is dropped rather than sent when the connection comes back (a write
 * reported as failed is not applied later). node-redis removes the listener when it writes a
 * command, so one signal serves every command of a slice (at most 100 ms, or a quarter of the
 * timeout). node-redis's own per-command `timeout` option would create an `AbortSignal.timeout()`
 * for every command, which measured as the largest CPU cost of a read (about 15 µs each). Reads on
 * a connected client go without the signal ({@link reader}).
 *
 * Clients without `withCommandOptions` (the Sentinel client ignores it; see `masterReadiness`)
 * are used as they are.
 */
class OfflineDeadline<C extends object> {
  readonly #client: C;
  readonly #withOptions: ((options: object) => C) | undefined;
  readonly #own: object | undefined;
  readonly #timeoutMs: number;
  readonly #sliceMs: number;
  #proxy: C;
  /** #proxy with bulk strings answered as Buffers; made on first use in a slice. */
  #bufferProxy: C | undefined;
  #signal: AbortSignal | undefined;
  #until = 0;

  constructor(client: C, timeoutMs: number) {
    const c = client as {
      withCommandOptions?: unknown;
      _commandOptions?: object;
      options?: { commandOptions?: object };
    };
    this.#client = client;
    this.#proxy = client;
    const withOptions = c.withCommandOptions;
    this.#withOptions =
      typeof withOptions === 'function' ? (options) => withOptions.call(client, options) as C : undefined;
    // Keep the client's own command options (a type mapping, which also decides cacheability).
    this.#own = c._commandOptions ?? c.options?.commandOptions;
    this.#timeoutMs = timeoutMs;
    this.#sliceMs = Math.min(100, timeoutMs / 4);
  }

  /** The client to send the next command through. */
  get client(): C {
    if (this.#withOptions === undefined) return this.#client;
    const now = performance.now();
    if (now >= this.#until || this.#signal?.aborted === true) {
      const controller = new AbortController();
      // Every command of the slice that is not written yet listens to it: no listener limit.
      setMaxListeners(0, controller.signal);
      setTimeout(() => controller.abort(), this.#timeoutMs).unref();
      this.#signal = controller.signal;
      this.#proxy = this.#withOptions({ ...this.#own, abortSignal: controller.signal });
      this.#bufferProxy = undefined;
      this.#until = now + this.#sliceMs;
    }
    return this.#proxy;
  }

  /**
   * The client for a read (a command that changes nothing but the expiry of the key it reads) that
   * may go out late: while the client is connected, the client without abort signal. The command is
   * then written on the client's next write; only if the connection drops before that does it wait
   * for the connection to come back, and sent then, it refreshes an expiry a moment later than
   * asked. Leaving the signal out saves node-redis adding and removing an abort listener per command
   * (about 3 k instructions of a 38 k read; bench/NOTES.md). Offline, or for a client that does not
   * say whether it is connected (a Cluster client), the read gets the signal as any command.
   */
  get reader(): C {
    return (this.#client as { isReady?: unknown }).isReady === true ? this.#client : this.client;
  }

  /** {@link client}, answering bulk strings as Buffers (the client itself where it cannot). */
  get bufferClient(): C {
    const proxy = this.client;
    if (this.#withOptions === undefined || this.#signal === undefined) return proxy;
    if (this.#bufferProxy === undefined) {
      const own = this.#own as { typeMapping?: object } | undefined;
      this.#bufferProxy = this.#withOptions({
        ...own,
        abortSignal: this.#signal,
        typeMapping: { ...own?.typeMapping, [BLOB_STRING]: Buffer },
      });
    }
    return this.#bufferProxy;
  }
}

/** {@link RedisCommands.run} flag: bulk string replies as Buffers where the client can. */
export const BUFFERS = 1;
/** {@link RedisCommands.run} flag: the call only reads (and refreshes an expiry); see there. */
export const READ = 2;

/** node-redis's RESP type of a bulk string reply (`RESP_TYPES.BLOB_STRING`, `$`), in node-redis 5 and 6. */
const BLOB_STRING = 36;

/** How often a command waiting for a Sentinel client's master checks again. */
const READY_POLL_MS = 10;

/**
 * For a node-redis Sentinel client (`createSentinel`): whether it has a connected master right now.
 * Undefined for other clients, which need no such check.
 *
 * Why: a command given to the Sentinel client while its master connection is down does not wait in
 * an offline queue that the abort signal of `OfflineDeadline` empties (the Sentinel client ignores
 * `withCommandOptions`); node-redis 5 (`RedisSentinelInternal.execute`) retries it, rediscovering
 * through the Sentinels, until a master is ready again and then sends it, however long that takes.
 * During a failover that is seconds after the caller was told 503, so a write reported as failed
 * would be applied by the promoted replica.
 */
function masterReadiness(client: object): (() => boolean) | undefined {
  const c = client as { getMasterNode?: unknown; getSentinelNode?: unknown };
  if (typeof c.getMasterNode !== 'function' || typeof c.getSentinelNode !== 'function') return undefined;
  const getMasterNode = c.getMasterNode as () => unknown;
  return () => getMasterNode.call(client) !== undefined;
}

/** What {@link RedisCommands.run} may ask of the client behind a call. */
interface ClientGuard {
  /** Sentinel clients only: whether a master is connected (see `masterReadiness`). */
  ready: (() => boolean) | undefined;
  /** Whether the client says it is not open (never connected, or closed). */
  closed(): boolean;
}

/** The {@link ClientGuard} of a node-redis client of any kind. */
function clientGuard(client: object): ClientGuard {
  return {
    ready: masterReadiness(client),
    closed: () => (client as { isOpen?: unknown }).isOpen === false,
  };
}

/** One call of {@link RedisCommands.run} that has not settled yet, in its storage's {@link Deadlines}. */
interface PendingCall {
  /** performance.now() ms after which the call fails with StorageUnavailableError. */
  readonly deadline: number;
  readonly operation: string;
  readonly reject: (error: Error) => void;
  /** The deadline passed and the call was rejected: its late answer is ignored. */
  expired: boolean;
  prev: PendingCall | undefined;
  next: PendingCall | undefined;
}

/**
 * The deadlines of one storage's pending calls, served by ONE timer rather than a timer (and a
 * `Promise.race`) per call. Every call of a storage gets the same `timeoutMs`, so calls join the
 * list in deadline order: a doubly linked list, oldest deadline first, appended at the tail and
 * unlinked in O(1) when a call settles. The timer is armed for the head's deadline; when it fires it
 * rejects every call whose deadline passed and re-arms for the next head. It is not re-armed when a
 * call settles (a fire with nothing due only re-arms), and it holds the process open only while a
 * call is pending (unref'd when the list empties), as the per-call timers it replaces did.
 */
class Deadlines {
  readonly #timeoutMs: number;
  #head: PendingCall | undefined;
  #tail: PendingCall | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  add(call: PendingCall): void {
    const tail = this.#tail;
    if (tail === undefined) {
      this.#head = call;
      this.#timer?.ref();
    } else {
      tail.next = call;
      call.prev = tail;
    }
    this.#tail = call;
    this.#timer ??= setTimeout(this.#fire, this.#timeoutMs);
  }

  remove(call: PendingCall): void {
    const { prev, next } = call;
    if (prev === undefined) this.#head = next;
    else prev.next = next;
    if (next === undefined) this.#tail = prev;
    else next.prev = prev;
    call.prev = undefined;
    call.next = undefined;
    if (this.#head === undefined) this.#timer?.unref();
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    const now = performance.now();
    let call = this.#head;
    while (call !== undefined && call.deadline <= now) {
      this.remove(call);
      call.expired = true;
      call.reject(timeoutError(call.operation, this.#timeoutMs));
      call = this.#head;
    }
    // Timers fire on whole milliseconds: never re-armed for less than 1 ms.
    if (call !== undefined) this.#timer = setTimeout(this.#fire, Math.max(1, Math.ceil(call.deadline - now)));
  };
}

/** The timeout error of a call of `operation` under `commandTimeout` `timeoutMs`. */
function timeoutError(operation: string, timeoutMs: number): StorageUnavailableError {
  return new StorageUnavailableError(
    `Redis did not answer ${operation} within ${timeoutMs} ms (option commandTimeout)`,
  );
}

/**
 * Maps a failure of one Redis call to a kv-session error (see {@link RedisCommands.run}). Any
 * failure of a client that is not open (a Cluster client that never connected throws a `TypeError`
 * from inside node-redis) is {@link StorageUnavailableError}. node-redis's abort of a command still
 * queued is its deadline passing (the signal of {@link OfflineDeadline} fires at most `timeoutMs`
 * after the call began, possibly a moment before the shared timer of {@link Deadlines}): it reads
 * as the timeout it is.
 */
function callError(error: unknown, operation: string, guard: ClientGuard, timeoutMs: number): Error {
  if (error instanceof SessionError) return error;
  if (isErrorOfClass(error, ABORT_ERROR_CLASSES)) return timeoutError(operation, timeoutMs);
  if (guard.closed()) {
    const message = error instanceof Error ? error.message : String(error);
    return new StorageUnavailableError(
      `Redis is unavailable (${operation}): the client is not open (connect() it first): ${message}`,
      { cause: error },
    );
  }
  return toStorageError(error, operation);
}

/** Resolves once `ready()` is true; rejects once `expired()` is (the caller has timed out). */
async function whenReady(ready: () => boolean, expired: () => boolean): Promise<void> {
  do {
    await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
    if (expired()) throw new StorageUnavailableError('Redis has no master (Sentinel failover?)');
  } while (!ready());
}

/** A Lua script and its SHA1, for `EVALSHA` with an `EVAL` fallback. */
export interface RedisScript {
  readonly source: string;
  readonly sha: string;
}

/** A {@link RedisScript} of `source`. */
export function redisScript(source: string): RedisScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

/** The part of a client that {@link evalScript} needs. */
export interface ScriptClient {
  eval(script: string, options: ScriptCallOptions): Promise<unknown>;
  evalSha(sha1: string, options: ScriptCallOptions): Promise<unknown>;
}

/**
 * How one client library sends the storages' commands: node-redis's own client (through
 * {@link OfflineDeadline}) or ioredis's (through {@link IoredisDriver}, in node-redis's shape).
 */
interface RedisDriver<C> {
  /**
   * The commands of a call whose deadline is `deadline` (performance.now() ms); with
   * {@link BUFFERS}, bulk string replies come as Buffers where the client can (a string
   * otherwise); with {@link READ}, the call only reads (see {@link RedisCommands.run}).
   */
  commands(deadline: number, flags: number): C;
  guard: ClientGuard;
}

/** The driver of `client`, recognised by shape: the user never says which library it is from. */
function driverOf<C extends object>(client: C | IoredisClientLike, timeoutMs: number): RedisDriver<C> {
  if (isIoredisClient(client)) {
    const driver = new IoredisDriver(client);
    return {
      // The driver speaks every command of RedisClientLike, a superset of what any storage uses.
      commands: (deadline, flags) => driver.commands(deadline, (flags & BUFFERS) !== 0) as unknown as C,
      guard: { ready: () => driver.ready(), closed: () => driver.closed() },
    };
  }
  const offline = new OfflineDeadline(client, timeoutMs);
  return {
    // A read that asks for Buffers keeps the signal: no storage makes one (the loads read text).
    commands: (_deadline, flags) =>
      (flags & BUFFERS) !== 0 ? offline.bufferClient : (flags & READ) !== 0 ? offline.reader : offline.client,
    guard: clientGuard(client),
  };
}

/**
 * Runs `script` on `client` with `EVALSHA`, and with `EVAL` (which loads it) when the server does
 * not have it yet. `EVALSHA` is sent synchronously, so that commands issued in the same tick go out
 * in one pipeline with it.
 */
export async function evalScript(
  client: ScriptClient,
  script: RedisScript,
  options: ScriptCallOptions,
): Promise<unknown> {
  try {
    return await client.evalSha(script.sha, options);
  } catch (error) {
    // First use on this server or node (or after SCRIPT FLUSH / a restart): EVAL loads it.
    if (!isErrorReply(error) || !error.message.startsWith('NOSCRIPT')) throw error;
    return client.eval(script.source, options);
  }
}

/**
 * How both Redis storages send commands: each call bounded by `timeoutMs` with its failures mapped
 * to kv-session errors ({@link RedisCommands.run}, one shared timer: {@link Deadlines}), never
 * written to Redis after its deadline (node-redis: {@link OfflineDeadline}, except a read made while
 * the client is connected, see `OfflineDeadline.reader`; ioredis: {@link IoredisDriver}), and, for a
 * Sentinel client, only while it
 * has a master.
 */
export class RedisCommands<C extends ScriptClient> {
  readonly #timeoutMs: number;
  readonly #driver: RedisDriver<C>;
  readonly #deadlines: Deadlines;

  constructor(client: C | IoredisClientLike, timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
    this.#driver = driverOf(client, timeoutMs);
    this.#deadlines = new Deadlines(timeoutMs);
  }

  /**
   * Runs one Redis call, `call(client)`, as described on the class: bounded by `timeoutMs` from now
   * whatever the client's own settings (a timeout is {@link StorageUnavailableError}), its failures
   * mapped to kv-session errors. For a Sentinel client the call is only handed to the client once
   * it has a master; if that does not happen before the deadline, the call is never made. `flags`:
   * with {@link BUFFERS}, bulk string replies come as Buffers where the client allows it
   * (node-redis with command options, ioredis; the caller takes a string too); with {@link READ},
   * the call only reads (and refreshes an expiry), so that sending it after its deadline would
   * change nothing else: on a connected node-redis client it goes without the abort signal
   * (`OfflineDeadline.reader`; not with {@link BUFFERS} too). Its deadline still bounds it.
   */
  run<T>(operation: string, call: (client: C) => Promise<T>, flags = 0): Promise<T> {
    const timeoutMs = this.#timeoutMs;
    const deadline = performance.now() + timeoutMs;
    const driver = this.#driver;
    const deadlines = this.#deadlines;
    return new Promise<T>((resolve, reject) => {
      const pendingCall: PendingCall = {
        deadline,
        operation,
        reject,
        expired: false,
        prev: undefined,
        next: undefined,
      };
      deadlines.add(pendingCall);
      const guard = driver.guard;
      const ready = guard.ready;
      let pending: Promise<T>;
      try {
        pending =
          ready === undefined || ready()
            ? call(driver.commands(deadline, flags))
            : whenReady(ready, () => pendingCall.expired).then(() => call(driver.commands(deadline, flags)));
      } catch (error) {
        pending = Promise.reject(error);
      }
      pending.then(
        (value) => {
          if (pendingCall.expired) return;
          deadlines.remove(pendingCall);
          resolve(value);
        },
        (error: unknown) => {
          // After the deadline the call was already rejected with the timeout: a late failure is dropped.
          if (pendingCall.expired) return;
          deadlines.remove(pendingCall);
          reject(callError(error, operation, guard, timeoutMs));
        },
      );
    });
  }

  /** Runs a script with `EVALSHA`, loading it with `EVAL` when the server does not have it yet. */
  script(operation: string, script: RedisScript, options: ScriptCallOptions): Promise<unknown> {
    return this.run(operation, (client) => evalScript(client, script, options));
  }
}
