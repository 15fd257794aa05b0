import { createServer } from 'node:net';

/** Listens on `port` at 127.0.0.1 (0: any) and closes again: the port it got, or undefined when taken. */
function tryListen(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(undefined));
    srv.listen(port, '127.0.0.1', () => {
      const address = srv.address();
      const got = typeof address === 'object' && address !== null ? address.port : undefined;
      srv.close(() => resolve(got));
    });
  });
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export async function freePort(): Promise<number> {
  const port = await tryListen(0);
  if (port === undefined) throw new Error('could not listen on any port of 127.0.0.1');
  return port;
}

/**
 * A free port for a Redis Cluster node: a cluster node also listens on its port + 10000 (the
 * cluster bus), so that port must be free too, and at most 65535. The kernel's ephemeral range
 * (32768-60999 on Linux) reaches past 55535, where the bus port would not exist.
 */
export async function freeClusterPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await freePort();
    if (port + 10_000 <= 65_535 && (await tryListen(port + 10_000)) !== undefined) return port;
  }
  throw new Error('found no free port whose cluster bus port (+10000) was free too');
}
