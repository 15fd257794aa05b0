// Port of GoFrame gsession's own session tests (Test_StorageRedis / Test_Session_RegenerateId), on
// StorageMemory, through the manager exactly as the adapters drive it.
import { ConfigError, generateId, SessionManager, StorageMemory } from '@kv-session/core';
import { describe, expect, it } from 'vitest';
import { cookieOf, sleep } from './helpers.js';

describe('gsession reference scenario (maxAge 1 s)', () => {
  it('set four keys; after 500 ms get/data/size/has/remove/removeAll/setMany; after 1 s more it expired', async () => {
    const storage = new StorageMemory();
    const manager = new SessionManager({ storage, maxAge: 1000 });

    const first = manager.session();
    await first.set('k1', 'v1');
    await first.set('k2', 'v2');
    await first.setMany({ k3: 'v3', k4: 'v4' });
    const sessionId = first.id;
    const { setCookie } = await manager.commit(first);
    expect(cookieOf(setCookie)).toBe(`sid=${sessionId}`);

    await sleep(500);
    const s = manager.session({ cookie: cookieOf(setCookie) });
    expect(await s.get('k1')).toBe('v1');
    expect(await s.get('k2')).toBe('v2');
    expect(await s.get('k3')).toBe('v3');
    expect(await s.get('k4')).toBe('v4');
    const data = await s.data();
    expect(Object.keys(data)).toHaveLength(4);
    expect(data['k1']).toBe('v1');
    expect(data['k4']).toBe('v4');
    expect(s.id).toBe(sessionId);
    expect(await s.has('k1')).toBe(true);
    expect(await s.has('k3')).toBe(true);
    expect(await s.has('k5')).toBe(false);
    await s.remove('k4');
    expect(Object.keys(await s.data())).toHaveLength(3);
    expect(await s.has('k3')).toBe(true);
    expect(await s.has('k4')).toBe(false);
    await s.removeAll();
    expect(await s.data()).toEqual({});
    expect(await s.has('k1')).toBe(false);
    expect(await s.has('k2')).toBe(false);
    await s.setMany({ k5: 'v5', k6: 'v6' });
    expect(Object.keys(await s.data())).toHaveLength(2);
    expect(await s.has('k5')).toBe(true);
    expect(await s.has('k6')).toBe(true);
    const second = await manager.commit(s);
    // removeAll deleted the record, so the new data lives under a fresh id (sent as a new cookie).
    expect(s.id).not.toBe(sessionId);
    expect(cookieOf(second.setCookie)).toBe(`sid=${s.id}`);
    expect(await storage.load(sessionId)).toBeUndefined();

    await sleep(1000);
    for (const cookie of [`sid=${sessionId}`, cookieOf(second.setCookie)]) {
      const expired = manager.session({ cookie });
      expect(await expired.data()).toEqual({});
      expect(await expired.get('k5')).toBeUndefined();
      expect(await expired.get('k6')).toBeUndefined();
      expect((await manager.commit(expired)).setCookie).toBeUndefined();
    }
  });

  it('regenerate keeps the data under a new id and deletes the old record', async () => {
    const storage = new StorageMemory();
    const manager = new SessionManager({ storage, maxAge: 3_600_000 });
    const s = manager.session();
    await s.set('key1', 'value1');
    await s.set('key2', 'value2');
    const first = await manager.commit(s);
    const oldId = s.id;

    const again = manager.session({ cookie: cookieOf(first.setCookie) });
    await again.regenerate();
    const newId = again.id;
    expect(newId).not.toBe(oldId);
    expect(await again.get('key1')).toBe('value1');
    expect(await again.get('key2')).toBe('value2');
    const result = await manager.commit(again);
    expect(cookieOf(result.setCookie)).toBe(`sid=${newId}`);

    expect(await storage.load(oldId)).toBeUndefined();
    const old = manager.session({ cookie: `sid=${oldId}` });
    expect(await old.get('key1')).toBeUndefined();
    const fresh = manager.session({ cookie: `sid=${newId}` });
    expect(await fresh.data()).toEqual({ key1: 'value1', key2: 'value2' });
  });

  it('regenerate in the same request as the first write stores the data once, under the new id', async () => {
    const storage = new StorageMemory();
    const manager = new SessionManager({ storage });
    const s = manager.session();
    await s.set('user', 'ada');
    await s.regenerate();
    await s.set('after', 1);
    const { setCookie } = await manager.commit(s);
    expect(cookieOf(setCookie)).toBe(`sid=${s.id}`);
    expect((await storage.load(s.id))!.data).toEqual({ user: 'ada', after: 1 });
    expect(storage.size).toBe(1);
  });

  it('regenerate on an empty session writes nothing and sends no cookie', async () => {
    const storage = new StorageMemory();
    const manager = new SessionManager({ storage });
    const s = manager.session();
    await s.regenerate();
    expect((await manager.commit(s)).setCookie).toBeUndefined();
    expect(storage.size).toBe(0);
  });

  it('a custom id generator (genid) is used for new sessions and for regenerate', async () => {
    let n = 0;
    const genid = () => `custom_session_id_${String(++n).padStart(8, '0')}`;
    const storage = new StorageMemory();
    const manager = new SessionManager({ storage, genid });
    const s = manager.session();
    await s.set('a', 1);
    const { setCookie } = await manager.commit(s);
    expect(s.id).toBe('custom_session_id_00000001');
    expect(cookieOf(setCookie)).toBe('sid=custom_session_id_00000001');
    await s.regenerate();
    expect(s.id).toBe('custom_session_id_00000002');
    expect((await storage.load('custom_session_id_00000002'))!.data).toEqual({ a: 1 });
    expect(await storage.load('custom_session_id_00000001')).toBeUndefined();
  });

  it.each([
    ['too short', 'short'],
    ['a dot', `${generateId()}.x`],
    ['a slash', `../../${generateId()}`],
    ['non-ASCII', `${generateId().slice(0, 30)}é`],
    ['too long', 'a'.repeat(257)],
  ])(
    'a genid returning an id with %s is rejected with ConfigError before any storage call',
    async (_, bad) => {
      const storage = new StorageMemory();
      const manager = new SessionManager({ storage, genid: () => bad });
      const s = manager.session();
      await s.set('a', 1);
      await expect(manager.commit(s)).rejects.toBeInstanceOf(ConfigError);
      await expect(s.regenerate()).rejects.toThrow(/genid\(\)/);
      expect(storage.size).toBe(0);
    },
  );
});
