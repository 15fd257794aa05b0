// A TCP proxy that delays every chunk by half a configurable round-trip time in each direction,
// for a "remote Redis" on one machine (netem is not available here). Started by bench/run.js
// (--remote) as its own process, so that its CPU is measured apart from the server's:
//
//   node bench/latency-proxy.js <target-port>     (IPC: { type: 'rtt', ms }, { type: 'usage' })
//
// It answers { type: 'ready', port } once listening on 127.0.0.1. Timers have a 1 ms resolution,
// so delays below it are kept by polling with setImmediate while data is in flight (that polling
// is the proxy's own CPU, reported separately by the bench).
import { createConnection, createServer } from 'node:net';

const target = Number(process.argv[2]);
if (!Number.isInteger(target)) {
  console.error('usage: node bench/latency-proxy.js <target-port>');
  process.exit(2);
}
process.on('disconnect', () => process.exit(0)); // never outlive the harness

/** Half the round trip, in ns: the delay of each direction. */
let oneWay = 0n;
const now = () => process.hrtime.bigint();

/** Per direction: chunks waiting until their time, oldest first. */
class Lane {
  items = [];
  head = 0;
  constructor(to) {
    this.to = to;
  }
  get waiting() {
    return this.items.length - this.head;
  }
}

const active = new Set();
let pumping = false;

function pump() {
  const t = now();
  let next;
  for (const lane of active) {
    while (lane.waiting > 0 && lane.items[lane.head].due <= t) {
      const { chunk } = lane.items[lane.head];
      lane.items[lane.head++] = undefined;
      if (!lane.to.destroyed) lane.to.write(chunk);
    }
    if (lane.waiting === 0) {
      lane.items = [];
      lane.head = 0;
      active.delete(lane);
    } else if (next === undefined || lane.items[lane.head].due < next) next = lane.items[lane.head].due;
  }
  if (next === undefined) {
    pumping = false;
    return;
  }
  const waitMs = Number(next - t) / 1e6;
  if (waitMs > 1.5) setTimeout(pump, Math.floor(waitMs) - 1);
  else setImmediate(pump);
}

function forward(from, to) {
  const lane = new Lane(to);
  from.on('data', (chunk) => {
    if (oneWay === 0n && lane.waiting === 0) {
      to.write(chunk);
      return;
    }
    lane.items.push({ due: now() + oneWay, chunk });
    active.add(lane);
    if (!pumping) {
      pumping = true;
      setImmediate(pump);
    }
  });
}

const server = createServer((client) => {
  const upstream = createConnection({ port: target, host: '127.0.0.1' });
  client.setNoDelay(true);
  upstream.setNoDelay(true);
  forward(client, upstream);
  forward(upstream, client);
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close).on('close', close);
  upstream.on('error', close).on('close', close);
});

process.on('message', (msg) => {
  if (msg?.type === 'rtt') {
    oneWay = BigInt(Math.round((msg.ms / 2) * 1e6));
    process.send({ type: 'rtt', seq: msg.seq });
  } else if (msg?.type === 'usage') {
    process.send({ type: 'usage', seq: msg.seq, cpu: process.cpuUsage(), requests: 0 });
  }
});

server.listen(0, '127.0.0.1', () => process.send({ type: 'ready', port: server.address().port }));
