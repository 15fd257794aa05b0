import { parseArgs } from 'node:util';
import { isValidId, MAX_OWNER_LENGTH } from '@kv-session/core';
import { UsageError } from './errors.js';

/** Which storage wrote the sessions: `kv` is `StorageRedisKV` (a string key each), `hash` is `StorageRedisHash`. */
export type StorageKind = 'kv' | 'hash';

/** The storages' default key prefixes (their `prefix` option's `@default`). */
export const DEFAULT_PREFIX: Readonly<Record<StorageKind, string>> = {
  kv: 'kv-session:',
  hash: 'kv-session:h:',
};

/** Where the sessions are and how to answer. */
export interface Target {
  redisUrl: string;
  prefix: string;
  storage: StorageKind;
  json: boolean;
  /** Longest wait for the connection, and for each Redis command, in milliseconds. */
  timeoutMs: number;
}

/** A parsed command line. */
export type Command =
  | { name: 'help' }
  | ({ name: 'list'; owner: string } & Target)
  | ({ name: 'show'; id: string } & Target)
  | ({ name: 'revoke'; id: string } & Target)
  | ({ name: 'revoke-owner'; owner: string } & Target)
  /** One session of an owner, named by the shortened id `list` shows (its first 6 characters). */
  | ({ name: 'revoke-listed'; owner: string; shortId: string } & Target)
  | ({ name: 'stats' } & Target);

export const USAGE = `Usage: kv-session <command> [options]

Commands:
  list --owner <owner>     the owner's live sessions (ids shortened)
  show <id>                one session: its data, creation time, owner, expiry and size
  revoke <id>              delete one session (the user is signed out on the next request)
  revoke --owner <owner>   delete every session of the owner (sign out everywhere)
  revoke --owner <owner> --session <short-id>
                           delete the owner's one session that list shows as <short-id>
  stats                    number of sessions, size distribution (bytes), oldest session

Options:
  --redis-url <url>        Redis to connect to (default redis://127.0.0.1:6379)
  --prefix <prefix>        key prefix of the storage (default kv-session: for kv, kv-session:h: for hash)
  --storage kv|hash        StorageRedisKV (default) or StorageRedisHash
  --timeout <ms>           longest wait for the connection and for each command (default 5000)
  --json                   print JSON instead of text
  -h, --help               this help

Exit status: 0 done, 1 no such session, 2 bad arguments, 3 Redis unreachable, 4 other error.
`;

const OPTIONS = {
  'redis-url': { type: 'string' },
  prefix: { type: 'string' },
  storage: { type: 'string' },
  timeout: { type: 'string' },
  owner: { type: 'string' },
  session: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Parses `kv-session`'s arguments (without `node` and the script); throws {@link UsageError}. */
export function parseCommand(argv: readonly string[]): Command {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    // parseArgs's own messages name the option ("Unknown option '--x'"...).
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  if (values.help === true) return { name: 'help' };
  const [name, ...rest] = positionals;
  if (name === undefined) throw new UsageError('no command given');
  if (values.session !== undefined && (name !== 'revoke' || values.owner === undefined)) {
    throw new UsageError('--session goes with revoke --owner <owner>');
  }
  const target = parseTarget(values);
  const owner = values.owner;
  if (owner !== undefined && (owner === '' || owner.length > MAX_OWNER_LENGTH)) {
    throw new UsageError(`--owner must be 1 to ${MAX_OWNER_LENGTH} characters (what setOwner() accepts)`);
  }

  switch (name) {
    case 'list':
      noPositionals(name, rest);
      if (owner === undefined) throw new UsageError('list needs --owner <owner>');
      return { name, owner, ...target };
    case 'show': {
      if (owner !== undefined) throw new UsageError('show takes a session id, not --owner');
      return { name, id: oneId(name, rest), ...target };
    }
    case 'revoke':
      if (owner !== undefined) {
        noPositionals('revoke --owner', rest);
        if (values.session !== undefined) {
          return { name: 'revoke-listed', owner, shortId: shortId(values.session), ...target };
        }
        return { name: 'revoke-owner', owner, ...target };
      }
      return { name, id: oneId(name, rest), ...target };
    case 'stats':
      noPositionals(name, rest);
      if (owner !== undefined) throw new UsageError('stats takes no --owner');
      return { name, ...target };
    default:
      throw new UsageError(`unknown command ${JSON.stringify(name)}`);
  }
}

function parse(argv: readonly string[]) {
  return parseArgs({ args: withDashedIds(argv), options: OPTIONS, allowPositionals: true, strict: true });
}

/**
 * Session ids are base64url, so one in 64 starts with `-` (and one in 4096 with `--`): parseArgs
 * would read such an id as an option, or refuse it as an option's value ("ambiguous"). So a
 * string option's value is joined to it (`--session=-abc…`), and an argument that is a valid id
 * (22 to 256 characters, longer than any option name) goes after a `--`, where only positionals are.
 */
function withDashedIds(argv: readonly string[]): string[] {
  const args: string[] = [];
  const ids: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      ids.push(...argv.slice(i + 1));
      break;
    }
    const option = arg.startsWith('--') ? OPTIONS[arg.slice(2) as keyof typeof OPTIONS] : undefined;
    if (option?.type === 'string' && i + 1 < argv.length) {
      args.push(`${arg}=${argv[++i]}`);
    } else if (arg.startsWith('-') && isValidId(arg)) {
      ids.push(arg);
    } else {
      args.push(arg);
    }
  }
  return ids.length > 0 ? [...args, '--', ...ids] : args;
}

function parseTarget(values: ReturnType<typeof parse>['values']): Target {
  const storage = values.storage ?? 'kv';
  if (storage !== 'kv' && storage !== 'hash') {
    throw new UsageError(`--storage must be kv or hash, got ${JSON.stringify(storage)}`);
  }
  const redisUrl = values['redis-url'] ?? 'redis://127.0.0.1:6379';
  let protocol: string;
  try {
    protocol = new URL(redisUrl).protocol;
  } catch {
    // The URL may hold a password: never echo it.
    throw new UsageError('--redis-url is not a URL (expected redis://[user:password@]host:port[/db])');
  }
  if (protocol !== 'redis:' && protocol !== 'rediss:') {
    throw new UsageError(`--redis-url must start with redis:// or rediss://, got ${protocol}//`);
  }
  const prefix = values.prefix ?? DEFAULT_PREFIX[storage];
  if (prefix === '') throw new UsageError('--prefix must not be empty');
  const timeout = values.timeout ?? '5000';
  const timeoutMs = Number(timeout);
  if (!/^\d+$/.test(timeout) || timeoutMs < 1 || timeoutMs > 600_000) {
    throw new UsageError(
      `--timeout must be an integer from 1 to 600000 (ms), got ${JSON.stringify(timeout)}`,
    );
  }
  return { redisUrl, prefix, storage, json: values.json === true, timeoutMs };
}

function noPositionals(command: string, rest: readonly string[]): void {
  if (rest.length > 0) throw new UsageError(`${command} takes no argument, got ${JSON.stringify(rest[0])}`);
}

/** A shortened id as `list` prints it (`redactId`: 6 characters and `…`), the `…` optional. */
function shortId(value: string): string {
  const short = value.replace(/(…|\.\.\.)$/, '');
  if (!/^[A-Za-z0-9_-]{6}$/.test(short)) {
    throw new UsageError(
      `--session takes a shortened id as list shows it (6 characters, then …), got ${JSON.stringify(value)}`,
    );
  }
  return short;
}

/** The one session id of `show`/`revoke`, checked before any key is built from it. */
function oneId(command: string, rest: readonly string[]): string {
  const [id, extra] = rest;
  if (id === undefined) throw new UsageError(`${command} needs a session id (or revoke --owner <owner>)`);
  if (extra !== undefined) throw new UsageError(`${command} takes one session id, got ${rest.length}`);
  const length = id.length;
  if (!isValidId(id)) {
    const hint = /^[A-Za-z0-9_-]{22,256}\.[A-Za-z0-9_-]+$/.test(id)
      ? ' (this looks like a signed cookie value: give the part before the dot)'
      : '';
    throw new UsageError(
      `not a session id: ids are 22 to 256 characters of A-Z a-z 0-9 _ -, got ${length} characters${hint}`,
    );
  }
  return id;
}
