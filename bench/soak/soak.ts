/**
 * Soak run (issue 5, off CI): one server process, a steady message rate through N clients
 * (libs/client) in a few rooms for a long time; the server's RSS sampled every --sample
 * seconds; a markdown report with RSS over time and messages sent / acked / received / stored.
 *
 *   npm run bench:soak -- --minutes 60 --rate 200
 *   node --conditions=roomcast-source --import @swc-node/register/esm-register \
 *     bench/soak/soak.ts --minutes 60 --rate 200 [--clients 20] [--rooms 4] [--sample 10] [--embedded]
 *
 * Production mode (default) needs MySQL/MariaDB and Redis (--mysql, --redis or BENCH_MYSQL_URL,
 * BENCH_REDIS_URL; default 127.0.0.1 root/no password); it creates a database rc_soak_<random>
 * and a Redis prefix of its own and removes both at the end. --embedded uses a SQLite file.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { deleteRedisKeys } from '../../test/support/services.js';
import { createConnection } from 'mysql2/promise';
import * as prettier from 'prettier';
import { RoomcastClient } from '#client';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PRELOAD = resolve(ROOT, 'bench/lib/node-preload.mjs');
const ADMIN_TOKEN = 'soak-token';
/** better-sqlite3 ships no types; the little used here, typed by hand. */
const Database = createRequire(import.meta.url)('better-sqlite3') as new (
  path: string,
  options: { readonly: boolean },
) => { prepare(sql: string): { get(...params: unknown[]): unknown }; close(): void };
const TICKS_PER_SECOND = 20;
const MiB = 1024 * 1024;
/** Below this, the RSS slope says more about start-up than about leaks. */
const TREND_MIN_S = 600;

const { values: flags } = parseArgs({
  options: {
    minutes: { type: 'string', default: '60' },
    rate: { type: 'string', default: '200' },
    clients: { type: 'string', default: '20' },
    rooms: { type: 'string', default: '4' },
    sample: { type: 'string', default: '10' },
    embedded: { type: 'boolean', default: false },
    mysql: { type: 'string', default: process.env.BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306' },
    redis: { type: 'string', default: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379' },
    report: { type: 'string', default: 'bench/reports/soak.md' },
    note: { type: 'string', default: '' },
  },
  strict: true,
});
const minutes = Number(flags.minutes);
const rate = Number(flags.rate);
const clientCount = Number(flags.clients);
const roomCount = Number(flags.rooms);
const sampleMs = Number(flags.sample) * 1000;
for (const [name, v] of Object.entries({ minutes, rate, clients: clientCount, rooms: roomCount, sampleMs }))
  if (!(v > 0)) throw new Error(`--${name} must be a positive number`);

const log = (line: string) => console.log(`[soak ${new Date().toISOString().slice(11, 19)}] ${line}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

const rssOf = (pid: number) =>
  Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

// ---------------------------------------------------------------------------------------------
// Storage: a database and Redis prefix of the run's own (or a SQLite file)

const tag = randomBytes(4).toString('hex');
const sqliteDir = flags.embedded ? mkdtempSync(join(os.tmpdir(), 'roomcast-soak-')) : '';
const mysqlBase = new URL(flags.mysql);
const database = `rc_soak_${tag}`;
const prefix = `rc-soak-${tag}`;
const storageEnv: Record<string, string> = flags.embedded
  ? { DATABASE_URL: `sqlite:${join(sqliteDir, 'roomcast.sqlite')}` }
  : {
      DATABASE_URL: Object.assign(new URL(mysqlBase), { pathname: `/${database}` }).toString(),
      REDIS_URL: flags.redis,
      REDIS_PREFIX: prefix,
    };

async function createStorage(): Promise<void> {
  if (flags.embedded) return;
  const admin = await createConnection(flags.mysql);
  await admin.query(`CREATE DATABASE \`${database}\` CHARACTER SET utf8mb4`);
  await admin.end();
}

async function storedCount(roomIds: string[]): Promise<number> {
  if (flags.embedded) {
    const db = new Database(join(sqliteDir, 'roomcast.sqlite'), { readonly: true });
    try {
      const placeholders = roomIds.map(() => '?').join(',');
      const row = db
        .prepare(`SELECT COUNT(*) AS n FROM messages WHERE room_id IN (${placeholders})`)
        .get(...roomIds) as { n: number };
      return row.n;
    } finally {
      db.close();
    }
  }
  const conn = await createConnection(storageEnv.DATABASE_URL);
  try {
    const [rows] = await conn.query('SELECT COUNT(*) AS n FROM messages WHERE room_id IN (?)', [roomIds]);
    return Number((rows as Array<{ n: number }>)[0].n);
  } finally {
    await conn.end();
  }
}

async function dropStorage(): Promise<void> {
  if (flags.embedded) {
    rmSync(sqliteDir, { recursive: true, force: true });
    return;
  }
  const admin = await createConnection(flags.mysql);
  await admin.query(`DROP DATABASE IF EXISTS \`${database}\``);
  await admin.end();
  await deleteRedisKeys(flags.redis, prefix);
}

// ---------------------------------------------------------------------------------------------
// The run

interface Sample {
  t: number;
  rss: number;
  heap: number;
  sent: number;
  acked: number;
  received: number;
}

const counters = { sent: 0, acked: 0, failed: 0, received: 0, outOfOrder: 0 };
const failures = new Map<string, number>();
const latencies: number[] = [];

async function main(): Promise<void> {
  await createStorage();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = spawn(
    process.execPath,
    [
      '--expose-gc',
      '--conditions=roomcast-source',
      '--import',
      '@swc-node/register/esm-register',
      '--import',
      PRELOAD,
      'src/main.ts',
    ],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        ...storageEnv,
        PORT: String(port),
        ROLE: 'all',
        ADMIN_TOKEN,
        LOG_LEVEL: 'warn',
        STATUS_INTERVAL_MS: '0',
        NODE_ID: `soak-${tag}`,
        RC_BENCH_PARENT_PID: String(process.pid),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let serverLog = '';
  let warnings = 0;
  const onOutput = (chunk: Buffer) => {
    const text = chunk.toString();
    serverLog = (serverLog + text).slice(-8000);
    warnings += (text.match(/\b(WARN|ERROR)\b/g) ?? []).length;
  };
  server.stdout.on('data', onOutput);
  server.stderr.on('data', onOutput);
  let stopping = false;
  server.once('exit', (code, signal) => {
    if (!stopping) {
      console.error(`server exited (${signal ?? code}):\n${serverLog}`);
      process.exit(1);
    }
  });

  const stats = async () => {
    const res = await fetch(`${base}/api/stats`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    return (await res.json()) as { memory: { heap_used_bytes: number } };
  };
  for (let t = Date.now(); ; await sleep(250)) {
    if (
      await fetch(`${base}/health/live`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    if (Date.now() - t > 120_000) throw new Error(`server not up after 120 s:\n${serverLog}`);
  }
  log(`server pid ${server.pid} on :${port} (${flags.embedded ? 'embedded' : 'mysql+redis'})`);

  const roomIds = Array.from({ length: roomCount }, (_, r) => `SOAK${String(r).padStart(4, '0')}`);
  const clients: Array<{ client: RoomcastClient; roomId: string }> = [];
  for (let i = 0; i < clientCount; i++) {
    const roomId = roomIds[i % roomCount];
    const { client } = await RoomcastClient.connect(`ws://127.0.0.1:${port}/ws`, {
      device_id: `soak-${i}`,
      identity: 'soak',
      room_id: roomId,
    });
    let last = 0;
    client.on('message', (m) => {
      counters.received++;
      if ((m.seq ?? 0) <= last) counters.outOfOrder++;
      last = m.seq ?? last;
    });
    clients.push({ client, roomId });
  }
  const members = new Map(roomIds.map((r) => [r, clients.filter((c) => c.roomId === r).length]));
  let expectedDeliveries = 0;

  process.kill(server.pid!, 'SIGUSR2');
  await sleep(500);
  const baseline = { rss: rssOf(server.pid!), heap: (await stats()).memory.heap_used_bytes };
  log(
    `baseline after GC: rss ${(baseline.rss / MiB).toFixed(1)} MiB, heap ${(baseline.heap / MiB).toFixed(1)} MiB`,
  );

  const samples: Sample[] = [];
  const started = Date.now();
  const sample = async () => {
    samples.push({
      t: Date.now() - started,
      rss: rssOf(server.pid!),
      heap: (await stats()).memory.heap_used_bytes,
      ...counters,
    });
    const s = samples[samples.length - 1];
    log(
      `t=${(s.t / 1000).toFixed(0)}s rss ${(s.rss / MiB).toFixed(1)} MiB heap ${(s.heap / MiB).toFixed(1)} MiB sent ${s.sent} acked ${s.acked} received ${s.received}`,
    );
  };
  await sample();
  const sampler = setInterval(() => void sample(), sampleMs);

  // The load: every 50 ms, the sends due by now at `rate` (timers drift; the clock does not),
  // round the clients.
  let next = 0;
  const loadStart = performance.now();
  const inFlight = new Set<Promise<void>>();
  const ticker = setInterval(() => {
    const due = Math.floor((rate * (performance.now() - loadStart)) / 1000);
    while (counters.sent < due) {
      const { client, roomId } = clients[next++ % clients.length];
      const sentAt = performance.now();
      counters.sent++;
      const p = client
        .request(
          'message.send',
          { room_id: roomId, kind: 'text', content: `soak ${counters.sent}` },
          { timeoutMs: 30_000 },
        )
        .then(
          () => {
            counters.acked++;
            expectedDeliveries += members.get(roomId)! - 1;
            if (latencies.length < 1_000_000) latencies.push(performance.now() - sentAt);
          },
          (err: Error) => {
            counters.failed++;
            const key = err.message.slice(0, 120);
            failures.set(key, (failures.get(key) ?? 0) + 1);
          },
        );
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    }
  }, 1000 / TICKS_PER_SECOND);

  await sleep(minutes * 60_000);
  clearInterval(ticker);
  await Promise.all([...inFlight]);
  // Deliveries still on their way.
  for (let t = Date.now(); counters.received < expectedDeliveries && Date.now() - t < 30_000;)
    await sleep(100);
  clearInterval(sampler);
  await sample();
  const durationS = (Date.now() - started) / 1000;

  let stored = 0;
  for (let t = Date.now(); Date.now() - t < 120_000; await sleep(500)) {
    stored = await storedCount(roomIds);
    if (stored >= counters.acked) break;
  }
  await Promise.all(clients.map(({ client }) => client.close()));
  await sleep(1000);
  process.kill(server.pid!, 'SIGUSR2');
  await sleep(1000);
  const after = { rss: rssOf(server.pid!), heap: (await stats()).memory.heap_used_bytes };

  stopping = true;
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  await dropStorage();

  await writeReport({ samples, baseline, after, durationS, stored, expectedDeliveries, warnings });
}

function percentile(values: number[], p: number): number {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Least-squares slope of RSS over the second half of the run, in MiB per hour. */
function rssTrend(samples: Sample[]): number {
  const half = samples.slice(Math.floor(samples.length / 2));
  if (half.length < 2) return 0;
  const n = half.length;
  const mx = half.reduce((a, s) => a + s.t, 0) / n;
  const my = half.reduce((a, s) => a + s.rss, 0) / n;
  const num = half.reduce((a, s) => a + (s.t - mx) * (s.rss - my), 0);
  const den = half.reduce((a, s) => a + (s.t - mx) ** 2, 0);
  return den ? ((num / den) * 3_600_000) / MiB : 0;
}

async function writeReport(r: {
  samples: Sample[];
  baseline: { rss: number; heap: number };
  after: { rss: number; heap: number };
  durationS: number;
  stored: number;
  expectedDeliveries: number;
  warnings: number;
}): Promise<void> {
  const mib = (b: number) => (b / MiB).toFixed(1);
  const maxRss = Math.max(...r.samples.map((s) => s.rss));
  const cpu = os.cpus();
  const lines = [
    `# Soak run: ${minutes} min at ${rate} messages/s`,
    '',
    ...(flags.note ? [flags.note, ''] : []),
    `Run ${new Date().toISOString().slice(0, 16)}Z with \`bench/soak/soak.ts --minutes ${minutes} --rate ${rate} --clients ${clientCount} --rooms ${roomCount} --sample ${sampleMs / 1000}${flags.embedded ? ' --embedded' : ''}\`:`,
    `one server process (\`ROLE=all\`, ${flags.embedded ? 'embedded: SQLite' : 'MySQL + Redis'}, \`LOG_LEVEL=warn\`), ${clientCount} clients (libs/client) in ${roomCount} rooms,`,
    `sends spread evenly over the clients. Machine: ${cpu.length} × ${cpu[0]?.model ?? '?'}, Node ${process.version}.`,
    '',
    '## Messages',
    '',
    '| | count |',
    '| --- | ---: |',
    `| sent | ${counters.sent} |`,
    `| acked | ${counters.acked} |`,
    `| failed | ${counters.failed} |`,
    `| received (live deliveries to the other members) | ${counters.received} |`,
    `| expected deliveries (acked × (members − 1)) | ${r.expectedDeliveries} |`,
    `| received out of seq order | ${counters.outOfOrder} |`,
    `| stored (rows in \`messages\` for the rooms) | ${r.stored} |`,
    `| achieved rate | ${(counters.acked / r.durationS).toFixed(1)} acked/s |`,
    `| ack latency p50 / p99 / max | ${percentile(latencies, 50).toFixed(1)} / ${percentile(latencies, 99).toFixed(1)} / ${percentile(latencies, 100).toFixed(1)} ms |`,
    `| server WARN/ERROR log lines | ${r.warnings} |`,
    ...(failures.size
      ? ['', 'Failures:', '', ...[...failures].map(([message, n]) => `- ${n} × ${message}`)]
      : []),
    '',
    '## Memory',
    '',
    `RSS from \`/proc/<pid>/status\`, heap used from \`GET /api/stats\`. Baseline and end after a full GC`,
    `(\`--expose-gc\`, SIGUSR2 through bench/lib/node-preload.mjs), with the clients connected at the`,
    'start and closed at the end.',
    '',
    '| | RSS MiB | heap MiB |',
    '| --- | ---: | ---: |',
    `| baseline (clients connected, GC'd) | ${mib(r.baseline.rss)} | ${mib(r.baseline.heap)} |`,
    `| max during the run | ${mib(maxRss)} | ${mib(Math.max(...r.samples.map((s) => s.heap)))} |`,
    `| end (clients closed, GC'd) | ${mib(r.after.rss)} | ${mib(r.after.heap)} |`,
    '',
    r.durationS >= TREND_MIN_S
      ? `RSS trend over the second half of the run: ${rssTrend(r.samples).toFixed(1)} MiB/hour (least squares).`
      : `No RSS trend: the run is shorter than ${TREND_MIN_S / 60} minutes (start-up memory is still being given back).`,
    '',
    '## Over time',
    '',
    '| t (s) | RSS MiB | heap MiB | sent | acked | received |',
    '| ---: | ---: | ---: | ---: | ---: | ---: |',
    ...r.samples.map(
      (s) =>
        `| ${(s.t / 1000).toFixed(0)} | ${mib(s.rss)} | ${mib(s.heap)} | ${s.sent} | ${s.acked} | ${s.received} |`,
    ),
    '',
  ];
  const path = resolve(ROOT, flags.report);
  mkdirSync(dirname(path), { recursive: true });
  const report = await prettier.format(lines.join('\n'), {
    ...(await prettier.resolveConfig(path)),
    parser: 'markdown',
  });
  writeFileSync(path, report);
  log(`report: ${path}`);
}

main().catch(async (err: Error) => {
  console.error(err);
  await dropStorage().catch(() => undefined);
  process.exit(1);
});
