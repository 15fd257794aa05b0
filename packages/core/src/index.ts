export { applyChangeSet, serializeSession } from './change-set.js';
export {
  callbackOrPromise,
  entryJson,
  jsonSnapshot,
  type RequestSessionApi,
  snapshotChanges,
} from './compat.js';
// For adapters and compat layers that read their own cookie format (docs/writing-an-adapter.md).
export { readCookie } from './cookie.js';
export {
  ConfigError,
  CorruptDataError,
  formatIssues,
  SessionConflictError,
  SessionDataError,
  SessionError,
  type SessionErrorCode,
  type SessionErrorOptions,
  SessionNotLoadedError,
  SessionTooLargeError,
  StorageCapabilityError,
  StorageError,
  StorageUnavailableError,
} from './errors.js';
export {
  type CommitResult,
  type RequestHeaders,
  type RequestInfo,
  type RequestProtocol,
  rememberVerified,
  requestInfo,
} from './http.js';
export { generateId, ID_PATTERN, isValidId, redactId } from './id.js';
export {
  byteLength,
  entrySize,
  type JsonPrimitive,
  type JsonValue,
  MAX_VALUE_DEPTH,
  parseSessionData,
  type SessionData,
  setOwn,
} from './json.js';
export {
  type DestroySessionsOptions,
  type ListSessionsOptions,
  MAX_OWNER_LENGTH,
  META_KEY,
  type SessionInfo,
  type SessionMeta,
  type SessionRecord,
} from './lifecycle.js';
export { SessionManager } from './manager.js';
export type {
  CookieOptions,
  ErrorContext,
  ResolvedOptions,
  SessionOptions,
} from './options.js';
export { type ProxyOptions, type ReadRequest, RequestSessions } from './request-sessions.js';
export type {
  InferSessionData,
  InvalidStoredData,
  RegisteredSessionData,
  SessionSchema,
  SessionTypes,
} from './schema.js';
export { type CommitOutcome, Session } from './session.js';
export { secretKey, sign, type Unsigned, unsign } from './signing.js';
export type {
  ApplyOptions,
  ApplyResult,
  ChangeSet,
  MoveOptions,
  MoveResult,
  OwnedSession,
  PeekedSession,
  Storage,
  StoredSession,
  StoredSizes,
} from './storage.js';
export { StorageFile, type StorageFileOptions } from './storage-file.js';
export { StorageMemory, type StorageMemoryOptions } from './storage-memory.js';
