import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

/**
 * Type-checks a fixture directory as its own program (`tsc -p dir`) and returns what tsc printed
 * (empty when it passed). The compat typings depend on which entry points a program imports, and
 * the repo's program imports all of them, so such checks need a program of their own.
 */
export async function typecheckFixture(dir: URL): Promise<{ code: number; out: string }> {
  return promisify(execFile)(process.execPath, [tsc, '-p', fileURLToPath(dir)], { encoding: 'utf8' }).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({
      code: e.code ?? 1,
      out: `${e.stdout ?? ''}${e.stderr ?? ''}`,
    }),
  );
}

/** A test that type-checks `dir` as its own program and expects no error. */
export function itTypeChecks(title: string, dir: URL): void {
  it(title, async () => {
    const result = await typecheckFixture(dir);
    expect(result.out).toBe('');
    expect(result.code).toBe(0);
  }, 180_000);
}
