// Test helpers for the examples: run the real `node examples/<fw>/server.js` process and talk to it
// over HTTP, as a user would.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort } from '@kv-session/testing';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** The frameworks with a reference example under examples/<name>/server.js. */
export type Framework = 'express' | 'fastify' | 'koa' | 'hono';

/** A running example process. */
export interface ExampleServer {
  readonly port: number;
  readonly baseUrl: string;
  /** Everything the process printed so far (stdout and stderr interleaved). */
  output(): string;
  /** Sends `signal` and resolves with the exit code (`null` if it died of a signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * The examples import the built packages (dist), like a user's app would. The root `pnpm test`
 * builds first; running vitest directly needs `pnpm -s build` before.
 */
export function assertBuilt(): void {
  for (const pkg of ['core', 'redis', 'express', 'fastify', 'koa', 'fetch', 'hono']) {
    const entry = `${repoRoot}packages/${pkg}/dist/index.js`;
    if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`pnpm -s build\` first`);
  }
}

/** Starts `node examples/<framework>/server.js` and resolves once it has printed its start-up lines. */
export async function startExample(
  framework: Framework,
  env: {
    REDIS_URL: string;
    SESSION_MAX_AGE?: string;
    PORT?: string;
    SESSION_STORAGE?: string;
    SESSION_DIR?: string;
    REDIS_CLIENT?: string;
  },
): Promise<ExampleServer> {
  const port = env.PORT === undefined ? await freePort() : Number(env.PORT);
  const child = spawn(process.execPath, [`examples/${framework}/server.js`], {
    cwd: repoRoot,
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let out = '';
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      running.delete(child);
      resolve(code);
    });
  });
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes(`listening on http://127.0.0.1:${port}`) && out.includes('try: /set')) resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((code) =>
      reject(new Error(`${framework} example exited (${code}) before listening:\n${out}`)),
    );
  });
  await ready;
  return {
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    output: () => out,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}

/** One HTTP answer, reduced to what the scenario looks at. */
export interface Answer {
  status: number;
  body: string;
  setCookie: string[];
}

/** A tiny cookie-keeping client for one user. */
export class Visitor {
  cookie: string | undefined;

  /** GETs `path`, sending and keeping the session cookie like a browser would. */
  async get(baseUrl: string, path: string): Promise<Answer> {
    const res = await fetch(baseUrl + path, {
      headers: this.cookie === undefined ? {} : { cookie: this.cookie },
    });
    const setCookie = res.headers.getSetCookie();
    for (const line of setCookie) {
      const pair = line.split(';')[0] ?? '';
      this.cookie = /max-age=0/i.test(line) ? undefined : pair;
    }
    return { status: res.status, body: await res.text(), setCookie };
  }

  /** The session id in the cookie (the examples do not sign it). */
  get id(): string | undefined {
    return this.cookie?.slice(this.cookie.indexOf('=') + 1);
  }
}

/** Promise-based sleep, for waiting out a session's max age. */
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
