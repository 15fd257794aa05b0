export { type Command, DEFAULT_PREFIX, parseCommand, type StorageKind, type Target, USAGE } from './args.js';
export type { ShownSession } from './commands.js';
export { CliError, EXIT, NotFoundError, RedisUnavailableError, UsageError } from './errors.js';
export { type Io, run } from './run.js';
export type { Stats } from './stats.js';
