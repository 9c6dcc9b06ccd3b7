/**
 * One load-generator process of bench/compare/run.ts: opens `count` clients of one server kind
 * (bench/compare/clients.ts), then publishes on the parent's command and records what its
 * clients receive: per step, the count, duplicates, out-of-order arrivals and a latency
 * histogram (the sender's timestamp is in the payload; every process runs on this machine).
 */
import { connectClient, now, type BenchClient, type Payload } from './clients.js';
import { Histogram } from './histogram.js';
import { workerSetup } from '../lib/ipc.js';
import type { ParentMessage, WorkerConfig, WorkerMessage } from './protocol.js';

const { cfg, send } = workerSetup<WorkerConfig, WorkerMessage>('bench/compare/run.ts');
const gc = (globalThis as { gc?: () => void }).gc;

interface StepStats {
  received: number;
  duplicates: number;
  outOfOrder: number;
  latency: Histogram;
}
const steps = new Map<number, StepStats>();
function stepStats(k: number): StepStats {
  let s = steps.get(k);
  if (!s) steps.set(k, (s = { received: 0, duplicates: 0, outOfOrder: 0, latency: new Histogram() }));
  return s;
}

const clients: BenchClient[] = [];
/** Member index in its room of clients[i]. */
const members: number[] = [];
/** The next counter each client publishes. */
const counters: number[] = [];

function onPayload(last: Int32Array, p: Payload): void {
  const s = stepStats(p.k);
  s.received++;
  s.latency.record(now() - p.t);
  if (p.n > last[p.s]) last[p.s] = p.n;
  else if (p.n === last[p.s]) s.duplicates++;
  else s.outOfOrder++;
}

async function connectAll(): Promise<void> {
  const failures: Record<string, number> = {};
  let failed = 0;
  let next = cfg.start;
  const end = cfg.start + cfg.count;
  const began = performance.now();
  const lane = async () => {
    while (next < end) {
      const g = next++;
      // Highest counter seen per sender of the room: in-order delivery sees them rise one by one.
      const last = new Int32Array(cfg.perRoom).fill(-1);
      try {
        const client = await connectClient({
          kind: cfg.kind,
          url: cfg.url,
          room: `b${cfg.tag}r${Math.floor(g / cfg.perRoom)}`,
          deviceId: `b${cfg.tag}d${g}`,
          localAddress: cfg.sources[Math.floor(g / cfg.perSource) % cfg.sources.length],
          timeoutMs: cfg.timeoutMs,
          onPayload: (p) => onPayload(last, p),
        });
        clients.push(client);
        members.push(g % cfg.perRoom);
        counters.push(0);
      } catch (err) {
        failed++;
        const reason = ((err as Error).message ?? String(err)).slice(0, 80);
        failures[reason] = (failures[reason] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(cfg.concurrency, cfg.count) }, lane));
  send({ type: 'connected', ok: clients.length, failed, failures, ms: performance.now() - began });
}

function countError(errors: Record<string, number>, err: unknown): void {
  const code = (err as { code?: string }).code ?? (err as Error).message ?? String(err);
  errors[code] = (errors[code] ?? 0) + 1;
}

function publish(i: number, step: number): Promise<unknown> {
  const n = counters[i]++;
  return clients[i].publish({ s: members[i], n, t: now(), k: step }, `m${n}`);
}

/** Open loop: keeps to the schedule whatever the server does; waits for outstanding acks at the end. */
async function run(step: number, rate: number, durationMs: number): Promise<void> {
  const errors: Record<string, number> = {};
  let sent = 0;
  let failed = 0;
  let rr = 0;
  const pending = new Set<Promise<unknown>>();
  const began = performance.now();
  let behind = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const elapsed = Math.min(durationMs, performance.now() - began);
      const due = Math.floor((rate * elapsed) / 1000) - sent;
      for (let j = 0; j < due && clients.length; j++) {
        const p = publish(rr++ % clients.length, step).catch((err: unknown) => {
          failed++;
          countError(errors, err);
        });
        pending.add(p);
        void p.finally(() => pending.delete(p));
        sent++;
      }
      if (elapsed >= durationMs) {
        behind = performance.now() - began - durationMs;
        resolve();
      } else setTimeout(tick, 2);
    };
    tick();
  });
  await Promise.race([Promise.all(pending), new Promise((r) => setTimeout(r, cfg.timeoutMs))]);
  failed += pending.size;
  if (pending.size) errors['no answer'] = pending.size;
  send({ type: 'ran', step, sent, failed, errors, behind });
}

/** Closed loop: each client keeps `window` publishes awaiting their ack until the deadline. */
async function persist(durationMs: number, window: number): Promise<void> {
  const errors: Record<string, number> = {};
  const ackLatency = new Histogram();
  let sent = 0;
  let acked = 0;
  let failed = 0;
  const deadline = performance.now() + durationMs;
  const lane = async (i: number) => {
    while (performance.now() < deadline) {
      const started = performance.now();
      sent++;
      try {
        await publish(i, -1);
        acked++;
        ackLatency.record(performance.now() - started);
      } catch (err) {
        failed++;
        countError(errors, err);
      }
    }
  };
  await Promise.all(clients.flatMap((_, i) => Array.from({ length: window }, () => lane(i))));
  send({ type: 'persisted', sent, acked, failed, errors, ackLatency: ackLatency.toSparse() });
}

process.on('message', (message: ParentMessage) => {
  if (message.type === 'run') void run(message.step, message.rate, message.durationMs);
  else if (message.type === 'persist') void persist(message.durationMs, message.window);
  else if (message.type === 'collect') {
    const s = stepStats(message.step);
    send({
      type: 'collected',
      step: message.step,
      received: s.received,
      duplicates: s.duplicates,
      outOfOrder: s.outOfOrder,
      latency: s.latency.toSparse(),
    });
  } else if (message.type === 'status') {
    gc?.();
    send({ type: 'status', rss: process.memoryUsage().rss });
  } else if (message.type === 'close') {
    for (const c of clients) c.close();
    setTimeout(() => process.exit(0), 500);
  }
});

await connectAll();
