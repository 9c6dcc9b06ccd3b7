import { randomInt } from 'node:crypto';
import { RoomcastClient } from '#client';
import type { MessagePayload } from '#protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ADMIN_TOKEN, testEnvironment, type TestEnvironment } from './support/app.js';
import { malformedFrame, Prng, rawClientFrame, type FuzzFrame } from './support/fuzz-frames.js';
import {
  memoryAfterGc,
  residentBytes,
  spawnServer,
  stopServer,
  type ServerProcess,
} from './support/process.js';
import { MODES, type Mode } from './support/services.js';

/**
 * The storm: FUZZ_FRAMES frames (default 100,000) from FUZZ_CLIENTS raw sockets, generated
 * from FUZZ_SEED (printed; set it to replay a failure). The full count goes to the last of
 * MODES (mysql+redis when the services are there); the other mode gets a fifth of it, so the
 * file stays within ~40 s on 2 cores. The gateway code under test is the same in both.
 */
const FRAMES = Number(process.env.FUZZ_FRAMES ?? 100_000);
const framesFor = (mode: Mode) => (mode === MODES[MODES.length - 1] ? FRAMES : Math.ceil(FRAMES / 5));
const SEED = Number(process.env.FUZZ_SEED ?? randomInt(2 ** 31));
const FUZZ_CLIENTS = Number(process.env.FUZZ_CLIENTS ?? 6);
/** Frames sent before waiting for the answers (then a ping marks the end of the batch). */
const BATCH = 250;
/** One frame in this many opens a short-lived connection instead (handshake, close and size cases). */
const LIFECYCLE_EVERY = 200;
/** Short-lived connections open at once. */
const LIFECYCLE_PARALLEL = 8;
const MAX_PAYLOAD_BYTES = 65_536;
const ROOM = 'FUZZROOM';
const MiB = 1024 * 1024;

const ERROR_PREFIX = Buffer.from('{"type":"error","error":{"code":"');

interface RawClient {
  ws: WebSocket;
  frames: Array<Record<string, unknown>>;
  closed: Promise<{ code: number; reason: string }>;
  /** Resolves once a frame matching `predicate` has arrived (rejects on close or timeout). */
  until(predicate: (f: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<void>;
}

async function openRaw(url: string): Promise<RawClient> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const frames: Array<Record<string, unknown>> = [];
  const waiters = new Set<{ predicate: (f: Record<string, unknown>) => boolean; resolve(): void }>();
  ws.on('message', (data: Buffer) => {
    // Most answers are errors: counted without parsing, to spare the test process's CPU.
    const frame = data.subarray(0, ERROR_PREFIX.length).equals(ERROR_PREFIX)
      ? {
          type: 'error',
          error: {
            code: data.toString('latin1', ERROR_PREFIX.length, data.indexOf('"', ERROR_PREFIX.length)),
          },
        }
      : (JSON.parse(data.toString()) as Record<string, unknown>);
    frames.push(frame);
    for (const w of waiters) {
      if (w.predicate(frame)) {
        waiters.delete(w);
        w.resolve();
      }
    }
  });
  ws.on('error', () => undefined);
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return {
    ws,
    frames,
    closed,
    until(predicate, timeoutMs = 30_000) {
      if (frames.some(predicate)) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const entry = { predicate, resolve };
        waiters.add(entry);
        const timer = setTimeout(() => {
          waiters.delete(entry);
          reject(
            new Error(`no matching frame within ${timeoutMs} ms; last: ${JSON.stringify(frames.slice(-3))}`),
          );
        }, timeoutMs);
        void closed.then(({ code }) => {
          if (!waiters.delete(entry)) return;
          clearTimeout(timer);
          reject(
            new Error(`socket closed (${code}) while waiting; last: ${JSON.stringify(frames.slice(-3))}`),
          );
        });
        const settle = entry.resolve;
        entry.resolve = () => {
          clearTimeout(timer);
          settle();
        };
      });
    },
  };
}

async function handshaken(url: string, device: string): Promise<RawClient> {
  const raw = await openRaw(url);
  raw.ws.send(JSON.stringify({ type: 'hello', id: 'h', data: { device_id: device, identity: 'fuzz' } }));
  await raw.until((f) => f.type === 'offline_done');
  return raw;
}

function sendFuzz(ws: WebSocket, frame: FuzzFrame, rng: Prng): void {
  if (!frame.fragmented) {
    ws.send(frame.payload, { binary: false });
    return;
  }
  const parts = 2 + rng.int(3);
  const size = Math.ceil(frame.payload.length / parts);
  for (let i = 0; i < parts; i++) {
    const part = frame.payload.subarray(i * size, (i + 1) * size);
    ws.send(part, { binary: false, fin: i === parts - 1 });
  }
}

const describeCategories = (frames: FuzzFrame[]) =>
  frames.map(
    (f) =>
      `${f.category}${f.fragmented ? ' (fragmented)' : ''}: ${f.payload.toString('latin1').slice(0, 120)}`,
  );

interface StormResult {
  sent: number;
  errorsByCode: Record<string, number>;
  /** Batches whose answers did not match: one error per frame, nothing else. */
  mismatches: string[];
}

/** A handshaken fuzz client sending `count` malformed frames in batches, checking one `error` per frame. */
async function fuzzClient(url: string, index: number, count: number, rng: Prng, result: StormResult) {
  const raw = await handshaken(url, `fuzz-${index}`);
  let sent = 0;
  let batchNo = 0;
  while (sent < count) {
    const batch = Array.from({ length: Math.min(BATCH, count - sent) }, (_, k) =>
      malformedFrame(rng, sent + k),
    );
    const from = raw.frames.length;
    for (const frame of batch) sendFuzz(raw.ws, frame, rng);
    const marker = `mark-${index}-${batchNo++}`;
    raw.ws.send(JSON.stringify({ type: 'ping', id: marker }));
    try {
      await raw.until((f) => f.type === 'pong' && f.id === marker);
    } catch (err) {
      const close = raw.ws.readyState === WebSocket.CLOSED ? await raw.closed : undefined;
      result.mismatches.push(
        `client ${index} batch ${batchNo}: ${(err as Error).message}${close ? ` (closed ${close.code} ${close.reason})` : ''}\n  ` +
          describeCategories(batch).join('\n  '),
      );
      return;
    }
    const answers = raw.frames.slice(from, raw.frames.length - 1);
    raw.frames.length = 0;
    const errors = answers.filter((f) => f.type === 'error');
    for (const e of errors) {
      const code = (e.error as { code: string }).code;
      result.errorsByCode[code] = (result.errorsByCode[code] ?? 0) + 1;
    }
    if (errors.length !== batch.length || answers.length !== batch.length) {
      result.mismatches.push(
        `client ${index} batch ${batchNo}: ${batch.length} frames, ${errors.length} errors, ` +
          `other answers: ${JSON.stringify(answers.filter((f) => f.type !== 'error').slice(0, 5))}\n  ` +
          describeCategories(batch).join('\n  '),
      );
    }
    sent += batch.length;
    result.sent += batch.length;
  }
  raw.ws.close();
  await raw.closed;
}

interface LifecycleResult {
  frames: number;
  /** Unexpected outcomes, each with the case name. */
  problems: string[];
  closes: Record<string, number>;
}

/**
 * The cases that end a connection: binary or garbage before hello (4400), frames written
 * after the client's close frame, frames over MAX_PAYLOAD_BYTES (1009, whole or fragmented),
 * a socket cut in the middle of a frame.
 */
async function lifecycleCase(url: string, rng: Prng, n: number, result: LifecycleResult): Promise<void> {
  const which = rng.int(6);
  const expectClose = async (raw: RawClient, name: string, code: number) => {
    const close = await Promise.race([
      raw.closed,
      new Promise<undefined>((r) => setTimeout(r, 15_000, undefined)),
    ]);
    const key = `${name}:${close?.code ?? 'open'}`;
    result.closes[key] = (result.closes[key] ?? 0) + 1;
    if (close?.code !== code)
      result.problems.push(`${name}: expected close ${code}, got ${close?.code ?? 'none'}`);
    raw.ws.terminate();
  };
  const raw = await openRaw(url);
  switch (which) {
    case 0: {
      raw.ws.send(rng.bytes(1 + rng.int(512)), { binary: true });
      result.frames++;
      return expectClose(raw, 'binary-before-hello', 4400);
    }
    case 1: {
      // Garbage where hello belongs: any malformed frame, or hello with wrong fields.
      const garbage = rng.pick([
        () => malformedFrame(rng, n).payload,
        () => Buffer.from(JSON.stringify({ type: 'hello', data: { device_id: 5, identity: [] } })),
        () => Buffer.from(JSON.stringify({ type: 'hello', data: { device_id: 'x y', identity: 'i' } })),
        () =>
          Buffer.from(
            JSON.stringify({ type: 'hello', data: { device_id: 'd', identity: 'i', resume: 'x' } }),
          ),
        () =>
          Buffer.from(
            JSON.stringify({ type: 'hello', data: { device_id: 'd', identity: 'i', room_id: '../' } }),
          ),
        () => Buffer.from('{"type":"hello","data":' + '['.repeat(10_000) + ']'.repeat(10_000) + '}'),
      ])();
      raw.ws.send(garbage, { binary: false });
      result.frames++;
      return expectClose(raw, 'garbage-hello', 4400);
    }
    case 2: {
      // The client's close frame, then more frames on the same TCP connection.
      raw.ws.send(JSON.stringify({ type: 'hello', data: { device_id: `after-close-${n}`, identity: 'f' } }));
      await raw.until((f) => f.type === 'offline_done');
      raw.ws.close(1000);
      const socket = (raw.ws as unknown as { _socket: import('node:net').Socket })._socket;
      for (let k = 0; k < 5; k++) {
        socket.write(rawClientFrame(0x1, malformedFrame(rng, n + k).payload));
        socket.write(rawClientFrame(0x2, rng.bytes(64)));
      }
      result.frames += 11;
      return expectClose(raw, 'frames-after-close', 1000);
    }
    case 3:
    case 4: {
      raw.ws.send(JSON.stringify({ type: 'hello', data: { device_id: `big-${n}`, identity: 'f' } }));
      await raw.until((f) => f.type === 'offline_done');
      const big = Buffer.alloc(MAX_PAYLOAD_BYTES + 1 + rng.int(MAX_PAYLOAD_BYTES), 0x61);
      if (which === 3) {
        raw.ws.send(big, { binary: rng.next() < 0.5 });
      } else {
        // Fragments each under the limit, together over it.
        const half = Math.ceil(big.length / 2);
        raw.ws.send(big.subarray(0, half), { binary: false, fin: false });
        raw.ws.send(big.subarray(half), { binary: false, fin: true });
      }
      result.frames++;
      return expectClose(raw, which === 3 ? 'oversize' : 'oversize-fragmented', 1009);
    }
    default: {
      // Half a frame, then the TCP connection is cut.
      raw.ws.send(JSON.stringify({ type: 'hello', data: { device_id: `cut-${n}`, identity: 'f' } }));
      const socket = (raw.ws as unknown as { _socket: import('node:net').Socket })._socket;
      const frame = rawClientFrame(0x1, Buffer.from(JSON.stringify({ type: 'ping', pad: 'x'.repeat(500) })));
      socket.write(frame.subarray(0, 1 + rng.int(frame.length - 1)));
      socket.destroy();
      result.frames += 2;
      await raw.closed;
    }
  }
}

describe.each(MODES.map((mode) => [framesFor(mode), mode] as const))(
  'fuzz: %i frames (%s)',
  (frames, mode) => {
    let env: TestEnvironment;
    let server: ServerProcess;
    let url: string;
    let http: string;

    beforeAll(async () => {
      env = await testEnvironment(mode);
      server = spawnServer(
        {
          ...env.env,
          ADMIN_TOKEN,
          LOG_LEVEL: 'warn',
          NODE_ID: `fuzz-${mode}`,
          MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD_BYTES),
        },
        { exposeGc: true },
      );
      const port = await server.port;
      url = `ws://127.0.0.1:${port}/ws`;
      http = `http://127.0.0.1:${port}`;
    });

    afterAll(async () => {
      if (server) await stopServer(server);
      await env?.dispose();
    });

    it('answers each with an error (1009 and 4400 close only their socket), keeps a room in order, and gives the memory back', async () => {
      console.log(`fuzz (${mode}): FUZZ_SEED=${SEED}, ${frames} frames`);
      const rng = new Prng(SEED);

      // Two well-behaved clients in one room, talking through the storm.
      const { client: a } = await RoomcastClient.connect(url, {
        device_id: 'calm-a',
        identity: 'a',
        room_id: ROOM,
      });
      const { client: b } = await RoomcastClient.connect(url, {
        device_id: 'calm-b',
        identity: 'b',
        room_id: ROOM,
      });
      const received = new Map<RoomcastClient, MessagePayload[]>([
        [a, []],
        [b, []],
      ]);
      for (const [c, list] of received) c.on('message', (m) => void (m.room_id === ROOM && list.push(m)));
      const acked = new Map<RoomcastClient, string[]>([
        [a, []],
        [b, []],
      ]);
      const talk = async (k: number) => {
        const from = k % 2 ? a : b;
        const ack = await from.request('message.send', { room_id: ROOM, kind: 'text', content: `calm ${k}` });
        acked.get(from)!.push(ack.message_id);
      };
      for (let k = 0; k < 10; k++) await talk(k);
      const baseline = await memoryAfterGc(server);

      let storming = true;
      const conversation = (async () => {
        let k = 10;
        while (storming) {
          await talk(k++);
          await new Promise((r) => setTimeout(r, 10));
        }
      })();

      const started = Date.now();
      const lifecycleCount = Math.floor(frames / LIFECYCLE_EVERY);
      const storm: StormResult = { sent: 0, errorsByCode: {}, mismatches: [] };
      const life: LifecycleResult = { frames: 0, problems: [], closes: {} };
      // Each client its own generator from the seed, so a run replays whatever the interleaving.
      const perClient = Math.ceil((frames - lifecycleCount) / FUZZ_CLIENTS);
      const caseSeeds = Array.from({ length: lifecycleCount }, () => rng.int(2 ** 31));
      const clientRngs = Array.from({ length: FUZZ_CLIENTS }, () => new Prng(rng.int(2 ** 31)));
      let nextCase = 0;
      await Promise.all([
        ...clientRngs.map((r, i) => fuzzClient(url, i, perClient, r, storm)),
        ...Array.from({ length: LIFECYCLE_PARALLEL }, async () => {
          for (let n = nextCase++; n < lifecycleCount; n = nextCase++)
            await lifecycleCase(url, new Prng(caseSeeds[n]), n, life);
        }),
      ]);
      storming = false;
      await conversation;
      const seconds = (Date.now() - started) / 1000;
      console.log(
        `fuzz (${mode}): ${storm.sent + life.frames} frames in ${seconds.toFixed(1)} s; errors ${JSON.stringify(storm.errorsByCode)}; closes ${JSON.stringify(life.closes)}`,
      );

      expect(server.alive(), server.output().slice(-4000)).toBe(true);
      expect(storm.mismatches.slice(0, 3), `FUZZ_SEED=${SEED}`).toEqual([]);
      expect(life.problems.slice(0, 5), `FUZZ_SEED=${SEED}`).toEqual([]);
      expect(storm.sent + life.frames).toBeGreaterThanOrEqual(frames);
      // Malformed input is the client's fault: never an INTERNAL error.
      expect(storm.errorsByCode.INTERNAL ?? 0, `FUZZ_SEED=${SEED}`).toBe(0);

      // Every message of the calm room reached the other member, in seq order, once.
      const last = await a.request('message.send', { room_id: ROOM, kind: 'text', content: 'last' });
      await b.waitFor('message', (m) => m.message_id === last.message_id, 10_000);
      for (const [c, other] of [
        [a, b],
        [b, a],
      ] as const) {
        const got = received.get(c)!;
        const seqs = got.map((m) => m.seq!);
        expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
        expect(new Set(seqs).size).toBe(seqs.length);
        const ids = new Set(got.map((m) => m.message_id));
        expect(acked.get(other)!.filter((id) => !ids.has(id))).toEqual([]);
      }
      expect(acked.get(a)!.length + acked.get(b)!.length).toBeGreaterThan(20);

      // Memory: the heap after a full GC comes back near where it started.
      await Promise.all([a.close(), b.close()]);
      const health = await fetch(`${http}/health`);
      expect(health.status).toBe(200);
      let after = await memoryAfterGc(server);
      for (let k = 0; k < 10 && after.heap > baseline.heap + 16 * MiB; k++) {
        await new Promise((r) => setTimeout(r, 500));
        after = await memoryAfterGc(server);
      }
      const rss = residentBytes(server);
      console.log(
        `fuzz (${mode}): heap ${(baseline.heap / MiB).toFixed(1)} -> ${(after.heap / MiB).toFixed(1)} MiB, rss ${(baseline.rss / MiB).toFixed(1)} -> ${(rss / MiB).toFixed(1)} MiB`,
      );
      expect(after.heap - baseline.heap).toBeLessThan(16 * MiB);
      expect(rss - baseline.rss).toBeLessThan(256 * MiB);
    }, 120_000);
  },
);
