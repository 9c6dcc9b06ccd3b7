/**
 * Cluster connection benchmark (issue 4): starts N gateway nodes (plus one ROLE=worker process)
 * on MySQL + Redis, opens and holds M WebSocket connections spread evenly across them from
 * several load-generator processes, and reports memory per node, handshake rate and latency.
 *
 *   node --conditions=roomcast-source --import @swc-node/register/esm-register \
 *     bench/cluster/connections.ts --nodes 5 --connections 95000 --rooms 950 --hold 30
 *
 * See bench/cluster/README.md for every flag. The report goes to bench/reports/cluster-connections.md.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import * as prettier from 'prettier';
import { cpuSeconds, fmt, machineCpu, mb, percentile, rssBytes, servicePids } from '../lib/measure.js';
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
import { BenchDatabase, redisKeys, redisMemory } from '../lib/services.js';
import type { ParentMessage, WorkerConfig, WorkerMessage } from './protocol.js';

const ADMIN_TOKEN = 'bench-token';

// ---------------------------------------------------------------------------------------------
// Options

const { values: flags } = parseArgs({
  options: {
    nodes: { type: 'string', default: '5' },
    connections: { type: 'string', default: '95000' },
    rooms: { type: 'string', default: '950' },
    hold: { type: 'string', default: '30' },
    'per-worker': { type: 'string', default: '19000' },
    'per-destination': { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '200' },
    'worker-role': { type: 'string', default: 'separate' },
    'handshake-timeout': { type: 'string', default: '60000' },
    'heartbeat-ms': { type: 'string', default: '60000' },
    'fd-limit': { type: 'string', default: '20000' },
    'max-old-space': { type: 'string', default: '4096' },
    mysql: { type: 'string', default: process.env.BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306' },
    redis: { type: 'string', default: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379' },
    report: { type: 'string', default: 'bench/reports/cluster-connections.md' },
    'server-root': { type: 'string', default: ROOT },
    'server-env': { type: 'string', multiple: true, default: [] },
    'drain-timeout': { type: 'string', default: '120' },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});

if (flags.help) {
  console.log(`usage: bench/cluster/connections.ts [--nodes 5] [--connections 95000] [--rooms 950] [--hold 30]
  [--per-worker 19000] [--per-destination 5000] [--concurrency 200] [--worker-role separate|all] [--handshake-timeout 60000]
  [--heartbeat-ms 60000] [--fd-limit 20000] [--max-old-space 4096]
  [--mysql mysql://root@127.0.0.1:3306] [--redis redis://127.0.0.1:6379] [--report bench/reports/cluster-connections.md]
  [--server-root <checkout whose src/main.ts the nodes run; default this one>]
  [--server-env KEY=VALUE ...] (extra server settings, repeatable) [--drain-timeout 120]`);
  process.exit(0);
}

function int(name: keyof typeof flags, min: number): number {
  const value = Number(flags[name]);
  if (!Number.isInteger(value) || value < min) {
    console.error(`--${name} must be a whole number >= ${min}`);
    process.exit(2);
  }
  return value;
}

const opts = {
  nodes: int('nodes', 1),
  connections: int('connections', 1),
  rooms: int('rooms', 1),
  holdS: int('hold', 0),
  perWorker: int('per-worker', 1),
  perDestination: int('per-destination', 100),
  concurrency: int('concurrency', 1),
  workerRole: flags['worker-role'] as 'separate' | 'all',
  handshakeTimeoutMs: int('handshake-timeout', 1000),
  heartbeatMs: int('heartbeat-ms', 100),
  fdLimit: int('fd-limit', 1024),
  maxOldSpaceMb: int('max-old-space', 64),
  mysqlUrl: flags.mysql!,
  redisUrl: flags.redis!,
  report: flags.report!,
  serverRoot: resolve(flags['server-root']!),
  serverEnv: Object.fromEntries(
    (flags['server-env'] ?? []).map((pair) => {
      const eq = pair.indexOf('=');
      if (eq < 1) {
        console.error(`--server-env ${pair}: expected KEY=VALUE`);
        process.exit(2);
      }
      return [pair.slice(0, eq), pair.slice(eq + 1)];
    }),
  ) as Record<string, string>,
  drainTimeoutS: int('drain-timeout', 0),
};
if (!['separate', 'all'].includes(opts.workerRole)) {
  console.error('--worker-role must be separate (5 gateways + 1 ROLE=worker) or all (node 1 is ROLE=all)');
  process.exit(2);
}
const workerCount = Math.ceil(opts.connections / opts.perWorker);
const perRoom = Math.ceil(opts.connections / opts.rooms);

// ---------------------------------------------------------------------------------------------
// Processes and measurements (bench/lib)

const logDir = mkdtempSync(join(os.tmpdir(), 'rc-bench-cluster-'));
const group = new ProcessGroup(logDir, opts.fdLimit);
const guarded = <T>(promise: Promise<T>) => group.guarded(promise);
const spawnNode = group.spawnNode.bind(group);

interface Stats {
  connections: number;
  rooms: number | null;
  /** The cluster as presence (Redis) sees it; null when it could not be read in time. */
  cluster?: { connections: number } | null;
  memory: { rss_bytes: number; heap_used_bytes: number; heap_total_bytes: number; external_bytes: number };
}

async function stats(proc: Proc): Promise<Stats | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${proc.port}/api/stats`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      signal: AbortSignal.timeout(15_000),
    });
    if (!res.ok) return undefined;
    return (await res.json()) as Stats;
  } catch {
    return undefined;
  }
}

/** Full GC in every server process (node-preload.mjs), then a moment for the heap to shrink. */
async function collectGarbage(procs: Proc[]): Promise<void> {
  for (const p of procs) if (!p.exited) process.kill(p.pid, 'SIGUSR2');
  await sleep(3000);
}

// ---------------------------------------------------------------------------------------------
// The run

interface Generator {
  proc: Proc;
  config: WorkerConfig;
  progress: { ok: number; failed: number; inflight: number };
  connected?: Extract<WorkerMessage, { type: 'connected' }>;
  status?: Extract<WorkerMessage, { type: 'status' }>;
  closedMs?: number;
  waiters: Array<(message: WorkerMessage) => void>;
}

const tag = randomBytes(4).toString('hex');
const database = `rc_bench_${tag}`;
const redisPrefix = `rc-bench-${tag}`;
const servers: Proc[] = [];
const generators: Generator[] = [];
let db: BenchDatabase | undefined;
let redis: Redis | undefined;
let cleanedUp = false;

async function cleanup(): Promise<void> {
  if (cleanedUp) return;
  cleanedUp = true;
  group.stopping = true;
  for (const gen of generators) if (!gen.proc.exited) gen.proc.child.kill('SIGTERM');
  // Gateways first (their shutdown may still enqueue jobs), the worker process last.
  await Promise.all(servers.filter((s) => s.port).map((s) => stopProc(s)));
  await Promise.all(servers.filter((s) => !s.port).map((s) => stopProc(s)));
  if (db) await db.drop().catch((e: Error) => log(`drop db: ${e.message}`));
  if (redis) {
    const removed = await redisKeys(redis, redisPrefix, true).catch(() => NaN);
    log(`dropped database ${database}, removed ${removed} Redis keys under ${redisPrefix}`);
    redis.disconnect();
  }
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

async function main(): Promise<string> {
  const startedAt = new Date();
  log(
    `${opts.nodes} nodes, ${opts.connections} connections in ${opts.rooms} rooms (${perRoom}/room), ` +
      `${workerCount} load generators × ≤${opts.perWorker}, ${opts.concurrency} handshakes in flight each; logs in ${logDir}`,
  );

  // -- MySQL database and Redis prefix of our own
  const created = await BenchDatabase.create(opts.mysqlUrl, database);
  db = created;
  redis = new Redis(opts.redisUrl);

  // -- Nodes: node 1 first (runs the migrations), then the others and the worker process together
  const serverEnv = (nodeId: string, role: string, port: number, migrations: boolean): NodeJS.ProcessEnv => ({
    PORT: String(port),
    NODE_ID: nodeId,
    ROLE: role,
    DATABASE_URL: created.url,
    REDIS_URL: opts.redisUrl,
    REDIS_PREFIX: redisPrefix,
    LOG_LEVEL: 'warn',
    STATUS_INTERVAL_MS: '0',
    HEARTBEAT_MS: String(opts.heartbeatMs),
    DB_MIGRATIONS_RUN: String(migrations),
    ADMIN_TOKEN,
    // Every simulated client comes from 127.0.0.1: the per-IP connection limit would refuse them.
    RATE_CONNECT_PER_SEC: '0',
    ...opts.serverEnv,
  });
  const serverArgs = [`--max-old-space-size=${opts.maxOldSpaceMb}`, ...PRELOAD, ...LOADER, 'src/main.ts'];
  const startGateway = async (i: number, migrations: boolean): Promise<Proc> => {
    const role = i === 1 && opts.workerRole === 'all' ? 'all' : 'gateway';
    const port = await freePort();
    const proc = spawnNode(
      `node${i}`,
      role,
      serverArgs,
      serverEnv(`bench-node-${i}`, role, port, migrations),
      false,
      opts.serverRoot,
    );
    proc.port = port;
    servers.push(proc);
    await guarded(waitForHttp(proc));
    return proc;
  };
  let t = Date.now();
  await startGateway(1, true);
  log(`node1 listening (migrations ran) after ${((Date.now() - t) / 1000).toFixed(1)} s`);
  t = Date.now();
  const rest: Array<Promise<unknown>> = [];
  for (let i = 2; i <= opts.nodes; i++) rest.push(startGateway(i, false));
  if (opts.workerRole === 'separate') {
    servers.push(
      spawnNode(
        'worker',
        'worker',
        serverArgs,
        serverEnv('bench-worker', 'worker', 0, false),
        false,
        opts.serverRoot,
      ),
    );
  }
  await guarded(Promise.all(rest));
  const gateways = servers.filter((s) => s.port);
  log(
    `all ${gateways.length} nodes listening after ${((Date.now() - t) / 1000).toFixed(1)} s more; settling 5 s`,
  );
  await guarded(sleep(5000));

  // -- Idle baseline (after a full GC)
  await guarded(collectGarbage(servers));
  const idleRss = new Map(servers.map((s) => [s.name, rssBytes(s.pid)]));
  const idleStats = new Map(await Promise.all(gateways.map(async (s) => [s.name, await stats(s)] as const)));
  const redisBefore = await redisMemory(redis);
  const keysBefore = await redisKeys(redis, redisPrefix);
  log(
    `idle RSS: ${servers.map((s) => `${s.name} ${mb(idleRss.get(s.name)!)} MB`).join(', ')}; Redis used_memory ${mb(redisBefore)} MB`,
  );

  // -- Load generators
  const services = servicePids();
  const cpuBefore = new Map<string, number>();
  const sampleCpu = (into: Map<string, number>) => {
    for (const s of servers) into.set(s.name, cpuSeconds(s.pid));
    for (const g of generators) into.set(g.proc.name, cpuSeconds(g.proc.pid));
    for (const [name, pid] of services) into.set(name, cpuSeconds(pid));
  };
  const perNode = Math.ceil(opts.connections / gateways.length);
  const addressesPerNode = Math.max(1, Math.ceil(perNode / opts.perDestination));
  const targets = gateways.map((s) =>
    Array.from({ length: addressesPerNode }, (_, a) => `ws://127.0.0.${a + 1}:${s.port}/ws`),
  );
  const base = Math.floor(opts.connections / workerCount);
  let start = 0;
  const connectStarted = performance.now();
  const machineBefore = machineCpu();
  for (let w = 0; w < workerCount; w++) {
    const count = base + (w < opts.connections % workerCount ? 1 : 0);
    const config: WorkerConfig = {
      targets,
      start,
      count,
      rooms: opts.rooms,
      perRoom,
      concurrency: opts.concurrency,
      handshakeTimeoutMs: opts.handshakeTimeoutMs,
      tag,
    };
    start += count;
    const proc = spawnNode(
      `load${w + 1}`,
      'load',
      ['--expose-gc', ...LOADER, 'bench/cluster/load-worker.ts'],
      { RC_BENCH_WORKER: JSON.stringify(config) },
      true,
    );
    const gen: Generator = { proc, config, progress: { ok: 0, failed: 0, inflight: 0 }, waiters: [] };
    proc.child.on('message', (message: WorkerMessage) => {
      if (message.type === 'progress') gen.progress = message;
      if (message.type === 'connected') {
        gen.connected = message;
        gen.progress = { ok: message.ok, failed: message.failed, inflight: 0 };
      }
      for (const waiter of [...gen.waiters]) waiter(message);
    });
    generators.push(gen);
  }
  sampleCpu(cpuBefore);
  const progressTimer = setInterval(() => {
    const ok = generators.reduce((n, g) => n + g.progress.ok, 0);
    const failed = generators.reduce((n, g) => n + g.progress.failed, 0);
    const inflight = generators.reduce((n, g) => n + g.progress.inflight, 0);
    const secs = (performance.now() - connectStarted) / 1000;
    log(
      `connecting: ${ok} ok, ${failed} failed, ${inflight} in flight, ${fmt(ok / secs)}/s; ` +
        `RSS ${gateways.map((s) => mb(rssBytes(s.pid))).join('/')} MB`,
    );
  }, 10_000);
  const connected = await guarded(
    Promise.all(generators.map((g) => g.connected ?? nextMessage(g, 'connected'))),
  );
  clearInterval(progressTimer);
  const connectMs = performance.now() - connectStarted;
  const machineAfter = machineCpu();
  const cpuAfter = new Map<string, number>();
  sampleCpu(cpuAfter);
  const ok = connected.reduce((n, c) => n + c.ok, 0);
  const failed = connected.reduce((n, c) => n + c.failed, 0);
  const failures: Record<string, number> = {};
  for (const c of connected)
    for (const [reason, n] of Object.entries(c.failures)) failures[reason] = (failures[reason] ?? 0) + n;
  const latencies = connected.flatMap((c) => c.latencies).sort((a, b) => a - b);
  log(
    `connected ${ok} (${failed} failed) in ${(connectMs / 1000).toFixed(1)} s: ${fmt(ok / (connectMs / 1000))}/s`,
  );

  // -- Hold, sampling memory
  const samples = new Map<string, number[]>();
  let loadedStats = new Map<string, Stats | undefined>();
  const holdEnd = Date.now() + opts.holdS * 1000;
  log(`holding for ${opts.holdS} s`);
  for (;;) {
    for (const p of [...servers, ...generators.map((g) => g.proc)]) {
      samples.set(p.name, [...(samples.get(p.name) ?? []), rssBytes(p.pid)]);
    }
    loadedStats = new Map(
      await guarded(Promise.all(gateways.map(async (s) => [s.name, await stats(s)] as const))),
    );
    log(
      `holding: ${gateways.map((s) => `${s.name} ${loadedStats.get(s.name)?.connections ?? '?'} conns ${mb(rssBytes(s.pid))} MB`).join(', ')}`,
    );
    if (Date.now() >= holdEnd) break;
    await guarded(sleep(Math.min(5000, Math.max(0, holdEnd - Date.now()))));
  }
  const loadedRss = new Map([...samples].map(([name, values]) => [name, values[values.length - 1]]));
  const maxRss = new Map([...samples].map(([name, values]) => [name, Math.max(...values)]));
  // The same after a full GC, comparable with the idle baseline (also taken after one).
  await guarded(collectGarbage(servers));
  const gcRss = new Map(servers.map((s) => [s.name, rssBytes(s.pid)]));
  const gcStats = new Map(
    await guarded(Promise.all(gateways.map(async (s) => [s.name, await stats(s)] as const))),
  );
  const redisAfter = await redisMemory(redis);
  const keysAfter = await redisKeys(redis, redisPrefix);
  const statuses = await guarded(
    Promise.all(
      generators.map((g) => {
        const reply = nextMessage(g, 'status');
        g.proc.child.send({ type: 'status' } satisfies ParentMessage);
        return reply;
      }),
    ),
  );
  const openAtEnd = statuses.reduce((n, s) => n + s.open, 0);
  const drops: Record<string, number> = {};
  for (const s of statuses)
    for (const [code, n] of Object.entries(s.drops)) drops[code] = (drops[code] ?? 0) + n;
  const framesAfter = statuses.reduce((n, s) => n + s.framesAfterHandshake, 0);

  // -- Close every client, and wait until the nodes have let go of them
  log('closing clients');
  const closeStarted = performance.now();
  group.stopping = true;
  const closed = await Promise.all(
    generators.map((g) => {
      const reply = nextMessage(g, 'closed');
      g.proc.child.send({ type: 'close' } satisfies ParentMessage);
      return Promise.race([reply, sleep(120_000).then(() => undefined)]);
    }),
  );
  const clientsClosedMs = performance.now() - closeStarted;
  let drainedMs = NaN;
  const left = new Map<string, number | undefined>();
  let lastLog = performance.now();
  while (performance.now() - closeStarted < opts.drainTimeoutS * 1000) {
    const now = await Promise.all(gateways.map((s) => stats(s)));
    gateways.forEach((s, i) => left.set(s.name, now[i]?.connections ?? left.get(s.name)));
    if (now.every((s) => s && s.connections === 0)) {
      drainedMs = performance.now() - closeStarted;
      break;
    }
    if (performance.now() - lastLog > 10_000) {
      lastLog = performance.now();
      log(
        `draining: ${gateways.map((s) => `${s.name} ${now[gateways.indexOf(s)]?.connections ?? '?'}`).join(', ')}`,
      );
    }
    await sleep(2000);
  }
  const leftTotal = gateways.reduce((n, s) => n + (left.get(s.name) ?? 0), 0);
  log(
    `clients closed in ${fmt(clientsClosedMs / 1000, 1)} s; ` +
      (Number.isFinite(drainedMs)
        ? `nodes at 0 connections after ${fmt(drainedMs / 1000, 1)} s`
        : `nodes still count ${leftTotal} connection(s) after ${opts.drainTimeoutS} s`),
  );
  const exitCodes = new Map<string, number | string>();
  for (const s of gateways) exitCodes.set(s.name, await stopProc(s));
  for (const s of servers.filter((p) => !p.port)) exitCodes.set(s.name, await stopProc(s));
  for (const g of generators) await stopProc(g.proc, 5000);

  // -- Report
  const cpuRows = [...cpuAfter.keys()].map((name) => {
    const used = cpuAfter.get(name)! - cpuBefore.get(name)!;
    return `| ${name} | ${fmt(used, 1)} | ${fmt((100 * used) / (connectMs / 1000))} % |`;
  });
  const machineBusy =
    (100 * (machineAfter.busy - machineBefore.busy)) / (machineAfter.total - machineBefore.total || 1);
  // Whatever the machine did besides the processes above: other programs (a test run...), the
  // kernel's own threads. Large here means the figures were taken on a busy machine.
  const listed = [...cpuAfter.keys()].reduce((n, k) => n + cpuAfter.get(k)! - cpuBefore.get(k)!, 0);
  const others = machineAfter.busy - machineBefore.busy - listed;
  cpuRows.push(
    `| everything else (other processes, kernel threads) | ${fmt(others, 1)} | ${fmt((100 * others) / (connectMs / 1000))} % |`,
  );
  const dash = '—';
  const nodeRows = servers.map((s) => {
    const st = gcStats.get(s.name) ?? loadedStats.get(s.name);
    const conns = st?.connections ?? 0;
    const idle = idleRss.get(s.name)!;
    const afterGc = gcRss.get(s.name)!;
    const idleHeap = idleStats.get(s.name)?.memory.heap_used_bytes;
    const perConn = (bytes: number) => (conns ? fmt(bytes / conns / 1024, 1) : dash);
    return (
      `| ${s.name} | ${s.role} | ${s.port ? conns : dash} | ${mb(idle)} | ${mb(loadedRss.get(s.name)!)} | ` +
      `${mb(maxRss.get(s.name)!)} | ${mb(afterGc)} | ${perConn(afterGc - idle)} | ` +
      `${idleHeap && st ? `${mb(idleHeap)} → ${mb(st.memory.heap_used_bytes)}` : dash} | ` +
      `${idleHeap && st ? perConn(st.memory.heap_used_bytes - idleHeap) : dash} | ` +
      `${st ? mb(st.memory.external_bytes) : dash} | ${exitCodes.get(s.name)} |`
    );
  });
  const totalConns = gateways.reduce(
    (n, s) => n + ((gcStats.get(s.name) ?? loadedStats.get(s.name))?.connections ?? 0),
    0,
  );
  const clusterCount = gateways
    .map((s) => gcStats.get(s.name)?.cluster?.connections)
    .find((n) => n !== undefined);
  const sum = (f: (s: Proc) => number) => gateways.reduce((n, s) => n + f(s), 0);
  const rssDelta = sum((s) => gcRss.get(s.name)! - idleRss.get(s.name)!);
  const heapDelta = sum(
    (s) =>
      (gcStats.get(s.name)?.memory.heap_used_bytes ?? NaN) -
      (idleStats.get(s.name)?.memory.heap_used_bytes ?? NaN),
  );
  const genRows = generators.map((g, i) => {
    const c = connected[i];
    const st = statuses[i];
    const perConn = (st.rss - c.baselineRss) / Math.max(1, c.ok) / 1024;
    return `| ${g.proc.name} | ${c.ok} | ${c.failed} | ${mb(c.baselineRss)} | ${mb(loadedRss.get(g.proc.name)!)} | ${mb(st.rss)} | ${fmt(perConn, 1)} | ${fmt(c.ms / 1000, 1)} |`;
  });
  const problems = servers
    .filter((s) => s.problemCount)
    .map((s) => {
      const kinds = [...s.problems.values()].sort((a, b) => b.count - a.count).slice(0, 5);
      return `- ${s.name}: ${s.problemCount} line(s)\n${kinds.map((k) => `  - ${k.count} × \`${k.example}\``).join('\n')}`;
    });
  const cpuModel = os.cpus()[0]?.model ?? 'unknown';
  const kv = (obj: Record<string, number>) =>
    Object.keys(obj).length
      ? Object.entries(obj)
          .map(([k, v]) => `${k}: ${v}`)
          .join(', ')
      : 'none';

  return `# Cluster connections benchmark

Generated by \`bench/cluster/connections.ts\` on ${startedAt.toISOString()}.

## Summary

- **${ok} of ${opts.connections} connections handshaken** (${failed} failed: ${kv(failures)}) across ${gateways.length} nodes; ${totalConns} counted by the nodes' \`/api/stats\` at the end of the hold (cluster-wide in Redis presence: ${clusterCount ?? 'n/a'}), ${openAtEnd} still open at the clients; dropped during the hold: ${kv(drops)}.
- Connect phase: ${fmt(connectMs / 1000, 1)} s, **${fmt(ok / (connectMs / 1000))} handshakes/s** overall (${workerCount} generators × ${opts.concurrency} in flight).
- Handshake latency (socket created → \`offline_done\`): p50 ${fmt(percentile(latencies, 50))} ms, p90 ${fmt(percentile(latencies, 90))} ms, p99 ${fmt(percentile(latencies, 99))} ms, max ${fmt(latencies[latencies.length - 1] ?? NaN)} ms.
- Gateway memory: **${fmt(rssDelta / Math.max(1, totalConns) / 1024, 1)} KB RSS per connection** on average ((loaded − idle) / connections, both after a full GC), of which ${fmt(heapDelta / Math.max(1, totalConns) / 1024, 1)} KB is JS heap; ${mb(sum((s) => loadedRss.get(s.name)!))} MB RSS for all ${gateways.length} nodes at the end of the hold (${mb(sum((s) => idleRss.get(s.name)!))} MB idle).
- Redis \`used_memory\`: ${mb(redisBefore)} MB before → ${mb(redisAfter)} MB loaded (+${fmt((redisAfter - redisBefore) / Math.max(1, totalConns), 0)} B per connection); keys under the prefix: ${keysBefore} → ${keysAfter}.
- Frames received by clients after their handshake (presence of later joiners etc.): ${framesAfter}.
- Close: clients closed in ${fmt(clientsClosedMs / 1000, 1)} s${closed.some((c) => !c) ? ' (some generators timed out)' : ''}; ${Number.isFinite(drainedMs) ? `every node back to 0 connections after ${fmt(drainedMs / 1000, 1)} s` : `**nodes still counted ${leftTotal} connection(s) ${opts.drainTimeoutS} s after the close began** (${gateways.map((s) => `${s.name} ${left.get(s.name) ?? '?'}`).join(', ')})`}.

## Nodes

RSS from \`/proc/<pid>/status\` (VmRSS). *Idle*: every node listening, before any connection, after a full GC. *Loaded*: last sample of the hold (as running); *max*: highest sample of the hold; *loaded, GC'd*: right after the hold, after a full GC (\`--expose-gc\`, triggered by SIGUSR2 through bench/lib/node-preload.mjs). Per connection = (loaded, GC'd − idle) / connections. Heap used and external from the node's own \`GET /api/stats\` \`memory\`, idle and after the GC. Connections as counted by the node's \`/api/stats\`. KB RSS per connection is the noisier figure (the idle RSS still holds start-up memory, e.g. the TypeScript compiled at start, that V8 gives back later, so it can be below KB heap); KB heap per connection is the steadier one.

| process | role | connections | RSS MB idle | RSS MB loaded | RSS MB max | RSS MB loaded, GC'd | KB RSS / conn | heap MB idle → loaded | KB heap / conn | external MB | exit |
|---|---|---|---|---|---|---|---|---|---|---|---|
${nodeRows.join('\n')}

## Load generators

Before and GC'd: after a full GC in the generator; KB / conn from those two.

| process | connected | failed | RSS MB before | RSS MB loaded | RSS MB loaded, GC'd | KB RSS / conn | connect time s |
|---|---|---|---|---|---|---|---|
${genRows.join('\n')}

## CPU during the connect phase

${fmt(connectMs / 1000, 1)} s wall clock; the whole machine was ${fmt(machineBusy)} % busy (of ${os.cpus().length} CPUs). CPU seconds (user + system) used in that time, and as a share of one CPU:

| process | CPU s | of one CPU |
|---|---|---|
${cpuRows.join('\n')}

## Server warnings and errors

${problems.length ? problems.join('\n') : 'None (LOG_LEVEL=warn).'}

## Settings

- \`--nodes ${opts.nodes} --connections ${opts.connections} --rooms ${opts.rooms} --hold ${opts.holdS} --per-worker ${opts.perWorker} --per-destination ${opts.perDestination} --concurrency ${opts.concurrency} --worker-role ${opts.workerRole} --handshake-timeout ${opts.handshakeTimeoutMs} --heartbeat-ms ${opts.heartbeatMs}\`
- Topology: ${opts.workerRole === 'separate' ? `${opts.nodes} × ROLE=gateway + 1 × ROLE=worker process` : `node1 ROLE=all + ${opts.nodes - 1} × ROLE=gateway`}; run from source (\`${LOADER.join(' ')} src/main.ts\`${opts.serverRoot === resolve(ROOT) ? '' : ` in ${opts.serverRoot}`}), \`--max-old-space-size=${opts.maxOldSpaceMb}\`, \`ulimit -n ${opts.fdLimit}\`.
- Server env: MySQL database \`rc_bench_<random>\` (dropped afterwards), Redis ${opts.redisUrl} with REDIS_PREFIX \`rc-bench-<random>\` (keys removed afterwards), LOG_LEVEL=warn, STATUS_INTERVAL_MS=0, HEARTBEAT_MS=${opts.heartbeatMs}, DB_MIGRATIONS_RUN=true on node1 only, ${
    Object.keys(opts.serverEnv).length
      ? `${Object.entries(opts.serverEnv)
          .map(([k, v]) => `${k}=${v}`)
          .join(', ')}, `
      : ''
  }everything else default (ROOM_MAX_CLIENTS=0: no room limit).
- Clients: raw \`ws\` sockets, no compression; \`hello\` with a unique device id and room \`BR000000\`…; connection g → node g mod ${gateways.length}, room ⌊g / ${perRoom}⌋ (so every room has members on every node); each node reached under ${targets[0]?.length ?? 1} destination address(es) 127.0.0.1… (≤ ${opts.perDestination} connections per address and port, so connect() finds a free source port at once).

## Machine

- ${os.cpus().length} CPUs (\`nproc\`: ${os.availableParallelism()}), ${cpuModel}
- ${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB RAM, Linux ${os.release()}, Node ${process.version}
- MySQL/MariaDB and Redis on the same machine (127.0.0.1)
`;
}

let exitCode = 0;
try {
  const path = resolve(ROOT, opts.report);
  // Formatted like the rest of the repository, so that `npm run lint` (prettier --check .) passes.
  const report = await prettier.format(await main(), {
    ...(await prettier.resolveConfig(path)),
    filepath: path,
  });
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, report);
  console.log(`\n${report}`);
  log(`report written to ${opts.report}`);
} catch (err) {
  exitCode = 1;
  console.error(`benchmark failed: ${(err as Error).stack ?? String(err)}`);
  console.error(`server logs: ${logDir}`);
} finally {
  await cleanup();
}
process.exit(exitCode);
