/**
 * One load-generator process of bench/cluster/connections.ts. It opens `count` WebSocket
 * connections (global indexes start..start+count-1), at most `concurrency` handshakes at a
 * time, and holds them until the parent says `close`. Talks to the parent over the IPC channel.
 *
 * Connection g goes to node g % nodes and to room floor(g / perRoom), so every room has members
 * on every node. Each node is reached under several destination addresses (127.0.0.x) so that
 * no (destination address, port) pair uses much of the ephemeral port range: the kernel then
 * finds a free source port for each connect() at once. (Binding a source address instead,
 * `localAddress`, makes every bind() scan the range: sockets grow slower and slower, in the kernel.)
 */
import { CloseCode } from '#protocol';
import { WebSocket } from 'ws';
import { workerSetup } from '../lib/ipc.js';
import type { ParentMessage, WorkerConfig, WorkerMessage } from './protocol.js';

const { cfg, send } = workerSetup<WorkerConfig, WorkerMessage>('bench/cluster/connections.ts');
/** Started with --expose-gc, so that memory is compared without garbage in it. */
const gc = (globalThis as { gc?: () => void }).gc;

const sockets: WebSocket[] = [];
const latencies: number[] = [];
const failures: Record<string, number> = {};
const drops: Record<string, number> = {};
let ok = 0;
let failed = 0;
let inflight = 0;
let framesAfterHandshake = 0;
let closing = false;

/** `4408 HANDSHAKE_TIMEOUT` for the protocol's codes, the number otherwise. */
function closeName(code: number): string {
  const name = Object.entries(CloseCode).find(([, value]) => value === code)?.[0];
  return name ? `${code} ${name}` : String(code);
}

function fail(reason: string): void {
  failed++;
  failures[reason] = (failures[reason] ?? 0) + 1;
}

function deviceId(g: number): string {
  return `bench-${cfg.tag}-${g}`;
}

function roomId(g: number): string {
  return `BR${String(Math.floor(g / cfg.perRoom) % cfg.rooms).padStart(6, '0')}`;
}

/** Opens connection g and resolves when its handshake ended, either way. */
function connect(g: number): Promise<void> {
  return new Promise((resolve) => {
    const started = performance.now();
    const addresses = cfg.targets[g % cfg.targets.length];
    const url = addresses[Math.floor(g / cfg.targets.length) % addresses.length];
    const ws = new WebSocket(url, {
      perMessageDeflate: false,
      handshakeTimeout: cfg.handshakeTimeoutMs,
    });
    let done = false;
    const finish = (reason?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (reason) {
        fail(reason);
        ws.terminate();
      } else {
        ok++;
        latencies.push(performance.now() - started);
        sockets.push(ws);
      }
      resolve();
    };
    const timer = setTimeout(() => finish('timeout'), cfg.handshakeTimeoutMs);
    ws.on('open', () =>
      ws.send(
        JSON.stringify({
          type: 'hello',
          id: 'h',
          data: { device_id: deviceId(g), identity: 'bench', room_id: roomId(g) },
        }),
      ),
    );
    ws.on('message', (data) => {
      if (done) {
        framesAfterHandshake++;
        return;
      }
      let frame: { type?: string; data?: { code?: string } };
      try {
        frame = JSON.parse(data.toString()) as typeof frame;
      } catch {
        return finish('bad frame');
      }
      if (frame.type === 'offline_done') finish();
      else if (frame.type === 'error') finish(`error ${frame.data?.code ?? '?'}`);
    });
    ws.on('error', (err: NodeJS.ErrnoException) => finish(`socket ${err.code ?? err.message}`));
    ws.on('close', (code) => {
      if (!done) return finish(`closed ${closeName(code)}`);
      if (!closing) drops[closeName(code)] = (drops[closeName(code)] ?? 0) + 1;
    });
  });
}

async function connectAll(): Promise<void> {
  let next = cfg.start;
  const end = cfg.start + cfg.count;
  const lane = async () => {
    while (next < end) {
      const g = next++;
      inflight++;
      await connect(g);
      inflight--;
    }
  };
  const progress = setInterval(() => send({ type: 'progress', ok, failed, inflight }), 1000);
  await Promise.all(Array.from({ length: Math.min(cfg.concurrency, cfg.count) }, lane));
  clearInterval(progress);
}

async function closeAll(): Promise<number> {
  closing = true;
  const started = performance.now();
  const open = sockets.filter((ws) => ws.readyState === WebSocket.OPEN);
  await Promise.all(
    open.map(
      (ws) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            ws.terminate();
            resolve();
          }, 30_000);
          ws.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
          ws.close(1000, 'bench done');
        }),
    ),
  );
  return performance.now() - started;
}

process.on('message', (message: ParentMessage) => {
  if (message.type === 'status') {
    const open = sockets.filter((ws) => ws.readyState === WebSocket.OPEN).length;
    gc?.();
    send({ type: 'status', open, drops, framesAfterHandshake, rss: process.memoryUsage().rss });
  } else if (message.type === 'close') {
    void closeAll().then((ms) => {
      send({ type: 'closed', ms });
      process.disconnect?.();
      process.exit(0);
    });
  }
});

gc?.();
const baselineRss = process.memoryUsage().rss;
const began = performance.now();
await connectAll();
send({
  type: 'connected',
  baselineRss,
  ok,
  failed,
  failures,
  latencies,
  ms: performance.now() - began,
});
