// A tiny demo of @kv-session/core without any framework: two "requests" sharing one session.
import { SessionManager, StorageMemory } from '@kv-session/core';

const manager = new SessionManager({ storage: new StorageMemory(), maxAge: 60_000 });

const first = manager.session({});
await first.set('time', Math.floor(Date.now() / 1000));
const { setCookie } = await manager.commit(first);
console.log('request 1 sets:', setCookie);

const cookie = setCookie?.split(';')[0];
const second = manager.session({ cookie });
console.log('request 2 reads:', await second.data());
