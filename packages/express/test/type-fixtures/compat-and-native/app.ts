// A program that imports both @kv-session/express and its /compat (a migration under way): the
// native type applies unless the app declares which one it uses, as this one does.
// Type-checked in its own program by test/compat/types.test.ts.
import { session } from '@kv-session/express';
import compatSession, { type CompatSessionObject } from '@kv-session/express/compat';
import express, { type Request } from 'express';

declare global {
  namespace Express {
    interface KvSessionApis {
      use: 'compat';
    }
  }
}

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

const app = express();
app.use('/legacy', compatSession({ secret: 'keyboard cat' }));
app.get('/legacy', (req, res) => {
  const same: Equal<Request['session'], CompatSessionObject> = true;
  req.session.visits = 1;
  // @ts-expect-error get() of the native API is not on the compat object
  req.session.get('visits');
  res.json({ same, id: req.sessionID });
});

// The native middleware on other routes of the same program: its session is reached through mw.of(req).
const mw = session();
app.use('/modern', mw);
app.get('/modern', async (req, res) => {
  await mw.of(req).set('visits', 1);
  res.end();
});

export { app };
