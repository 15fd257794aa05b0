// The `*.test-d.ts` type tests are checked by vitest's typecheck (vitest.config.ts), which runs tsc
// on tsconfig.test-d.json. It used to run on each project's own tsconfig.json (resolved from the
// project's root, packages/<name>), which holds only src: the type tests were never compiled and a
// deliberately wrong assertion passed. This checks that tsc sees every type test.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

function typeTests(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.test-d.ts'))
    .map((entry) => relative(root, join(entry.parentPath, entry.name)));
}

it('vitest typechecks every *.test-d.ts with tsconfig.test-d.json, which compiles them all', async () => {
  const config = readFileSync(join(root, 'vitest.config.ts'), 'utf8');
  expect(config).toMatch(
    /tsconfig: fileURLToPath\(new URL\('\.\/tsconfig\.test-d\.json', import\.meta\.url\)\)/,
  );
  const expected = readdirSync(join(root, 'packages')).flatMap((name) => {
    const dir = join(root, 'packages', name, 'test');
    try {
      return typeTests(dir);
    } catch {
      return [];
    }
  });
  expect(expected.length).toBeGreaterThanOrEqual(10);
  const { stdout } = await promisify(execFile)(
    join(root, 'node_modules/.bin/tsc'),
    ['-p', 'tsconfig.test-d.json', '--listFilesOnly'],
    { cwd: root, maxBuffer: 64 * 1024 * 1024 },
  );
  const listed = new Set(
    stdout
      .split('\n')
      .filter(Boolean)
      .map((file) => relative(root, resolve(root, file))),
  );
  for (const file of expected) expect(listed, file).toContain(file);
}, 60_000);
