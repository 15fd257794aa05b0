// A persistent raw connection for the harness's own INFO/FLUSHALL: much quicker than spawning
// redis-cli, so snapshots can be taken while the load is running.
import { connect } from 'node:net';

const encode = (args) =>
  `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;

/** Connects to 127.0.0.1:port; `command(...args)` resolves a bulk or simple string reply. */
export async function harnessConnection(port) {
  const socket = connect(port, '127.0.0.1');
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let buffer = Buffer.alloc(0);
  const waiting = [];
  socket.on('data', (chunk) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      const eol = buffer.indexOf('\r\n');
      if (eol < 0 || waiting.length === 0) return;
      const head = buffer.subarray(0, eol).toString();
      let value;
      let used;
      if (head[0] === '$') {
        const len = Number(head.slice(1));
        if (buffer.length < eol + 2 + len + 2) return;
        value = buffer.subarray(eol + 2, eol + 2 + len).toString();
        used = eol + 2 + len + 2;
      } else {
        value = head.slice(1);
        used = eol + 2;
      }
      buffer = buffer.subarray(used);
      const { resolve, reject } = waiting.shift();
      if (head[0] === '-') reject(new Error(`redis: ${value}`));
      else resolve(value);
    }
  });
  return {
    command(...args) {
      return new Promise((resolve, reject) => {
        waiting.push({ resolve, reject });
        socket.write(encode(args));
      });
    },
    close() {
      socket.destroy();
    },
  };
}
