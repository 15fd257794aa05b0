/** Exit statuses of the `kv-session` command. */
export const EXIT = {
  /** Done. */
  ok: 0,
  /** The id (or owner) named on the command line has no session. */
  notFound: 1,
  /** Bad arguments: nothing was sent to Redis. */
  usage: 2,
  /** Redis did not answer (refused, timed out, authentication failed...). */
  unavailable: 3,
  /** Anything else (a record that cannot be decoded, a Redis error reply). */
  failed: 4,
} as const;

/** What `kv-session` fails with; `exitCode` is the process's exit status (see {@link EXIT}). */
export class CliError extends Error {
  override readonly name: string = 'CliError';
  readonly exitCode: number;

  constructor(message: string, exitCode: number, options?: { cause?: unknown }) {
    super(message, options);
    this.exitCode = exitCode;
  }
}

/** Bad command-line arguments (exit status 2); the message says which and how to get help. */
export class UsageError extends CliError {
  override readonly name = 'UsageError';

  constructor(message: string) {
    super(message, EXIT.usage);
  }
}

/** Redis could not be reached or did not answer in time (exit status 3). */
export class RedisUnavailableError extends CliError {
  override readonly name = 'RedisUnavailableError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, EXIT.unavailable, options);
  }
}

/** The session (or owner) asked for does not exist (exit status 1). */
export class NotFoundError extends CliError {
  override readonly name = 'NotFoundError';

  constructor(message: string) {
    super(message, EXIT.notFound);
  }
}
