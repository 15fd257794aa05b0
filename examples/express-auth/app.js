// Express's auth example (login, a restricted page, logout, flash messages) on Passport 0.7 and
// connect-flash, with @kv-session/express/compat in place of express-session. The switch from
// express-session + connect-redis is the two marked lines; nothing else in the app changed.
import session from '@kv-session/express/compat'; // was: import session from 'express-session'
import flash from 'connect-flash';
import express from 'express';
import { Passport } from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';

/** The one user of the example. A real app checks a password hash (bcrypt, argon2), never plain text. */
const USERS = new Map([['tj', { id: 'tj', name: 'TJ', password: 'foobar' }]]);

/**
 * Builds the app on a kv-session `storage` (e.g. `new StorageRedisKV({ client, prefix: 'sess:' })`,
 * connect-redis's keys). `secret` signs the `connect.sid` cookie, as express-session's did.
 */
export function createApp({ storage, secret }) {
  const passport = new Passport();
  passport.use(
    new LocalStrategy((username, password, done) => {
      const user = USERS.get(username);
      if (user === undefined || user.password !== password) {
        return done(null, false, {
          message: 'Authentication failed, please check your username and password.',
        });
      }
      return done(null, user);
    }),
  );
  passport.serializeUser((user, done) => done(null, user.id));
  passport.deserializeUser((id, done) => done(null, USERS.get(id) ?? false));

  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(
    session({
      storage, // was: store: new RedisStore({ client })
      secret,
      resave: false,
      saveUninitialized: false,
    }),
  );
  app.use(flash());
  app.use(passport.session());

  const page = (title, body, messages) =>
    `<!doctype html><title>${title}</title>${messages.map((m) => `<p class="msg">${escapeHtml(m)}</p>`).join('')}${body}`;

  app.get('/', (_req, res) => res.redirect('/login'));

  app.get('/login', (req, res) => {
    res.send(
      page(
        'Login',
        '<form method="post" action="/login"><input name="username"><input name="password" type="password"><button>Login</button></form>',
        [...req.flash('error'), ...req.flash('info')],
      ),
    );
  });

  app.post(
    '/login',
    passport.authenticate('local', { failureRedirect: '/login', failureFlash: true }),
    (req, res) => {
      req.flash('info', `Welcome, ${req.user.name}.`);
      res.redirect('/restricted');
    },
  );

  app.get('/restricted', (req, res) => {
    if (!req.isAuthenticated()) {
      req.flash('error', 'Access denied!');
      return res.redirect('/login');
    }
    res.send(
      page(
        'Restricted',
        `<p>Wahoo! restricted area, ${escapeHtml(req.user.name)}.</p><form method="post" action="/logout"><button>Logout</button></form>`,
        req.flash('info'),
      ),
    );
  });

  app.post('/logout', (req, res, next) => {
    req.logout((err) => {
      if (err) return next(err);
      req.flash('info', 'You are logged out.');
      res.redirect('/login');
    });
  });

  // Session errors carry a status: 503 while the storage is unreachable.
  app.use((err, _req, res, _next) => {
    res.status(Number.isInteger(err?.status) ? err.status : 500).send('Error');
  });
  return app;
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
