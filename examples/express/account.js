// "Keep me signed in" and "sign out everywhere" on the Express example: a login form whose box
// gives the session a long lifetime (and, with `cookie.persistent`, a cookie that survives a browser
// restart), and an account page listing the user's sessions with buttons to end them. See
// docs/lifecycle.md. The pages answer JSON to `Accept: application/json` (what the tests read).

/**
 * The demo users. A real app checks a password hash (argon2, bcrypt), never plain text, and
 * protects its forms against CSRF beyond SameSite=Lax (the session cookie's default).
 */
const USERS = new Map([
  ['ada', { id: 'ada', password: 'lovelace' }],
  ['grace', { id: 'grace', password: 'hopper' }],
]);

const html = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const time = (ms) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);

function page(title, body) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${html(title)}</title></head><body>${body}</body></html>`;
}

function loginPage(message) {
  return page(
    'Sign in',
    `<h1>Sign in</h1>${message === undefined ? '' : `<p role="alert">${html(message)}</p>`}
<form method="post" action="/login">
<label>User <input name="username" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<label><input type="checkbox" name="remember" value="on"> Keep me signed in</label>
<button>Sign in</button>
</form>`,
  );
}

function accountPage(user, sessions) {
  const rows = sessions
    .map(
      (s) =>
        `<tr><td>${html(s.id)}${s.current ? ' (this device)' : ''}</td><td>${time(s.created)}</td><td>${time(s.lastActive)}</td><td>${time(s.expiresAt)}</td></tr>`,
    )
    .join('');
  return page(
    'Your account',
    `<h1>Signed in as ${html(user)}</h1>
<table><tr><th>session</th><th>signed in</th><th>last active</th><th>expires</th></tr>${rows}</table>
<form method="post" action="/logout/others"><button>Sign out other devices</button></form>
<form method="post" action="/logout/everywhere"><button>Sign out everywhere</button></form>
<form method="post" action="/logout"><button>Sign out</button></form>`,
  );
}

/**
 * Adds GET/POST /login, GET /account, POST /logout, /logout/others and /logout/everywhere to `app`,
 * which must run the kv-session middleware whose manager is `manager`. `rememberMs` is the idle
 * lifetime of a session signed in with "keep me signed in"; the others keep the `maxAge` option.
 */
export function accountPages(app, manager, { rememberMs }) {
  app.get('/login', (_req, res) => {
    res.type('html').send(loginPage());
  });

  app.post('/login', async (req, res) => {
    const { username, password, remember } = req.body ?? {};
    const user = USERS.get(String(username));
    if (user === undefined || user.password !== password) {
      res.status(401).format({
        json: () => res.json({ error: 'wrong user name or password' }),
        default: () => res.type('html').send(loginPage('Wrong user name or password.')),
      });
      return;
    }
    // A new id at sign-in (session fixation); the data, owner and lifetime move with it.
    await req.session.regenerate();
    await req.session.setOwner(user.id);
    if (remember === 'on') await req.session.setMaxAge(rememberMs);
    await req.session.set('user', user.id);
    res.redirect(303, '/account');
  });

  app.get('/account', async (req, res) => {
    const user = await req.session.get('user');
    if (user === undefined) {
      res.redirect(303, '/login');
      return;
    }
    const sessions = await manager.listSessions(user, { current: req.session.id });
    res.format({
      json: () => res.json({ user, sessions }),
      default: () => res.type('html').send(accountPage(user, sessions)),
    });
  });

  app.post('/logout', async (req, res) => {
    await req.session.destroy();
    res.redirect(303, '/login');
  });

  // Every device of the user, this one included.
  app.post('/logout/everywhere', async (req, res) => {
    const user = await req.session.get('user');
    if (user !== undefined) await manager.destroySessions(user);
    await req.session.destroy(); // expires this browser's cookie too
    res.redirect(303, '/login');
  });

  // Every device but this one (say, after changing the password).
  app.post('/logout/others', async (req, res) => {
    const user = await req.session.get('user');
    if (user === undefined) {
      res.redirect(303, '/login');
      return;
    }
    await manager.destroySessions(user, { except: req.session.id });
    res.redirect(303, '/account');
  });
}
