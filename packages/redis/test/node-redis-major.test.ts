// Which node-redis the tests run against: 5 by default, 6 with NODE_REDIS=6 (vitest.config.ts points
// `redis` at the devDependency `redis6` then). .ci/run runs this project once per major; this proves
// the second run really loaded node-redis 6 rather than 5 twice.
import { createRequire } from 'node:module';
import * as redis from 'redis';
import { expect, it } from 'vitest';

const major = process.env.NODE_REDIS === '6' ? 6 : 5;
const require = createRequire(import.meta.url);
const version = (pkg: string) => (require(`${pkg}/package.json`) as { version: string }).version;

it(`imports of 'redis' load node-redis ${major}`, async () => {
  const six = await import('redis6');
  expect(version('redis').split('.')[0]).toBe('5');
  expect(version('redis6').split('.')[0]).toBe('6');
  expect((redis.createClient as unknown) === six.createClient).toBe(major === 6);
});
