import { createClient } from 'redis';
import { RedisUnavailableError } from './errors.js';

/** The node-redis client the command uses. */
export type Client = ReturnType<typeof createClient>;

/** The URL with its password replaced, for messages: a command line's secrets are never printed. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

function reason(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return reason(error.errors[0]);
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

/**
 * Runs `operation`, failing with {@link RedisUnavailableError} when it takes longer than `ms`.
 * A command to a stalled server would otherwise wait forever: node-redis has no command timeout.
 */
export async function bounded<T>(operation: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new RedisUnavailableError(`Redis did not answer ${what} within ${ms} ms`)),
      ms,
    );
  });
  try {
    return await Promise.race([operation, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Connects to `url` once, without retrying: an operator's command must fail fast with a reason
 * rather than wait for a Redis that is not there. Resolves a ready client; rejects with
 * {@link RedisUnavailableError} (refused, timed out, authentication failed...).
 */
export async function connect(url: string, timeoutMs: number): Promise<Client> {
  const client = createClient({
    url,
    socket: { connectTimeout: timeoutMs, reconnectStrategy: false },
  });
  let lastError: unknown;
  // Without a listener, an 'error' event would end the process with a stack trace.
  client.on('error', (error: unknown) => {
    lastError = error;
  });
  try {
    await bounded(client.connect(), timeoutMs, 'the connection');
    return client;
  } catch (error) {
    if (client.isOpen) client.destroy();
    const cause = lastError ?? error;
    throw new RedisUnavailableError(`Redis at ${redactUrl(url)} is unreachable: ${reason(cause)}`, { cause });
  }
}

/** Closes the client: politely when it is ready, at once otherwise. */
export async function disconnect(client: Client): Promise<void> {
  if (!client.isOpen) return;
  if (client.isReady) {
    try {
      await bounded(client.close(), 1000, 'QUIT');
      return;
    } catch {
      // fall through: drop the socket
    }
  }
  if (client.isOpen) client.destroy();
}
