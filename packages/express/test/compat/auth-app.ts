// The auth flow of Express's own example on Passport 0.7 + passport-local + connect-flash, for the
// drop-in tests: the same app runs on the drop-in and on the real express-session.
import type { RequestListener } from 'node:http';
import flash from 'connect-flash';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { Passport } from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';

export interface User {
  id: string;
}

/** The auth flow of Express's own example, on Passport: login, a restricted page, logout, flash. */
export function authApp(factory: typeof express, sessions: RequestHandler): RequestListener {
  const app = factory();
  const passport = new Passport();
  passport.use(
    new LocalStrategy((username, password, done) => {
      if (username === 'ada' && password === 'lovelace') return done(null, { id: 'ada' });
      return done(null, false, { message: 'Wrong username or password' });
    }),
  );
  passport.serializeUser((user, done) => done(null, (user as User).id));
  passport.deserializeUser((id: string, done) => done(null, { id }));

  app.use(express.urlencoded({ extended: false }));
  app.use(sessions);
  app.use(flash());
  app.use(passport.session());
  app.get('/visit', (req, res) => {
    const s = req.session as unknown as Record<string, unknown>;
    s.visits = ((s.visits as number | undefined) ?? 0) + 1;
    res.send(String(s.visits));
  });
  app.get('/login', (req, res) => {
    res.json({ errors: req.flash('error') });
  });
  app.post(
    '/login',
    passport.authenticate('local', {
      successRedirect: '/private',
      failureRedirect: '/login',
      failureFlash: true,
    }),
  );
  app.get('/private', (req, res) => {
    if (!req.isAuthenticated()) {
      res.status(401).send('login first');
      return;
    }
    res.send(`hello ${(req.user as User).id}`);
  });
  app.post('/logout', (req, res, next) => {
    req.logout((err) => (err ? next(err) : res.redirect('/login')));
  });
  app.post('/notes', (req, res) => {
    req.flash('info', `saved ${String(req.body.note)}`);
    res.redirect('/notes');
  });
  app.get('/notes', (req, res) => {
    res.json({ info: req.flash('info') });
  });
  app.use((err: Error & { status?: number }, _req: Request, res: Response, _next: NextFunction) => {
    res.status(err.status ?? 500).send(err.message);
  });
  return app as unknown as RequestListener;
}
