import { describe, expect, it } from 'vitest';
import { typecheckFixture } from '../../express/test/compat/type-check.js';

describe('@kv-session/fastify/compat types', () => {
  it('an app importing only the drop-in gets request.session typed (own tsc program)', async () => {
    const result = await typecheckFixture(new URL('./type-fixtures/compat-only/', import.meta.url));
    expect(result.out).toBe('');
    expect(result.code).toBe(0);
  }, 180_000);

  it('an app importing both entry points chooses the compat type with KvSessionApis.use (built declarations)', async () => {
    const result = await typecheckFixture(new URL('./type-fixtures/compat-and-native/', import.meta.url));
    expect(result.out).toBe('');
    expect(result.code).toBe(0);
  }, 180_000);
});
