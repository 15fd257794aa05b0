// The argument parser alone: ids that start with '-' (one base64url id in 64) are ids, not options.
import { parseCommand, UsageError } from '@kv-session/cli';
import { describe, expect, it } from 'vitest';

const dashed = '-Q3m0lq9hM2x3TqkM4-VbYw8Yq0P8n2kq1yZ3b4c5d6';
const doubleDashed = '--3m0lq9hM2x3TqkM4-VbYw8Yq0P8n2kq1yZ3b4c5d6';

describe('parseCommand with ids that start with a dash', () => {
  it('show and revoke take an id starting with - or --, before or after the options', () => {
    expect(parseCommand(['show', dashed])).toMatchObject({ name: 'show', id: dashed });
    expect(parseCommand(['revoke', doubleDashed, '--json'])).toMatchObject({
      name: 'revoke',
      id: doubleDashed,
      json: true,
    });
    expect(parseCommand(['revoke', '--prefix', 'app:', dashed])).toMatchObject({
      id: dashed,
      prefix: 'app:',
    });
    expect(parseCommand(['show', '--', dashed])).toMatchObject({ id: dashed });
  });

  it('--session takes a shortened id starting with a dash, and --owner a value starting with one', () => {
    expect(parseCommand(['revoke', '--owner', 'ada', '--session', '-Q3m0l…'])).toMatchObject({
      name: 'revoke-listed',
      owner: 'ada',
      shortId: '-Q3m0l',
    });
    expect(parseCommand(['list', '--owner', '-1'])).toMatchObject({ name: 'list', owner: '-1' });
  });

  it('unknown options and a missing value are still refused', () => {
    expect(() => parseCommand(['show', '--nope'])).toThrow(UsageError);
    expect(() => parseCommand(['list', '--owner'])).toThrow(UsageError);
    expect(() => parseCommand(['show', '-x'])).toThrow(UsageError);
  });
});
