import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

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
