// StoredSession.size: a storage that reports the stored record's byte size lets the first write of a
// request check maxSize from it (and the sizes of the keys it changes) instead of serializing every
// value. The decisions must be exactly those made without it.
import {
  type JsonValue,
  SessionManager,
  type SessionOptions,
  SessionTooLargeError,
  StorageMemory,
  type StoredSession,
} from '@kv-session/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cookieOf } from './helpers.js';

/** StorageMemory reporting `size` on load, as StorageRedisKV does (the stored text's byte length). */
class SizeReportingMemory extends StorageMemory {
  loads = 0;
  override async load(id: string): Promise<StoredSession | undefined> {
    const stored = await super.load(id);
    if (stored === undefined) return undefined;
    this.loads++;
    return { ...stored, size: Buffer.byteLength(JSON.stringify(stored.data)) };
  }
}

type Step = { op: 'set'; key: string; value: JsonValue } | { op: 'remove'; key: string };

/** Stores `base` (with a `__kv` when `lifetime`), then runs `steps` in a second request: what happened. */
async function run(
  storage: StorageMemory,
  base: Record<string, JsonValue>,
  steps: Step[],
  maxSize: number,
  lifetime: boolean,
) {
  const options: SessionOptions = { storage, maxSize: 1 << 20 };
  const first = new SessionManager(options).session();
  await first.setMany({ z: 1, ...base }); // never empty: an empty session is not stored
  if (lifetime) await first.setMaxAge(123_456);
  const cookie = cookieOf((await new SessionManager(options).commit(first)).setCookie);
  const manager = new SessionManager({ ...options, maxSize });
  const s = manager.session({ cookie });
  await s.get('anything'); // loaded whole before the first write, as a read-then-write route does
  const outcomes: string[] = [];
  for (const step of steps) {
    try {
      if (step.op === 'set') await s.set(step.key, step.value);
      else await s.remove(step.key);
      outcomes.push('ok');
    } catch (error) {
      if (!(error instanceof SessionTooLargeError)) throw error;
      outcomes.push(`too large ${error.size}`);
    }
  }
  let commit = 'ok';
  try {
    await manager.commit(s);
  } catch (error) {
    if (!(error instanceof SessionTooLargeError)) throw error;
    commit = 'too large';
  }
  const after = await new SessionManager(options).session({ cookie }).data();
  return { outcomes, commit, after };
}

const key = fc.constantFrom('a', 'b', 'c', 'é', '__proto__', 'long key with "quotes"');
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    op: fc.constant('set' as const),
    key,
    value: fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<JsonValue>,
  }),
  fc.record({ op: fc.constant('remove' as const), key }),
);

describe('StoredSession.size', () => {
  it('set() and remove() decide maxSize exactly as without it (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(key, fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<JsonValue>, { maxKeys: 5 }),
        fc.array(step, { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 0, max: 120 }),
        fc.boolean(),
        async (base, steps, slack, lifetime) => {
          // A limit near the stored size, so that some steps fit and others do not.
          const maxSize = Buffer.byteLength(JSON.stringify({ z: 1, ...base })) + slack;
          const sized = new SizeReportingMemory();
          const withSize = await run(sized, base, steps, maxSize, lifetime);
          const without = await run(new StorageMemory(), base, steps, maxSize, lifetime);
          expect(sized.loads).toBeGreaterThan(0);
          expect(withSize).toEqual(without);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a set() that brings the session to exactly maxSize passes, one byte more throws', async () => {
    const storage = new SizeReportingMemory();
    const base = { bio: 'x'.repeat(1000), n: 1 };
    // {"z":1,"bio":"x…","n":12} is the stored size plus one byte.
    const limit = Buffer.byteLength(JSON.stringify({ z: 1, ...base })) + 1;
    expect((await run(storage, base, [{ op: 'set', key: 'n', value: 12 }], limit, false)).outcomes).toEqual([
      'ok',
    ]);
    expect((await run(storage, base, [{ op: 'set', key: 'n', value: 123 }], limit, false)).outcomes).toEqual([
      `too large ${limit + 1}`,
    ]);
    // A removal first makes room, counted from the stored size too.
    const steps: Step[] = [
      { op: 'remove', key: 'n' },
      { op: 'set', key: 'm', value: 12 },
    ];
    expect((await run(storage, base, steps, limit, false)).outcomes).toEqual(['ok', 'ok']);
  });
});
