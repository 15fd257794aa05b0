// `pnpm test:stress`: the long-running reliability checks, each in its own Node process, with the
// small default sizes (CI). Larger sizes through the environment, see each script's header and
// docs/security.md.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const scripts = [
  ['outage.js', []],
  ['soak.js', ['--expose-gc']],
];
let failed = 0;
for (const [script, flags] of scripts) {
  console.log(`\n== ${script}`);
  const path = fileURLToPath(new URL(script, import.meta.url));
  const { status, signal } = spawnSync(process.execPath, [...flags, path], { stdio: 'inherit' });
  if (status !== 0) {
    console.error(`${script} failed (${signal ?? `exit ${status}`})`);
    failed++;
  }
}
process.exitCode = failed === 0 ? 0 : 1;
