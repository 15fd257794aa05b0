// A raw `MONITOR` connection to the bench's Redis, used only outside timed runs (MONITOR slows
// Redis down): it tells round trips from commands that Lua scripts run, which INFO cannot.
import { connect } from 'node:net';

/** Starts MONITOR on 127.0.0.1:port; `stop()` closes it and returns the lines seen. */
export async function startMonitor(port) {
  const socket = connect(port, '127.0.0.1');
  socket.setEncoding('utf8');
  const lines = [];
  let buffer = '';
  let ready;
  const started = new Promise((resolve, reject) => {
    ready = resolve;
    socket.once('error', reject);
    setTimeout(() => reject(new Error('MONITOR did not start')), 5000).unref();
  });
  socket.on('data', (chunk) => {
    buffer += chunk;
    for (let i = buffer.indexOf('\r\n'); i >= 0; i = buffer.indexOf('\r\n')) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 2);
      if (line === '+OK') ready();
      else lines.push(line);
    }
  });
  socket.write('MONITOR\r\n');
  await started;
  return {
    async stop() {
      await new Promise((r) => setTimeout(r, 100)); // lines of the last commands still in transit
      socket.destroy();
      return lines;
    },
  };
}
