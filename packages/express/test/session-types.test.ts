// Declaration merging through core's SessionTypes types every adapter's session at once. The
// augmentation is global, so it is type-checked in its own program (type-fixtures/session-types,
// excluded from the repo tsconfig); its @ts-expect-error lines fail the check if typing regresses.
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const fixture = fileURLToPath(new URL('./type-fixtures/session-types', import.meta.url));

describe('SessionTypes declaration merging', () => {
  it('types req.session, request.session and ctx.session exactly (own tsc program)', async () => {
    const result = await run(process.execPath, [tsc, '-p', fixture], { encoding: 'utf8' }).then(
      (r) => ({ code: 0, out: r.stdout + r.stderr }),
      (e: { code?: number; stdout?: string; stderr?: string }) => ({
        code: e.code ?? 1,
        out: `${e.stdout ?? ''}${e.stderr ?? ''}`,
      }),
    );
    expect(result.out).toBe('');
    expect(result.code).toBe(0);
  }, 180_000);
});
