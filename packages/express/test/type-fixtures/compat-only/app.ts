// An app that moved from express-session to the drop-in and imports only it: req.session is typed
// without casts, its data declared as express-session's SessionData is. Type-checked in its own
// program by test/compat/types.test.ts; each @ts-expect-error must be an error.
import session, { type CompatSessionObject } from '@kv-session/express/compat';
import express, { type Request } from 'express';

declare module '@kv-session/express/compat' {
  interface CompatSessionData {
    views: number;
    passport: { user: string };
  }
}

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

const app = express();
app.use(session({ secret: 'keyboard cat', resave: false, saveUninitialized: false }));
app.get('/', (req, res, next) => {
  const same: Equal<Request['session'], CompatSessionObject> = true;
  req.session.views = (req.session.views ?? 0) + 1;
  // @ts-expect-error views holds a number
  req.session.views = 'many';
  // @ts-expect-error passport.user is a string
  req.session.passport = { user: 1 };
  const other: unknown = req.session.cart;
  // @ts-expect-error unknown is not a string
  const name: string = req.session.cart;
  const id: string = req.sessionID;
  req.session.cookie.maxAge = 60_000;
  req.session.regenerate((error) => {
    if (error) return next(error);
    req.session.save(() => res.json({ same, other, name, id }));
  });
});
app.post('/logout', async (req, res) => {
  await req.session.destroy();
  // @ts-expect-error the native API (setMany) is not on the compat object
  await req.session.setMany({ a: 1 });
  res.end();
});

export { app };
