export { applyCommit, errorResponse, requestInfo } from './fetch.js';
export {
  createFetchSessions,
  type FetchAdapterOptions,
  type FetchSessionOptions,
  FetchSessions,
} from './fetch-sessions.js';
