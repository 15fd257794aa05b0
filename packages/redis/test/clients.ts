/**
 * The Redis client libraries the storages accept, as one list the tests run over: node-redis 5,
 * ioredis 6 and ioredis 5 (installed as the `ioredis5` alias). Each makes a connected client with
 * the library's defaults (offline queue on, reconnecting forever), like an app would.
 */
import type { IoredisClientLike, RedisClientLike } from '@kv-session/redis';
import { Cluster as Cluster6, Redis as Redis6 } from 'ioredis';
import { Cluster as Cluster5, Redis as Redis5 } from 'ioredis5';
import { createClient, createCluster } from 'redis';

/** A connected client and how to let go of it. */
export interface TestClient {
  /** What `StorageRedisKV` and `StorageRedisHash` take as `client`. */
  readonly client: RedisClientLike & IoredisClientLike;
  /** Every `'error'` event the client emitted (listening also keeps them from being unhandled). */
  readonly errors: unknown[];
  /** Closes the client without waiting for a server that may be down. */
  close(): Promise<void>;
}

export interface ClientKind {
  readonly name: string;
  /** A client of one server (`redis://127.0.0.1:<port>`). */
  single(url: string): Promise<TestClient>;
  /** A client of a Cluster given its root nodes. */
  cluster(rootNodes: { url: string }[]): Promise<TestClient>;
}

function wrap(client: object, close: () => unknown): TestClient {
  const errors: unknown[] = [];
  (client as { on(event: 'error', listener: (e: unknown) => void): void }).on('error', (e) => errors.push(e));
  return {
    // Typed as both shapes so that tests hand it to either storage; the storages tell them apart.
    client: client as RedisClientLike & IoredisClientLike,
    errors,
    close: async () => {
      await Promise.resolve()
        .then(close)
        .catch(() => undefined);
    },
  };
}

const hostPort = (url: string) => {
  const { hostname, port } = new URL(url);
  return { host: hostname, port: Number(port) };
};

export const nodeRedis: ClientKind = {
  name: 'node-redis',
  async single(url) {
    const c = createClient({ url });
    const t = wrap(c, () => c.destroy());
    await c.connect();
    return t;
  },
  async cluster(rootNodes) {
    const c = createCluster({ rootNodes });
    const t = wrap(c, () => c.destroy());
    await c.connect();
    return t;
  },
};

type IoredisClass = new (...args: never[]) => object & { connect(): Promise<unknown>; disconnect(): unknown };

function ioredisKind(name: string, Redis: IoredisClass, Cluster: IoredisClass): ClientKind {
  const make = async (client: object & { connect(): Promise<unknown>; disconnect(): unknown }) => {
    const t = wrap(client, () => client.disconnect());
    await client.connect();
    return t;
  };
  return {
    name,
    single: (url) =>
      make(
        new (Redis as unknown as new (url: string, o: object) => InstanceType<IoredisClass>)(url, {
          lazyConnect: true,
        }),
      ),
    cluster: (rootNodes) =>
      make(
        new (Cluster as unknown as new (nodes: object[], o: object) => InstanceType<IoredisClass>)(
          rootNodes.map((n) => hostPort(n.url)),
          { lazyConnect: true },
        ),
      ),
  };
}

export const ioredis6 = ioredisKind('ioredis 6', Redis6, Cluster6);
export const ioredis5 = ioredisKind('ioredis 5', Redis5, Cluster5);

/** Every client library, for the tests that must hold on each. */
export const CLIENT_KINDS: readonly ClientKind[] = [nodeRedis, ioredis6, ioredis5];

/**
 * The ioredis clients the conformance suites run on, next to node-redis's own list: ioredis 6 and 5
 * on a single node, ioredis 6 on a Cluster.
 */
export const IOREDIS_SUITES: readonly {
  name: string;
  connect(url: string, rootNodes: { url: string }[]): Promise<TestClient>;
}[] = [
  { name: 'single node, ioredis 6', connect: (url) => ioredis6.single(url) },
  { name: 'single node, ioredis 5', connect: (url) => ioredis5.single(url) },
  { name: '3-master Cluster, ioredis 6', connect: (_url, rootNodes) => ioredis6.cluster(rootNodes) },
];
