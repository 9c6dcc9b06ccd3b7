/**
 * Comparison benchmark (issue 6): Roomcast against a plain `ws` server and a Socket.IO 4 server
 * with the same semantics (bench/compare/reference-servers.ts), side by side in one run.
 *
 *   npm run bench            # the default run (≤ 10 minutes on 2 cores)
 *   npm run bench -- --quick # a ~2 minute smoke run
 *
 * Scenarios, each on a freshly started server: (a) idle connections, memory per connection
 * after a full GC; (b) fan-out at a fixed rate and (c) a ramp to the highest delivered rate
 * with p99 < 50 ms, in rooms of 10 and in one room of 1,000 (latency from the sender's
 * timestamp, loss, duplicates, order; (e) server CPU per delivery in every step); (d) Roomcast
 * persistence through BullMQ into MySQL with an exactly-once count. See docs/performance.md.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import * as prettier from 'prettier';
import { cpuSeconds, fmt, machineCpu, rssBytes, servicePids } from '../lib/measure.js';
import { nextMessage } from '../lib/ipc.js';
import {
  freePort,
  LOADER,
  log,
  PRELOAD,
  ProcessGroup,
  ROOT,
  sleep,
  stopProc,
  waitForHttp,
  type Proc,
} from '../lib/processes.js';
import { BenchDatabase, redisKeys } from '../lib/services.js';
import { renderChart } from './chart.js';
import type { ServerKind } from './clients.js';
import { Histogram } from './histogram.js';
import type { ParentMessage, WorkerConfig, WorkerMessage } from './protocol.js';
import {
  SERVER_LABELS,
  markdownReport,
  printTable,
  type BenchResults,
  type FanoutResult,
  type IdleResult,
  type PersistenceResult,
  type ServerName,
  type StepResult,
} from './report.js';

// ---------------------------------------------------------------------------------------------
// Options

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    servers: { type: 'string', default: 'ws,socketio,roomcast,roomcast-embedded' },
    scenarios: { type: 'string', default: 'idle,fanout,persist' },
    mysql: { type: 'string', default: process.env.BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306' },
    redis: { type: 'string', default: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379' },
    out: { type: 'string', default: 'bench/results' },
    docs: { type: 'string', default: 'docs/performance.md' },
    profile: { type: 'boolean', default: false },
    'room-sizes': { type: 'string' },
    rate: { type: 'string' },
    'step-seconds': { type: 'string' },
    render: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});
if (flags.help) {
  console.log(`usage: npm run bench -- [--quick] [--servers ws,socketio,roomcast,roomcast-embedded]
  [--scenarios idle,fanout,persist] [--mysql URL] [--redis URL] [--out bench/results] [--docs docs/performance.md]
  [--render bench/results/<date>.json] (chart, tables and docs again from a results file; runs nothing)
  [--room-sizes 10,1000] (fan-out topologies by room size; default all)
  [--rate N] [--step-seconds S] (fan-out: one step at N deliveries/s instead of the ramp: an A/B of CPU per delivery)
  [--profile] (Roomcast servers write a V8 CPU profile into the log directory; see bench/compare/profile-summary.ts)`);
  process.exit(0);
}

const quick = flags.quick!;
/** Everything that sets the size and length of the run; written into the results. */
const settings = quick
  ? {
      idleConnections: [2000],
      fanout: [
        { name: 'rooms of 10', clients: 200, perRoom: 10, startDeliveries: 1800, factor: 3, maxSteps: 3 },
        {
          name: 'one room of 200',
          clients: 200,
          perRoom: 200,
          startDeliveries: 4000,
          factor: 3,
          maxSteps: 3,
        },
      ],
      stepMs: 1500,
      persist: { clients: 50, window: 4, durationMs: 4000 },
    }
  : {
      idleConnections: [10_000, 19_000],
      fanout: [
        { name: 'rooms of 10', clients: 1000, perRoom: 10, startDeliveries: 9000, factor: 1.6, maxSteps: 9 },
        {
          name: 'one room of 1000',
          clients: 1000,
          perRoom: 1000,
          startDeliveries: 4995,
          factor: 1.8,
          maxSteps: 8,
        },
      ],
      stepMs: 3000,
      persist: { clients: 200, window: 8, durationMs: 20_000 },
    };
const roomSizes = flags['room-sizes']?.split(',').map(Number);
const fixedRate = flags.rate === undefined ? undefined : Number(flags.rate);
if (flags['step-seconds'] !== undefined) settings.stepMs = Number(flags['step-seconds']) * 1000;
const fanoutTopologies = settings.fanout.filter((t) => !roomSizes || roomSizes.includes(t.perRoom));
const P99_LIMIT_MS = 50;
/** Connections per worker process (one process may hold ~19,900 sockets). */
const PER_WORKER = 10_000;
/** Connections per source address (one source address gives ~28k ports towards one server port). */
const PER_SOURCE = 5000;
const FD_LIMIT = 20_000;
const CONNECT_TIMEOUT_MS = 30_000;

const serverNames = flags.servers!.split(',').map((s) => s.trim()) as ServerName[];
for (const s of serverNames)
  if (!(s in SERVER_LABELS)) {
    console.error(`--servers: unknown server ${s} (ws, socketio, roomcast, roomcast-embedded)`);
    process.exit(2);
  }
const scenarios = new Set(flags.scenarios!.split(',').map((s) => s.trim()));
const ALL_SERVERS = Object.keys(SERVER_LABELS);
const fullRun =
  !quick &&
  !flags.profile &&
  !roomSizes &&
  fixedRate === undefined &&
  flags['step-seconds'] === undefined &&
  ALL_SERVERS.every((s) => serverNames.includes(s as ServerName)) &&
  ['idle', 'fanout', 'persist'].every((s) => scenarios.has(s));

// ---------------------------------------------------------------------------------------------
// Servers

const tag = randomBytes(3).toString('hex');
const logDir = mkdtempSync(join(os.tmpdir(), 'rc-bench-compare-'));
const group = new ProcessGroup(logDir, FD_LIMIT);
const guarded = <T>(promise: Promise<T>) => group.guarded(promise);
const services = servicePids();
let redis: Redis | undefined;

/** Every Roomcast limit off: the load comes from a few addresses and devices send far above 20/s. */
const NO_LIMITS = {
  RATE_SEND_PER_SEC: '0',
  RATE_REQUESTS_PER_SEC: '0',
  RATE_ROOM_MSGS_PER_SEC: '0',
  RATE_CONNECT_PER_SEC: '0',
  RATE_ADMIN_PER_SEC: '0',
  RATE_ABUSE_STRIKES: '0',
  MAX_CONNECTIONS_PER_IP: '0',
  MAX_CONNECTIONS_PER_SUBJECT: '0',
};

interface RunningServer {
  proc: Proc;
  kind: ServerKind;
  url: string;
  memoryFile: string;
  /** Roomcast in cluster mode: its MySQL database. */
  db?: BenchDatabase;
  stop(): Promise<void>;
}

let serverCount = 0;

async function startServer(name: ServerName): Promise<RunningServer> {
  const port = await freePort();
  const memoryFile = join(logDir, `${name}-${++serverCount}.memory.json`);
  const procName = `${name}-${serverCount}`;
  const base = ['--max-old-space-size=4096', ...PRELOAD, ...LOADER];
  if (name === 'ws' || name === 'socketio') {
    const proc = group.spawnNode(
      procName,
      name,
      [...base, 'bench/compare/serve-reference.ts', name, String(port)],
      { RC_BENCH_MEMORY_FILE: memoryFile },
      false,
    );
    proc.port = port;
    await guarded(waitForHttp(proc, '/health'));
    const url = name === 'ws' ? `ws://127.0.0.1:${port}/` : `http://127.0.0.1:${port}`;
    return { proc, kind: name, url, memoryFile, stop: async () => void (await stopProc(proc)) };
  }
  const prefix = `rc-bench-${tag}-${serverCount}`;
  const db =
    name === 'roomcast'
      ? await BenchDatabase.create(flags.mysql!, `rc_bench_${tag}_${serverCount}`)
      : undefined;
  const sqliteDir =
    name === 'roomcast-embedded' ? mkdtempSync(join(os.tmpdir(), 'rc-bench-sqlite-')) : undefined;
  const env: NodeJS.ProcessEnv = {
    PORT: String(port),
    LOG_LEVEL: 'warn',
    STATUS_INTERVAL_MS: '0',
    HEARTBEAT_MS: '60000',
    ADMIN_TOKEN: 'bench-token',
    DB_MIGRATIONS_RUN: 'true',
    RC_BENCH_MEMORY_FILE: memoryFile,
    ...NO_LIMITS,
    ...(db
      ? { ROLE: 'all', DATABASE_URL: db.url, REDIS_URL: flags.redis!, REDIS_PREFIX: prefix }
      : { DATABASE_URL: `sqlite:${join(sqliteDir!, 'roomcast.sqlite')}` }),
  };
  // One file per thread (the main one is the largest; the TypeScript loader has a thread of its own).
  const profile = flags.profile ? ['--cpu-prof', `--cpu-prof-dir=${join(logDir, 'profiles', procName)}`] : [];
  const proc = group.spawnNode(procName, name, [...base, ...profile, 'src/main.ts'], env, false);
  proc.port = port;
  const stop = async () => {
    await stopProc(proc);
    if (db) await db.drop().catch((e: Error) => log(`drop ${db.name}: ${e.message}`));
    if (db && redis) await redisKeys(redis, prefix, true).catch(() => undefined);
    if (sqliteDir) rmSync(sqliteDir, { recursive: true, force: true });
  };
  try {
    await guarded(waitForHttp(proc, '/health/live'));
  } catch (err) {
    await stop();
    throw err;
  }
  return { proc, kind: 'roomcast', url: `ws://127.0.0.1:${port}/ws`, memoryFile, db, stop };
}

/** Full GC in the server (node-preload.mjs), then its memoryUsage() and RSS. */
async function serverMemory(server: RunningServer): Promise<{ rss: number; heapUsed: number }> {
  writeFileSync(server.memoryFile, '');
  process.kill(server.proc.pid, 'SIGUSR2');
  await sleep(1500);
  const usage = JSON.parse(readFileSync(server.memoryFile, 'utf8') || '{}') as { heapUsed?: number };
  return { rss: rssBytes(server.proc.pid), heapUsed: usage.heapUsed ?? NaN };
}

// ---------------------------------------------------------------------------------------------
// Load generators

interface Generator {
  proc: Proc;
  config: WorkerConfig;
  ok: number;
  waiters: Array<(message: WorkerMessage) => void>;
}

function ask<T extends WorkerMessage['type']>(
  gens: Generator[],
  message: ParentMessage,
  answer: T,
): Promise<Array<Extract<WorkerMessage, { type: T }>>> {
  return guarded(
    Promise.all(
      gens.map((g) => {
        const reply = nextMessage(g, answer);
        g.proc.child.send(message);
        return reply;
      }),
    ),
  );
}

let generatorCount = 0;

/** Forks the generators, connects `clients` clients in rooms of `perRoom`, resolves when all are in. */
async function connectClients(server: RunningServer, clients: number, perRoom: number, workers: number) {
  const sources = Array.from({ length: Math.ceil(clients / PER_SOURCE) }, (_, i) => `127.0.0.${i + 2}`);
  const gens: Generator[] = [];
  // Whole rooms per generator, so that every generator's share of the sends is known.
  const rooms = clients / perRoom;
  let room = 0;
  for (let w = 0; w < workers; w++) {
    const roomsHere = Math.floor(rooms / workers) + (w < rooms % workers ? 1 : 0);
    const config: WorkerConfig = {
      kind: server.kind,
      url: server.url,
      start: room * perRoom,
      count: roomsHere * perRoom,
      perRoom,
      sources,
      perSource: PER_SOURCE,
      concurrency: 200,
      timeoutMs: CONNECT_TIMEOUT_MS,
      tag: `${tag}${serverCount}`,
    };
    room += roomsHere;
    if (!config.count) continue;
    const proc = group.spawnNode(
      `load-${++generatorCount}`,
      'load',
      ['--max-old-space-size=4096', '--expose-gc', ...LOADER, 'bench/compare/load-worker.ts'],
      { RC_BENCH_WORKER: JSON.stringify(config) },
      true,
    );
    const gen: Generator = { proc, config, ok: 0, waiters: [] };
    proc.child.on('message', (message: WorkerMessage) => {
      for (const waiter of [...gen.waiters]) waiter(message);
    });
    gens.push(gen);
  }
  const began = performance.now();
  const connected = await guarded(Promise.all(gens.map((g) => nextMessage(g, 'connected'))));
  connected.forEach((c, i) => (gens[i].ok = c.ok));
  const ok = connected.reduce((n, c) => n + c.ok, 0);
  const failed = connected.reduce((n, c) => n + c.failed, 0);
  const failures = Object.fromEntries(connected.flatMap((c) => Object.entries(c.failures)));
  const seconds = (performance.now() - began) / 1000;
  log(
    `  ${ok} clients connected (${failed} failed) in ${fmt(seconds, 1)} s${failed ? `: ${JSON.stringify(failures)}` : ''}`,
  );
  if (failed)
    throw new Error(`${failed} of ${clients} clients could not connect: ${JSON.stringify(failures)}`);
  return { gens, connectPerSec: ok / seconds };
}

async function closeClients(gens: Generator[]): Promise<void> {
  for (const g of gens) if (!g.proc.exited) g.proc.child.send({ type: 'close' } satisfies ParentMessage);
  await Promise.all(gens.map((g) => stopProc(g.proc, 10_000)));
}

/** Starts a server, runs `body` against it, and always stops the server and its generators. */
/** The server of the scenario in progress, stopped (database dropped) also on Ctrl-C. */
const running = new Set<RunningServer>();

async function withServer<T>(
  name: ServerName,
  body: (server: RunningServer, gens: Generator[]) => Promise<T>,
) {
  const server = await startServer(name);
  running.add(server);
  const gens: Generator[] = [];
  try {
    await sleep(1000);
    return await body(server, gens);
  } finally {
    group.stopping = true;
    await closeClients(gens);
    await server.stop();
    running.delete(server);
    group.stopping = false;
  }
}

// ---------------------------------------------------------------------------------------------
// Scenarios

async function idleScenario(name: ServerName, connections: number): Promise<IdleResult> {
  log(`${SERVER_LABELS[name]}: idle, ${connections} connections`);
  return withServer(name, async (server, gens) => {
    const before = await serverMemory(server);
    const { gens: connected, connectPerSec } = await connectClients(
      server,
      connections,
      10,
      Math.ceil(connections / PER_WORKER),
    );
    gens.push(...connected);
    await sleep(2000);
    await serverMemory(server);
    const after = await serverMemory(server);
    const result: IdleResult = {
      server: name,
      connections,
      rssIdleBytes: before.rss,
      rssLoadedBytes: after.rss,
      rssPerConnBytes: (after.rss - before.rss) / connections,
      heapPerConnBytes: (after.heapUsed - before.heapUsed) / connections,
      connectPerSec,
    };
    log(
      `  RSS ${fmt(result.rssPerConnBytes / 1024, 1)} KiB/conn, heap ${fmt(result.heapPerConnBytes / 1024, 1)} KiB/conn`,
    );
    return result;
  });
}

function cpuOf(server: RunningServer): { server: number; services: number } {
  return {
    server: cpuSeconds(server.proc.pid),
    services: [...services.values()].reduce((n, pid) => n + cpuSeconds(pid), 0),
  };
}

/** One open-loop step at `deliveries` per second; waits for the tail of the deliveries, then collects. */
async function fanoutStep(
  server: RunningServer,
  gens: Generator[],
  perRoom: number,
  step: number,
  deliveries: number,
): Promise<StepResult> {
  const clients = gens.reduce((n, g) => n + g.ok, 0);
  const sendsPerSec = deliveries / (perRoom - 1);
  const cpuBefore = cpuOf(server);
  const machineBefore = machineCpu();
  const ran = await Promise.all(
    gens.map((g) =>
      ask(
        [g],
        { type: 'run', step, rate: (sendsPerSec * g.ok) / clients, durationMs: settings.stepMs },
        'ran',
      ).then(([r]) => r),
    ),
  );
  const sent = ran.reduce((n, r) => n + r.sent, 0);
  const failed = ran.reduce((n, r) => n + r.failed, 0);
  const expected = (sent - failed) * (perRoom - 1);
  // The deliveries' tail: until everything expected arrived, or nothing more comes for a while.
  let collected = await ask(gens, { type: 'collect', step }, 'collected');
  let received = collected.reduce((n, c) => n + c.received, 0);
  const drainEnd = Date.now() + 5000;
  while (received < expected && Date.now() < drainEnd) {
    await sleep(300);
    const again = await ask(gens, { type: 'collect', step }, 'collected');
    const now = again.reduce((n, c) => n + c.received, 0);
    collected = again;
    if (now === received) break;
    received = now;
  }
  received = collected.reduce((n, c) => n + c.received, 0);
  const cpuAfter = cpuOf(server);
  const machineAfter = machineCpu();
  const latency = new Histogram();
  for (const c of collected) latency.add(c.latency);
  const duplicates = collected.reduce((n, c) => n + c.duplicates, 0);
  const outOfOrder = collected.reduce((n, c) => n + c.outOfOrder, 0);
  const errors: Record<string, number> = {};
  for (const r of ran) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
  const seconds = settings.stepMs / 1000;
  const delivered = received - duplicates;
  const result: StepResult = {
    step,
    offeredPerSec: deliveries,
    sendsPerSec: sent / seconds,
    sent,
    failedSends: failed,
    errors,
    expected,
    received,
    deliveredPerSec: delivered / seconds,
    lost: Math.max(0, expected - delivered),
    duplicates,
    outOfOrder,
    p50: latency.percentile(50),
    p95: latency.percentile(95),
    p99: latency.percentile(99),
    max: latency.percentile(100),
    serverCpuS: cpuAfter.server - cpuBefore.server,
    servicesCpuS: cpuAfter.services - cpuBefore.services,
    cpuUsPerDelivery: ((cpuAfter.server - cpuBefore.server) * 1e6) / Math.max(1, delivered),
    machineBusy: (machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total || 1),
    generatorBehindMs: Math.max(...ran.map((r) => r.behind)),
  };
  log(
    `  step ${step}: offered ${fmt(deliveries)}/s → delivered ${fmt(result.deliveredPerSec)}/s, ` +
      `p50 ${fmt(result.p50, 2)} p99 ${fmt(result.p99, 2)} max ${fmt(result.max, 1)} ms, lost ${result.lost}, ` +
      `dup ${duplicates}, out of order ${outOfOrder}, failed sends ${failed}, server CPU ${fmt(result.cpuUsPerDelivery, 2)} µs/delivery`,
  );
  return result;
}

/**
 * A step below the knee: p99 under the limit, nothing lost, at most 10 % of the sends failed.
 * The generators always make every send of their schedule (late, if need be), so the
 * deliveries are judged against those sends, not against the nominal rate: a slow room of
 * 1,000 at 1.5 sends/s makes 4 sends in 3 s, not 4.6.
 */
function passes(r: StepResult): boolean {
  return r.p99 < P99_LIMIT_MS && r.lost === 0 && r.failedSends <= 0.1 * r.sent;
}

async function fanoutScenario(
  name: ServerName,
  topo: (typeof settings.fanout)[number],
): Promise<FanoutResult> {
  log(`${SERVER_LABELS[name]}: fan-out, ${topo.clients} clients in ${topo.name}`);
  return withServer(name, async (server, gens) => {
    gens.push(...(await connectClients(server, topo.clients, topo.perRoom, 2)).gens);
    await sleep(1000);
    // Not counted: the first sends warm up the JIT and wait for the tail of the connections
    // (Roomcast tells each room of every join: in one room of 1,000, half a million frames).
    log('  warm-up step (not counted):');
    await fanoutStep(server, gens, topo.perRoom, 0, fixedRate ?? topo.startDeliveries);
    await sleep(500);
    const steps: StepResult[] = [];
    if (fixedRate !== undefined) steps.push(await fanoutStep(server, gens, topo.perRoom, 1, fixedRate));
    // Up by `factor` while steps pass; if the first fails, down by factor² until one passes;
    // then one step between the highest passing rate and the lowest failing one.
    let good: number | undefined;
    let bad: number | undefined;
    let deliveries = topo.startDeliveries;
    const minDeliveries = (topo.perRoom - 1) * 0.5;
    while (fixedRate === undefined && steps.length < topo.maxSteps) {
      const r = await fanoutStep(server, gens, topo.perRoom, steps.length + 1, deliveries);
      steps.push(r);
      if (passes(r)) good = deliveries;
      else bad = Math.min(bad ?? Infinity, deliveries);
      if (good !== undefined && bad !== undefined) break;
      deliveries = good !== undefined ? deliveries * topo.factor : deliveries / topo.factor ** 2;
      if (deliveries < minDeliveries) break;
      await sleep(500);
    }
    if (good !== undefined && bad !== undefined) {
      await sleep(500);
      steps.push(await fanoutStep(server, gens, topo.perRoom, steps.length + 1, Math.sqrt(good * bad)));
    }
    const passing = steps.filter(passes);
    return {
      server: name,
      topology: topo.name,
      clients: topo.clients,
      perRoom: topo.perRoom,
      steps,
      maxDeliveredPerSec: passing.length ? Math.max(...passing.map((s) => s.deliveredPerSec)) : 0,
      peakDeliveredPerSec: Math.max(...steps.map((s) => s.deliveredPerSec)),
    };
  });
}

async function persistenceScenario(): Promise<PersistenceResult> {
  const p = settings.persist;
  log(
    `Roomcast: persistence, ${p.clients} clients × ${p.window} sends in flight for ${p.durationMs / 1000} s`,
  );
  return withServer('roomcast', async (server, gens) => {
    const db = server.db!;
    const count = async () => {
      const [rows] = (await db.admin.query(
        `SELECT COUNT(*) AS n, COUNT(DISTINCT from_device_id, client_msg_id) AS d FROM \`${db.name}\`.messages`,
      )) as unknown as [Array<{ n: number; d: number }>];
      return { rows: Number(rows[0].n), distinct: Number(rows[0].d) };
    };
    // Alone in its room: this measures the persistence path, not fan-out.
    gens.push(...(await connectClients(server, p.clients, 1, 1)).gens);
    const start = await count();
    const samples: Array<{ t: number; rows: number }> = [];
    const began = performance.now();
    const cpuBefore = cpuOf(server);
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        samples.push({ t: performance.now() - began, rows: (await count()).rows - start.rows });
        await sleep(500);
      }
    })();
    const [done] = await ask(
      gens,
      { type: 'persist', durationMs: p.durationMs, window: p.window },
      'persisted',
    );
    const sendSeconds = (performance.now() - began) / 1000;
    const rowsAtEnd = (await count()).rows - start.rows;
    // Until every acknowledged message is in MySQL (or a minute went by).
    const drainBegan = performance.now();
    let final = await count();
    while (final.rows - start.rows < done.acked && performance.now() - drainBegan < 60_000) {
      await sleep(200);
      final = await count();
    }
    const lagMs = performance.now() - drainBegan;
    sampling = false;
    await sampler;
    await sleep(1000);
    final = await count();
    const cpuAfter = cpuOf(server);
    const rows = final.rows - start.rows;
    const ackLatency = new Histogram();
    ackLatency.add(done.ackLatency);
    const result: PersistenceResult = {
      clients: p.clients,
      window: p.window,
      durationS: sendSeconds,
      sent: done.sent,
      acked: done.acked,
      failed: done.failed,
      errors: done.errors,
      ackedPerSec: done.acked / sendSeconds,
      rowsPerSecDuringSends: rowsAtEnd / sendSeconds,
      rowsPerSecOverall: rows / (sendSeconds + lagMs / 1000),
      lagAfterSendsMs: lagMs,
      maxBacklog: Math.max(
        0,
        ...samples.map((s) => Math.round((done.acked * s.t) / (sendSeconds * 1000)) - s.rows),
      ),
      rows,
      duplicateRows: final.rows - final.distinct,
      // Every acknowledged message is stored exactly once: as many rows as acks, each (device, id) once.
      // With failed sends the count can only be bounded (a send whose ack was lost may be stored).
      exactlyOnce: done.failed === 0 ? rows === done.acked && final.rows === final.distinct : null,
      ackP50: ackLatency.percentile(50),
      ackP99: ackLatency.percentile(99),
      serverCpuS: cpuAfter.server - cpuBefore.server,
      servicesCpuS: cpuAfter.services - cpuBefore.services,
    };
    log(
      `  acked ${done.acked} (${fmt(result.ackedPerSec)}/s), failed ${done.failed}; rows ${rows} ` +
        `(${fmt(result.rowsPerSecDuringSends)}/s while sending), lag ${fmt(lagMs)} ms, exactly once: ${result.exactlyOnce}`,
    );
    return result;
  });
}

// ---------------------------------------------------------------------------------------------
// The run

async function main(): Promise<BenchResults> {
  const startedAt = new Date();
  log(
    `servers ${serverNames.join(', ')}; scenarios ${[...scenarios].join(', ')}${quick ? ' (quick)' : ''}; logs in ${logDir}`,
  );
  redis = new Redis(flags.redis!, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const results: BenchResults = {
    startedAt: startedAt.toISOString(),
    finishedAt: '',
    quick,
    command: `npm run bench${quick ? ' -- --quick' : ''}`,
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
      node: process.version,
      kernel: os.release(),
    },
    settings: {
      ...settings,
      p99LimitMs: P99_LIMIT_MS,
      roomcastEnv: { LOG_LEVEL: 'warn', STATUS_INTERVAL_MS: '0', HEARTBEAT_MS: '60000', ...NO_LIMITS },
    },
    servers: serverNames,
    idle: [],
    fanout: [],
    persistence: null,
  };
  if (scenarios.has('idle'))
    for (const connections of settings.idleConnections)
      for (const name of serverNames) results.idle.push(await idleScenario(name, connections));
  if (scenarios.has('fanout'))
    for (const topo of fanoutTopologies)
      for (const name of serverNames) results.fanout.push(await fanoutScenario(name, topo));
  if (scenarios.has('persist') && serverNames.includes('roomcast'))
    results.persistence = await persistenceScenario();
  results.finishedAt = new Date().toISOString();
  return results;
}

let exitCode = 0;
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    log(`${signal}: stopping`);
    group.stopping = true;
    void Promise.all([...running].map((s) => s.stop())).finally(() => process.exit(130));
  });
/** Rewrites the "Latest figures" section of the docs (between its markers) from `results`. */
async function updateDocs(results: BenchResults, jsonPath: string, svgPath: string): Promise<void> {
  const docs = resolve(ROOT, flags.docs!);
  if (!existsSync(docs)) return;
  const text = readFileSync(docs, 'utf8');
  const begin = '<!-- bench:latest:begin -->';
  const end = '<!-- bench:latest:end -->';
  if (!text.includes(begin) || !text.includes(end)) return;
  const rel = (path: string) => path.slice(resolve(ROOT).length + 1);
  const section = markdownReport(results, rel(jsonPath), rel(svgPath));
  const updated = `${text.slice(0, text.indexOf(begin) + begin.length)}\n\n${section}\n\n${text.slice(text.indexOf(end))}`;
  // Formatted like the rest of the repository, so that `npm run lint` (prettier --check .) passes.
  writeFileSync(
    docs,
    await prettier.format(updated, { ...(await prettier.resolveConfig(docs)), filepath: docs }),
  );
  log(`updated ${flags.docs}`);
}

try {
  if (flags.render) {
    // Chart, table and docs again from a results file, without running anything.
    const json = resolve(flags.render);
    const results = JSON.parse(readFileSync(json, 'utf8')) as BenchResults;
    const svg = json.replace(/\.json$/, '.svg');
    writeFileSync(svg, renderChart(results));
    printTable(results);
    await updateDocs(results, json, svg);
  } else {
    const results = await main();
    printTable(results);
    const stamp = results.startedAt.replace(/[:]/g, '-').replace(/\..*$/, '');
    const outDir = resolve(ROOT, flags.out!);
    mkdirSync(outDir, { recursive: true });
    const base = join(outDir, `${stamp}${quick ? '-quick' : ''}`);
    writeFileSync(`${base}.json`, `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(`${base}.svg`, renderChart(results));
    log(`wrote ${base}.json and ${base}.svg`);
    // The docs show the latest full run: every server, every scenario, no profiler attached.
    if (fullRun) await updateDocs(results, `${base}.json`, `${base}.svg`);
  }
} catch (err) {
  exitCode = 1;
  console.error(`benchmark failed: ${(err as Error).stack ?? String(err)}`);
  console.error(`server logs: ${logDir}`);
} finally {
  group.stopping = true;
  for (const child of group.children) child.kill('SIGTERM');
  redis?.disconnect();
}
process.exit(exitCode);
