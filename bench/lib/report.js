// Turns bench results into the stdout table, docs/benchmarks.md and the SVG chart.
// A result row: { stack, route, requests, rps, p50, p99, cmds: { total, byCommand }, cpuUs, rssMb }
// where `stack` is an entry of STACKS and `route` one of ROUTES.

const fmt = (v, digits) => (Number.isFinite(v) ? v.toFixed(digits) : '-');
const int = (v) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '-');

/** The bare, floor and peer stacks of a row's framework, same route. */
function refs(rows, row) {
  const same = (kind) =>
    rows.find(
      (r) =>
        r.stack.framework === row.stack.framework && r.stack.kind === kind && r.route.id === row.route.id,
    );
  return { bare: same('bare'), floor: same('floor'), peer: same('peer') };
}

/** The kv-session stacks (native, cached, drop-in): the ones compared with floor and peer. */
const KV_KINDS = ['kv', 'kv-cache', 'compat'];

/** Derived figures of one row: ratios of req/s, CPU above bare and above the floor. */
export function derive(rows, row) {
  const { bare, floor, peer } = refs(rows, row);
  const isKv = KV_KINDS.includes(row.stack.kind);
  return {
    vsPeer: isKv && peer ? row.rps / peer.rps : Number.NaN,
    vsFloor: (isKv || row.stack.kind === 'peer') && floor ? row.rps / floor.rps : Number.NaN,
    vsBare: row.stack.kind !== 'bare' && bare ? row.rps / bare.rps : Number.NaN,
    cpuAboveBare: row.stack.kind !== 'bare' && bare ? row.cpuUs - bare.cpuUs : Number.NaN,
    cpuAboveFloor: (isKv || row.stack.kind === 'peer') && floor ? row.cpuUs - floor.cpuUs : Number.NaN,
  };
}

/**
 * Ratios first: per kv-session stack (and peer), req/s relative to the floor, bare and the peer on
 * every route, as rows of cells (the first row is the header).
 */
export function ratioCells(rows) {
  const stacks = [
    ...new Map(
      rows.filter((r) => [...KV_KINDS, 'peer'].includes(r.stack.kind)).map((r) => [r.stack.id, r.stack]),
    ).values(),
  ];
  const at = (stack, route) => rows.find((r) => r.stack.id === stack.id && r.route.id === route);
  const ratio = (stack, route, key) => {
    const r = at(stack, route);
    return r ? fmt(derive(rows, r)[key], 2) : '-';
  };
  return [
    [
      'stack',
      '/get × floor',
      '/get × bare',
      '/get × peer',
      '/ping × bare',
      '/set × floor',
      '/set × peer',
      '/new × floor',
      '/new × peer',
      '/get CPU Δ floor µs',
    ],
    ...stacks.map((s) => [
      s.label,
      ratio(s, 'get', 'vsFloor'),
      ratio(s, 'get', 'vsBare'),
      ratio(s, 'get', 'vsPeer'),
      ratio(s, 'ping', 'vsBare'),
      ratio(s, 'set', 'vsFloor'),
      ratio(s, 'set', 'vsPeer'),
      ratio(s, 'new', 'vsFloor'),
      ratio(s, 'new', 'vsPeer'),
      at(s, 'get') ? fmt(derive(rows, at(s, 'get')).cpuAboveFloor, 1) : '-',
    ]),
  ];
}

/** Plain-text table: `head` and `body` are rows of cells; columns for which `left(i)` pad right. */
function plain(head, body, left) {
  const data = [head, ...body];
  const widths = head.map((_, i) => Math.max(...data.map((line) => line[i].length)));
  return data
    .map((line) => line.map((c, i) => (left(i) ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '))
    .join('\n');
}

/** Markdown table; columns for which `left(i)` are left-aligned, the others right-aligned. */
function markdown(head, body, left) {
  return [
    `| ${head.join(' | ')} |`,
    `| ${head.map((_, i) => (left(i) ? '---' : '---:')).join(' | ')} |`,
    ...body.map((line) => `| ${line.join(' | ')} |`),
  ].join('\n');
}

/** The ratio table as plain text (stdout). */
export function ratioText(rows) {
  const [head, ...body] = ratioCells(rows);
  return plain(head, body, (i) => i === 0);
}

/** The ratio table in Markdown. */
export function ratioMarkdown(rows) {
  const [head, ...body] = ratioCells(rows);
  return markdown(head, body, (i) => i === 0);
}

/** `get 1.00, expire 1.00` style list of commands per request. */
export function commandList(byCommand) {
  const entries = Object.entries(byCommand).filter(([, v]) => v >= 0.005);
  if (entries.length === 0) return '-';
  return entries
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
    .join(', ');
}

const COLUMNS = [
  'stack',
  'route',
  'req/s',
  '± rounds',
  'p50 ms',
  'p99 ms',
  'Redis cmds/req',
  'round trips/req',
  'by command',
  'CPU µs/req',
  'CPU Δ bare µs',
  'RSS MB',
  '× peer',
  '× floor',
  '× bare',
];

function cells(rows, row) {
  const d = derive(rows, row);
  return [
    row.stack.label,
    row.route.id,
    int(row.rps),
    Number.isFinite(row.rpsSpread) ? `${Math.round(row.rpsSpread * 100)}%` : '-',
    fmt(row.p50, 3),
    fmt(row.p99, 3),
    fmt(row.cmds.total, 2),
    fmt(row.trips, 2),
    commandList(row.cmds.byCommand),
    fmt(row.cpuUs, 1),
    fmt(d.cpuAboveBare, 1),
    fmt(row.rssMb, 1),
    fmt(d.vsPeer, 2),
    fmt(d.vsFloor, 2),
    fmt(d.vsBare, 2),
  ];
}

const leftMain = (i) => i < 2 || i === 8;

/** A plain-text table (stdout). */
export function textTable(rows) {
  return plain(
    COLUMNS,
    rows.map((r) => cells(rows, r)),
    leftMain,
  );
}

/** A Markdown table (docs/benchmarks.md). */
export function markdownTable(rows) {
  return markdown(
    COLUMNS,
    rows.map((r) => cells(rows, r)),
    leftMain,
  );
}

/** Issue 16: req/s on /get at least this many times the framework's peer. */
const PEER_TARGET = { express: 1.6, fastify: 2, koa: 1.2 };

/**
 * Issue 16's targets, per kv-session stack: /ping with a cookie ≥ 0.95× bare (and no Redis
 * command), /get ≥ 0.9× the floor and ≥ N× the peer in one round trip.
 */
export function targets(rows) {
  const out = [];
  const row = (stack, route) => rows.find((r) => r.stack.id === stack.id && r.route.id === route);
  const kvStacks = [
    ...new Map(
      rows.filter((r) => KV_KINDS.includes(r.stack.kind)).map((r) => [r.stack.id, r.stack]),
    ).values(),
  ];
  for (const stack of kvStacks) {
    const get = row(stack, 'get');
    const ping = row(stack, 'ping');
    if (ping) {
      const d = derive(rows, ping);
      out.push({
        stack,
        target: '/ping with a cookie ≥ 0.95× bare req/s',
        value: `${fmt(d.vsBare, 2)}×`,
        met: d.vsBare >= 0.95,
      });
      if (stack.kind !== 'compat') {
        out.push({
          stack,
          target: 'Redis commands on /ping with a cookie = 0',
          value: fmt(ping.cmds.total, 2),
          met: ping.cmds.total === 0,
        });
      }
    }
    if (get) {
      const d = derive(rows, get);
      out.push({
        stack,
        target: '/get ≥ 0.9× the floor req/s',
        value: `${fmt(d.vsFloor, 2)}×`,
        met: d.vsFloor >= 0.9,
      });
      const need = PEER_TARGET[stack.framework];
      out.push({
        stack,
        target: `/get ≥ ${need}× the peer req/s`,
        value: `${fmt(d.vsPeer, 2)}×`,
        met: d.vsPeer >= need,
      });
      out.push({
        stack,
        target: 'round trips per read-only request ≤ 1.1',
        value: fmt(get.trips, 2),
        met: get.trips <= 1.1,
      });
    }
  }
  return out;
}

// ---- SVG chart -------------------------------------------------------------------------------

const COLORS = {
  bare: '#9e9e9e',
  floor: '#5b5b5b',
  kv: '#1f6feb',
  'kv-cache': '#0f9d8a',
  compat: '#8957e5',
  peer: '#e8833a',
};
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function panel(x, y, width, title, bars, digits) {
  const labelW = 230;
  const barH = 14;
  const gap = 4;
  const max = Math.max(...bars.map((b) => (Number.isFinite(b.value) ? b.value : 0)), 1e-9);
  const out = [`<text x="${x}" y="${y + 14}" class="t">${esc(title)}</text>`];
  bars.forEach((b, i) => {
    const by = y + 24 + i * (barH + gap);
    const v = Number.isFinite(b.value) ? b.value : 0;
    const w = Math.max(0, ((width - labelW - 70) * v) / max);
    out.push(
      `<text x="${x + labelW - 6}" y="${by + barH - 3}" class="l" text-anchor="end">${esc(b.label)}</text>`,
      `<rect x="${x + labelW}" y="${by}" width="${w.toFixed(1)}" height="${barH}" fill="${COLORS[b.kind]}"/>`,
      `<text x="${(x + labelW + w + 4).toFixed(1)}" y="${by + barH - 3}" class="v">${esc(Number.isFinite(b.value) ? b.value.toFixed(digits) : 'n/a')}</text>`,
    );
  });
  return { svg: out.join('\n'), height: 24 + bars.length * (barH + gap) + 16 };
}

/** An SVG bar chart: req/s per route, CPU and Redis commands per read-only request. */
export function svgChart(rows, caption) {
  const stacks = [...new Map(rows.map((r) => [r.stack.id, r.stack])).values()];
  const routeIds = [...new Set(rows.map((r) => r.route.id))];
  const byRoute = (route, pick) =>
    stacks.map((s) => {
      const r = rows.find((x) => x.stack.id === s.id && x.route.id === route);
      return { label: s.label, kind: s.kind, value: r ? pick(r) : Number.NaN };
    });
  const title = (id) => rows.find((r) => r.route.id === id)?.route.title ?? id;
  const panels = [
    ...routeIds.map((id) => ({ title: `req/s: ${title(id)}`, bars: byRoute(id, (r) => r.rps), digits: 0 })),
    { title: 'server CPU µs per request: GET /get', bars: byRoute('get', (r) => r.cpuUs), digits: 1 },
    { title: 'Redis commands per request: GET /get', bars: byRoute('get', (r) => r.cmds.total), digits: 2 },
  ];
  const colW = 560;
  const parts = [];
  let y = 40;
  for (let i = 0; i < panels.length; i += 2) {
    let rowH = 0;
    for (let j = 0; j < 2 && i + j < panels.length; j++) {
      const p = panels[i + j];
      const drawn = panel(10 + j * colW, y, colW - 20, p.title, p.bars, p.digits);
      parts.push(drawn.svg);
      rowH = Math.max(rowH, drawn.height);
    }
    y += rowH;
  }
  const legend = Object.entries({
    bare: 'bare framework',
    floor: 'floor (GET + JSON.parse)',
    kv: 'kv-session',
    'kv-cache': 'kv-session, CSC',
    compat: 'kv-session drop-in',
    peer: 'peer library',
  })
    .map(
      ([k, text], i) =>
        `<rect x="${10 + i * 185}" y="${y + 4}" width="12" height="12" fill="${COLORS[k]}"/><text x="${28 + i * 185}" y="${y + 14}" class="l">${esc(text)}</text>`,
    )
    .join('\n');
  const height = y + 30;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * colW}" height="${height}" viewBox="0 0 ${2 * colW} ${height}" font-family="system-ui, sans-serif">`,
    '<style>.t{font-size:13px;font-weight:600}.l{font-size:11px}.v{font-size:10px;fill:#333}</style>',
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="24" class="t">${esc(caption)}</text>`,
    ...parts,
    legend,
    '</svg>',
    '',
  ].join('\n');
}

// ---- remote Redis (--remote) -----------------------------------------------------------------

/** The figures of a --remote run worth keeping, one object per stack and RTT. */
export function remoteRows(rows) {
  return rows.map((r) => ({
    rttMs: r.rttMs,
    stack: r.stack,
    rps: r.rps,
    rpsSpread: r.rpsSpread,
    p50: r.p50,
    p99: r.p99,
    cpuUs: r.cpuUs,
    proxyCpuUs: r.proxyCpuUs,
    trips: r.trips,
    cmds: r.cmds.total,
  }));
}

const REMOTE_COLUMNS = [
  'RTT ms',
  'stack',
  'req/s',
  '± rounds',
  'p50 ms',
  'p99 ms',
  'round trips/req',
  'server CPU µs/req',
  'proxy CPU µs/req',
];

function remoteCells(r) {
  return [
    fmt(r.rttMs, 2),
    r.stack.label,
    int(r.rps),
    Number.isFinite(r.rpsSpread) ? `${Math.round(r.rpsSpread * 100)}%` : '-',
    fmt(r.p50, 3),
    fmt(r.p99, 3),
    fmt(r.trips, 2),
    fmt(r.cpuUs, 1),
    fmt(r.proxyCpuUs, 1),
  ];
}

/** The --remote results as plain text, by RTT then stack. */
export function remoteText(rows) {
  return plain(REMOTE_COLUMNS, rows.map(remoteCells), (i) => i === 1);
}

/** The --remote results in Markdown. */
export function remoteMarkdown(rows) {
  return markdown(REMOTE_COLUMNS, rows.map(remoteCells), (i) => i === 1);
}

/**
 * The instruction counts of bench/icount.js as aligned text lines (`markdown`: a Markdown table):
 * thousands of instructions per request, and the ratio to the same framework's bare, floor and
 * peer stack on the same route (below 1: fewer instructions than that stack).
 */
export function icountTable(rows, markdown = false) {
  const ratio = (row, kind) => {
    const base = rows.find((r) => r.route === row.route && r.framework === row.framework && r.kind === kind);
    return base === undefined || base === row ? '-' : (row.perRequest / base.perRequest).toFixed(2);
  };
  const head = ['stack', 'route', 'k instructions/req', '× bare', '× floor', '× peer'];
  const body = rows.map((r) => [
    r.label,
    r.route,
    (r.perRequest / 1000).toFixed(1),
    ratio(r, 'bare'),
    ratio(r, 'floor'),
    ratio(r, 'peer'),
  ]);
  if (markdown) {
    return [
      `| ${head.join(' | ')} |`,
      `| ${head.map((_, i) => (i < 2 ? '---' : '---:')).join(' | ')} |`,
      ...body.map((cells) => `| ${cells.join(' | ')} |`),
    ];
  }
  const widths = head.map((_, i) => Math.max(...[head, ...body].map((line) => line[i].length)));
  return [head, ...body].map((line) =>
    line.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  '),
  );
}
