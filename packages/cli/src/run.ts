import { SessionError } from '@kv-session/core';
import { type Command, parseCommand, type Target, USAGE } from './args.js';
import { list, revoke, revokeListed, revokeOwner, show } from './commands.js';
import { type Client, connect, disconnect } from './connection.js';
import { CliError, EXIT, RedisUnavailableError, UsageError } from './errors.js';
import { collectStats, type Stats } from './stats.js';

/** Where `run` writes: the process's streams by default, a buffer in tests. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

const processIo: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/**
 * Runs one `kv-session` command line (the arguments after the script) and resolves its exit status
 * (see `EXIT`); never rejects: every failure is reported on `io.err` as one line.
 */
export async function run(argv: readonly string[], io: Io = processIo): Promise<number> {
  let command: Command;
  try {
    command = parseCommand(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.err(`kv-session: ${error.message}\nRun kv-session --help for usage.\n`);
    return error.exitCode;
  }
  if (command.name === 'help') {
    io.out(USAGE);
    return EXIT.ok;
  }
  let client: Client | undefined;
  try {
    client = await connect(command.redisUrl, command.timeoutMs);
    io.out(await execute(client, command));
    return EXIT.ok;
  } catch (error) {
    const failure = asCliError(error);
    io.err(`kv-session: ${failure.message}\n`);
    return failure.exitCode;
  } finally {
    if (client !== undefined) await disconnect(client);
  }
}

async function execute(client: Client, command: Exclude<Command, { name: 'help' }>): Promise<string> {
  const print = (json: unknown, text: string) => (command.json ? `${JSON.stringify(json, null, 2)}\n` : text);
  switch (command.name) {
    case 'show': {
      const s = await show(client, command, command.id);
      const lines = [
        `session  ${s.id}`,
        `key      ${s.key}`,
        `created  ${s.created ?? '(not recorded)'}`,
        `owner    ${s.owner ?? '(none)'}`,
        `max age  ${s.maxAge === null ? "(the app's maxAge)" : `${s.maxAge} ms`}`,
        `expires  ${s.expires ?? '(no expiry)'}`,
        `size     ${s.bytes} bytes`,
        `data     ${JSON.stringify(s.data, null, 2).replace(/\n/g, '\n         ')}`,
      ];
      return print(s, `${lines.join('\n')}\n`);
    }
    case 'revoke':
      await revoke(client, command, command.id);
      return print({ revoked: 1 }, `revoked session ${command.id}\n`);
    case 'revoke-owner': {
      const revoked = await revokeOwner(client, command, command.owner);
      return print(
        { owner: command.owner, revoked },
        `revoked ${plural(revoked)} of owner ${command.owner}\n`,
      );
    }
    case 'revoke-listed':
      await revokeListed(client, command, command.owner, command.shortId);
      return print(
        { owner: command.owner, session: `${command.shortId}…`, revoked: 1 },
        `revoked session ${command.shortId}… of owner ${command.owner}\n`,
      );
    case 'list': {
      const sessions = await list(client, command, command.owner);
      const rows = sessions.map((s) => ({
        id: s.id,
        created: iso(s.created),
        lastActive: iso(s.lastActive),
        expires: iso(s.expiresAt),
      }));
      const text =
        rows.length === 0
          ? `owner ${command.owner} has no live session\n`
          : table(['id', 'created', 'last active', 'expires'], rows.map(Object.values));
      return print({ owner: command.owner, sessions: rows }, text);
    }
    case 'stats': {
      const stats = await collectStats(client, command.storage, command.prefix, command.timeoutMs);
      return print(stats, statsText(stats, command));
    }
  }
}

function statsText(s: Stats, target: Target): string {
  const lines = [`sessions         ${s.sessions} under ${JSON.stringify(target.prefix)} (${target.storage})`];
  if (s.bytes !== null) {
    const b = s.bytes;
    lines.push(`size (bytes)     p50 ${b.p50}  p90 ${b.p90}  p99 ${b.p99}  max ${b.max}  total ${b.total}`);
  }
  if (s.oldest !== null) {
    lines.push(
      `oldest           ${s.oldest.id} created ${s.oldest.created} (${duration(s.oldest.ageMs)} ago)`,
    );
  }
  if (s.withoutCreated > 0) lines.push(`no creation time ${s.withoutCreated}`);
  lines.push(`owners           ${s.owners}`);
  const k = s.skipped;
  lines.push(
    `skipped keys     ${k.ownerIndexes} owner indexes, ${k.movedMarks} moved marks, ${k.other} other`,
  );
  return `${lines.join('\n')}\n`;
}

function asCliError(error: unknown): CliError {
  if (error instanceof CliError) return error;
  if (error instanceof SessionError) {
    // Core's errors carry an HTTP status: 503 is an unreachable store, 4xx a value core refused.
    if (error.status === 503) return new RedisUnavailableError(error.message, { cause: error });
    if (error.status >= 400 && error.status < 500)
      return new CliError(error.message, EXIT.usage, { cause: error });
  }
  const message = error instanceof Error ? error.message || error.name : String(error);
  // node-redis's own errors when the connection drops during a command (no reconnection here).
  // (Their classes leave `name` at 'Error': recognised by class name.)
  if (error instanceof Error && CONNECTION_ERRORS.has(error.constructor.name)) {
    return new RedisUnavailableError(`lost the connection to Redis: ${message}`, { cause: error });
  }
  return new CliError(message, EXIT.failed, { cause: error });
}

const CONNECTION_ERRORS = new Set([
  'SocketClosedUnexpectedlyError',
  'ClientClosedError',
  'ClientOfflineError',
  'ConnectionTimeoutError',
]);

const iso = (ms: number) => new Date(ms).toISOString();
const plural = (n: number) => `${n} session${n === 1 ? '' : 's'}`;

function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.floor(s / 60)} min`;
  if (s < 172_800) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86_400)} days`;
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}
