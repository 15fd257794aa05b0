// What every stack serves, so that the stacks differ only in their session layer.
//   GET /ping   answers `pong`, never touches the session (the client still sends its cookie)
//   GET /get    answers the session data as JSON (read-only)
//   GET /set    stores `n` (a per-process counter, so every write really changes the data), answers `ok`
//   GET /login  stores `user` (creates the session for a new visitor), answers `ok`
// Bare stacks (no sessions) answer the same bodies: /get answers SEED, so that the difference to a
// session stack is the session layer alone.

/**
 * BENCH_SESSION_KB (bench/sizes.js): the user object gets a `bio` string so that the stored session
 * is about that many KB. Harness and servers read the same variable, so they agree on SEED.
 */
const sessionKb = Number(process.env.BENCH_SESSION_KB ?? 0);
const user = {
  id: 42,
  name: 'Ada Lovelace',
  roles: Object.freeze(['admin', 'editor']),
  locale: 'en-GB',
};
if (sessionKb > 0) user.bio = 'x'.repeat(Math.max(0, Math.round(sessionKb * 1024) - 90));

/** The data /login stores and /get answers afterwards. */
export const SEED = Object.freeze({ user: Object.freeze(user) });

/** Session lifetime of every stack: one day (the common default of the libraries). */
export const MAX_AGE_MS = 86_400_000;

/** Signing secret for the libraries that require one (all stacks sign their cookie). */
export const SECRET = 'bench-secret-0123456789-abcdefghij';

let writes = 0;
/** A new value for every write. */
export function nextWrite() {
  writes += 1;
  return writes;
}

/** Drops a library's own bookkeeping fields (`cookie`) from its session object. */
export function withoutCookie(session) {
  const out = {};
  for (const key of Object.keys(session)) {
    if (key !== 'cookie') out[key] = session[key];
  }
  return out;
}
