// Reads a V8 .cpuprofile (node --cpu-prof) and lists the functions with the most self time.
import { readFileSync } from 'node:fs';

/** The top `n` functions by self time, as text lines: share of samples, function, file:line. */
export function topFunctions(file, n = 15) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byNode = new Map(profile.nodes.map((node) => [node.id, node]));
  const counts = new Map();
  for (const id of profile.samples) counts.set(id, (counts.get(id) ?? 0) + 1);
  const total = profile.samples.length;
  const byFunction = new Map();
  let idle = 0;
  for (const [id, count] of counts) {
    const { callFrame } = byNode.get(id);
    if (callFrame.functionName === '(idle)') {
      idle += count;
      continue;
    }
    const where = callFrame.url
      ? `${callFrame.url.replace(/^.*\/node_modules\//, '').replace(/^file:\/\/.*\/(packages|bench)\//, '$1/')}:${callFrame.lineNumber + 1}`
      : '';
    const key = `${callFrame.functionName || '(anonymous)'}  ${where}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + count);
  }
  const busy = total - idle;
  return [
    `  ${busy} busy samples of ${total} (${((100 * busy) / total).toFixed(0)}% busy); share of busy samples:`,
    ...[...byFunction]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([key, count]) => `  ${((100 * count) / busy).toFixed(1).padStart(5)}%  ${key}`),
  ].join('\n');
}
