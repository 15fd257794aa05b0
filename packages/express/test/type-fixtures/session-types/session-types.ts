// Declaration merging through core's SessionTypes: one declaration types req.session (Express),
// request.session (Fastify) and ctx.session (Koa) exactly, unknown keys included. Type-checked in its
// own program by test/session-types.test.ts.
import { type Session, SessionManager } from '@kv-session/core';
import { type RequestSessionData as ExpressData, session } from '@kv-session/express';
import type { RequestSessionData as FastifyData, FastifySessionOptions } from '@kv-session/fastify';
import type { RequestSessionData as KoaData } from '@kv-session/koa';
import express from 'express';
import { z } from 'zod';

export const sessionSchema = z.object({
  userId: z.string(),
  lastSeen: z.coerce.date(),
});

declare module '@kv-session/core' {
  interface SessionTypes {
    data: z.output<typeof sessionSchema>;
  }
}

type AppData = { userId: string; lastSeen: Date };
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const checks: [Equal<ExpressData, AppData>, Equal<FastifyData, AppData>, Equal<KoaData, AppData>] = [
  true,
  true,
  true,
];

const app = express();
// The schema validates at run time; SessionTypes carries the same type to every req.session.
app.use(session({ schema: sessionSchema }));
app.get('/', async (req, res) => {
  const seen: Date | undefined = await req.session.get('lastSeen');
  await req.session.set('lastSeen', new Date());
  // @ts-expect-error unknown keys are type errors (no index signature, unlike AppSessionData)
  await req.session.get('cart');
  // @ts-expect-error userId holds a string
  await req.session.set('userId', 42);
  res.json({ seen });
});

// Fastify's plugin options accept this schema (Date output) once SessionTypes describes it.
export const fastifyOptions: FastifySessionOptions = { schema: sessionSchema };
export const manager: SessionManager<AppData> = new SessionManager({ schema: sessionSchema });
export const byDefault: Session<AppData> = new SessionManager().session();
export { app, checks };
