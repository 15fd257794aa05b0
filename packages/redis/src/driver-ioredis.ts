import type { RedisClientLike, ScriptCallOptions } from './client.js';

/**
 * The part of an ioredis client (`new Redis()` or `new Cluster()`, ioredis 5 or 6) that the Redis
 * storages use. Typed loosely on purpose (ioredis's overloads differ between majors) and without
 * importing ioredis: it is an optional peer dependency, loaded only by apps that use it.
 */
export interface IoredisClientLike {
  /** ioredis's connection state: `wait`, `connecting`, `connect`, `ready`, `reconnecting`, `close`, `end`... */
  readonly status: string;
  readonly options: object;
  sendCommand(...args: never[]): unknown;
  get(...args: never[]): Promise<unknown>;
  getex(...args: never[]): Promise<unknown>;
  set(...args: never[]): Promise<unknown>;
  pexpire(...args: never[]): Promise<unknown>;
  del(...args: never[]): Promise<unknown>;
  eval(...args: never[]): Promise<unknown>;
  evalsha(...args: never[]): Promise<unknown>;
}

const METHODS = ['sendCommand', 'get', 'getex', 'set', 'pexpire', 'del', 'eval', 'evalsha'] as const;

/** Whether `value` is an ioredis client (recognised by shape: ioredis is never imported to check). */
export function isIoredisClient(value: unknown): value is IoredisClientLike {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v['status'] === 'string' &&
    typeof v['options'] === 'object' &&
    METHODS.every((m) => typeof v[m] === 'function')
  );
}

/** An ioredis `Command` as far as the driver touches it. */
interface IoredisCommand {
  toWritable(socket: unknown): unknown;
}

type Call = (...args: (string | number | Buffer)[]) => Promise<unknown>;

/** The commands the driver sends, called on a view of the client (see {@link IoredisDriver}). */
interface IoredisView {
  get: Call;
  getex: Call;
  /** ioredis's `getex` answering a Buffer (every ioredis major has the `...Buffer` variants). */
  getexBuffer?: Call;
  set: Call;
  pexpire: Call;
  del: Call;
  eval: Call;
  evalsha: Call;
}

/** What a command written after its deadline is replaced by: harmless, and its reply is ignored. */
const PING = '*1\r\n$4\r\nPING\r\n';

/**
 * States in which ioredis would put a command in its offline queue: the driver waits (up to the
 * deadline) instead of handing the command over. `wait` (a `lazyConnect` client not connected yet)
 * is not one of them: ioredis connects on the first command.
 */
const NOT_READY = new Set(['connecting', 'connect', 'reconnecting', 'close', 'disconnecting']);

/**
 * Sends the storages' commands through an ioredis client with the guarantee that node-redis gets
 * from an abort signal: a command is never written to Redis after its deadline, the moment its
 * caller was told 503.
 *
 * Why this is needed: ioredis re-sends a command from its offline queue when the connection comes
 * back, re-sends the commands that were in flight when a connection dropped
 * (`autoResendUnfulfilledCommands`, on by default), and a Cluster client retries a command after
 * `CLUSTERDOWN` or `TRYAGAIN` for a while; its own `commandTimeout` rejects the promise but still
 * sends the command later (ioredis 5.11 and 6.0, `Redis.sendCommand` and `event_handler.readyHandler`).
 * Every one of those paths writes the command through `Command.toWritable()`, so the driver gives
 * each of its commands a `toWritable` that writes `PING` instead once the deadline has passed.
 *
 * The commands are made by ioredis's own methods (key prefix, reply encoding as the user
 * configured them) on a view of the client whose `sendCommand` hands the `Command` to the driver
 * first, with auto-pipelining off for the view (an auto-pipelined command would not pass there).
 * While the client is disconnected the driver does not hand it commands at all (see
 * {@link NOT_READY}), so a long outage does not fill ioredis's offline queue.
 */
export class IoredisDriver {
  readonly #client: IoredisClientLike;
  readonly #view: IoredisView;
  /** The deadline (performance.now() ms) of the command being made; read synchronously by the view. */
  #deadline = 0;

  constructor(client: IoredisClientLike) {
    this.#client = client;
    const c = client as unknown as {
      options: object;
      sendCommand(command: IoredisCommand, ...rest: unknown[]): unknown;
    };
    const options = Object.create(c.options, { enableAutoPipelining: { value: false } }) as object;
    const send = (command: IoredisCommand, ...rest: unknown[]): unknown => {
      const deadline = this.#deadline;
      const write = command.toWritable;
      command.toWritable = function (this: IoredisCommand, socket: unknown) {
        return performance.now() < deadline ? write.call(this, socket) : PING;
      };
      return c.sendCommand(command, ...rest);
    };
    this.#view = Object.create(client, {
      options: { value: options },
      sendCommand: { value: send },
    }) as IoredisView;
  }

  /** False while ioredis would only queue a command (connecting, reconnecting). */
  ready(): boolean {
    return !NOT_READY.has(this.#client.status);
  }

  /** Whether the client was closed (`quit()`/`disconnect()`). */
  closed(): boolean {
    return this.#client.status === 'end';
  }

  /**
   * node-redis-shaped commands whose writes to Redis stop at `deadline` (performance.now() ms);
   * with `buffers`, `getEx` answers a Buffer.
   */
  commands(deadline: number, buffers = false): RedisClientLike {
    return new IoredisCommands(this, deadline, buffers);
  }

  /** Calls `call` on the view with `deadline` as the deadline of the command it makes. */
  send(deadline: number, call: (view: IoredisView) => Promise<unknown>): Promise<unknown> {
    this.#deadline = deadline;
    return call(this.#view);
  }
}

/** The storages' commands in node-redis's shape, translated to ioredis's arguments. */
class IoredisCommands implements RedisClientLike {
  readonly #driver: IoredisDriver;
  readonly #deadline: number;
  readonly #buffers: boolean;

  constructor(driver: IoredisDriver, deadline: number, buffers: boolean) {
    this.#driver = driver;
    this.#deadline = deadline;
    this.#buffers = buffers;
  }

  get(key: string): Promise<unknown> {
    return this.#driver.send(this.#deadline, (r) => r.get(key));
  }

  getEx(key: string, options: { type: 'PX'; value: number }): Promise<unknown> {
    return this.#driver.send(this.#deadline, (r) =>
      this.#buffers && r.getexBuffer !== undefined
        ? r.getexBuffer(key, options.type, options.value)
        : r.getex(key, options.type, options.value),
    );
  }

  set(
    key: string,
    value: string,
    options: { expiration: { type: 'PX'; value: number }; condition?: 'NX' },
  ): Promise<unknown> {
    const { type, value: ttl } = options.expiration;
    return this.#driver.send(this.#deadline, (r) =>
      options.condition === undefined
        ? r.set(key, value, type, ttl)
        : r.set(key, value, type, ttl, options.condition),
    );
  }

  pExpire(key: string, milliseconds: number): Promise<unknown> {
    return this.#driver.send(this.#deadline, (r) => r.pexpire(key, milliseconds));
  }

  del(key: string): Promise<unknown> {
    return this.#driver.send(this.#deadline, (r) => r.del(key));
  }

  eval(script: string, options: ScriptCallOptions): Promise<unknown> {
    return this.#driver.send(this.#deadline, (r) =>
      r.eval(script, options.keys.length, ...options.keys, ...options.arguments),
    );
  }

  evalSha(sha1: string, options: ScriptCallOptions): Promise<unknown> {
    return this.#driver.send(this.#deadline, (r) =>
      r.evalsha(sha1, options.keys.length, ...options.keys, ...options.arguments),
    );
  }
}
