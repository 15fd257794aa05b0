import {
  type InferSessionData,
  type JsonValue,
  type Session,
  type SessionData,
  SessionManager,
  type SessionOptions,
  type SessionSchema,
} from '@kv-session/core';
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';

const schema = z.object({
  userId: z.string(),
  roles: z.array(z.enum(['admin', 'user'])),
  lastSeen: z.coerce.date(),
  prefs: z.object({ theme: z.enum(['dark', 'light']) }).optional(),
});
type Data = {
  userId: string;
  roles: ('admin' | 'user')[];
  lastSeen: Date;
  prefs?: { theme: 'dark' | 'light' } | undefined;
};

describe('core typing with a schema', () => {
  // Test bodies are type-checked, never run: some calls are rejected at run time on purpose.
  it('new SessionManager({ schema }) infers Data = z.output<typeof schema>', () => {
    const check = async () => {
      const manager = new SessionManager({ schema, maxAge: 60_000 });
      expectTypeOf(manager).toEqualTypeOf<SessionManager<Data>>();
      expectTypeOf<InferSessionData<typeof schema>>().toEqualTypeOf<Data>();
      const s = manager.session();
      expectTypeOf(s).toEqualTypeOf<Session<Data>>();
      expectTypeOf(await s.get('lastSeen')).toEqualTypeOf<Date | undefined>();
      expectTypeOf(await s.get('roles')).toEqualTypeOf<('admin' | 'user')[] | undefined>();
      expectTypeOf(await s.data()).toEqualTypeOf<Partial<Data>>();
      await s.set('roles', ['admin']);
      await s.setMany({ userId: 'u', lastSeen: new Date() });
      await s.remove('prefs', 'roles');
      // @ts-expect-error not one of the enum values
      await s.set('roles', ['root']);
      // @ts-expect-error set takes the output type (Date), not the stored ISO string
      await s.set('lastSeen', '2026-01-01T00:00:00.000Z');
      // @ts-expect-error unknown key
      await s.set('token', 'x');
      // @ts-expect-error unknown key
      await s.has('token');
      // @ts-expect-error unknown key in setMany
      await s.setMany({ userId: 'u', token: 'x' });
      // @ts-expect-error may be undefined: sessions start empty
      const id: string = await s.get('userId');
      void id;
    };
    expectTypeOf(check).toBeFunction();
  });

  it('the options accept only zod object schemas matching Data', () => {
    expectTypeOf(schema).toExtend<SessionSchema>();
    expectTypeOf(z.string()).not.toExtend<SessionSchema>();
    const bad = () => {
      // @ts-expect-error not an object schema
      new SessionManager({ schema: z.array(z.string()) });
      // @ts-expect-error the schema must describe the declared Data
      new SessionManager<{ n: number }>({ schema: z.object({ n: z.string() }) });
      // @ts-expect-error no such policy
      new SessionManager({ schema, invalidStoredData: 'ignore' });
    };
    expectTypeOf(bad).toBeFunction();
    const options: SessionOptions<Data> = { schema, invalidStoredData: 'fail' };
    expectTypeOf(new SessionManager(options)).toEqualTypeOf<SessionManager<Data>>();
  });

  it('without a schema nothing changes: JSON values under any key', () => {
    const check = async () => {
      const manager = new SessionManager({ maxAge: 1000 });
      expectTypeOf(manager).toEqualTypeOf<SessionManager<SessionData>>();
      const s = manager.session();
      expectTypeOf(await s.get('anything')).toEqualTypeOf<JsonValue | undefined>();
      // @ts-expect-error a Date is not JSON without a schema
      await s.set('at', new Date());
      const plain: SessionOptions = {};
      expectTypeOf(new SessionManager(plain)).toEqualTypeOf<SessionManager<SessionData>>();
    };
    expectTypeOf(check).toBeFunction();
  });
});
