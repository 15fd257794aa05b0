import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';

it('docs/writing-a-storage.md shows exactly doc-example.test.ts (which runs the suite)', () => {
  const doc = readFileSync(new URL('../../../docs/writing-a-storage.md', import.meta.url), 'utf8');
  const example = readFileSync(new URL('./doc-example.test.ts', import.meta.url), 'utf8');
  const start = doc.indexOf('```ts\n', doc.indexOf('### A complete example')) + 6;
  const block = doc.slice(start, doc.indexOf('\n```', start));
  // The docs show the file from its first import on (the header comment is for this repository).
  expect(block.trim()).toBe(example.slice(example.indexOf('import {')).trim());
});
