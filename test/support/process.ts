import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NO_RATE_LIMITS } from './limits.js';

/** The repository root: the server runs from src/main.ts there, as `npm run start:dev` does. */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Loaded into every server process before src/main.ts (`--import`), as a data: URL so that it
 * needs no file of its own:
 * - prints `[harness] listening on :<port>` when a server starts listening, whatever LOG_LEVEL
 *   (the server's own "listening on" line is at level `log`);
 * - with `--expose-gc` (SpawnOptions.exposeGc), answers SIGUSR2 with a full GC and the line
 *   `[harness] memory heap=<bytes> rss=<bytes>` (read by `memoryAfterGc`);
 * - kills the process when its stdin (a pipe from the test process) ends: a server never
 *   outlives the test process, even one that was killed without running its exit hooks.
 */
const PRELOAD = `
import net from 'node:net';
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  this.once('listening', () => {
    const address = this.address();
    if (address && typeof address === 'object') process.stderr.write('[harness] listening on :' + address.port + '\\n');
  });
  return listen.apply(this, args);
};
if (typeof globalThis.gc === 'function') {
  process.on('SIGUSR2', () => {
    globalThis.gc();
    const m = process.memoryUsage();
    process.stderr.write('[harness] memory heap=' + m.heapUsed + ' rss=' + m.rss + '\\n');
  });
}
if (process.stdin && !process.stdin.isTTY) {
  process.stdin.on('error', () => undefined);
  process.stdin.on('end', () => process.kill(process.pid, 'SIGKILL'));
  process.stdin.resume();
  process.stdin.unref?.();
}
`;

const PRELOAD_URL = `data:text/javascript;base64,${Buffer.from(PRELOAD).toString('base64')}`;

/** Output kept per process (the tail), for failure messages. */
const OUTPUT_LIMIT = 2 * 1024 * 1024;

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerProcess {
  child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far (the last 2 MiB). */
  output(): string;
  /** The HTTP port, once listening; rejects if the process exits first or does not start in time. */
  port: Promise<number>;
  /** Resolves when the process has exited (never rejects). */
  exited: Promise<ExitInfo>;
  /** True until the process has exited. */
  alive(): boolean;
}

export interface SpawnOptions {
  /** How long `port` waits for the server to listen. Default 60000. */
  startTimeoutMs?: number;
  /** Runs node with `--expose-gc`, so `memoryAfterGc` can measure the heap after a full GC. */
  exposeGc?: boolean;
}

/** Children not yet exited, killed when the test process exits. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of running) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/**
 * The server as operators run it: its own process, from src/main.ts (run through SWC, with the
 * `roomcast-source` condition so `#protocol` resolves to source). `env` adds to the test
 * process's environment and to these defaults: PORT=0, LOG_LEVEL=log, STATUS_INTERVAL_MS=0, rate
 * limits off (NO_RATE_LIMITS).
 */
export function spawnServer(env: Record<string, string>, options: SpawnOptions = {}): ServerProcess {
  installExitHook();
  const child = spawn(
    process.execPath,
    [
      ...(options.exposeGc ? ['--expose-gc'] : []),
      '--conditions=roomcast-source',
      '--import',
      '@swc-node/register/esm-register',
      '--import',
      PRELOAD_URL,
      'src/main.ts',
    ],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        PORT: '0',
        LOG_LEVEL: 'log',
        STATUS_INTERVAL_MS: '0',
        ...NO_RATE_LIMITS,
        ...env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  running.add(child);
  child.stdin!.on('error', () => undefined);

  let output = '';
  const append = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > OUTPUT_LIMIT) output = output.slice(-OUTPUT_LIMIT);
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);

  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
    child.once('error', (err) => {
      append(Buffer.from(`[harness] spawn failed: ${err.message}\n`));
      running.delete(child);
      resolve({ code: null, signal: null });
    });
  });

  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  const port = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`server not listening after ${startTimeoutMs} ms:\n${output}`)),
      startTimeoutMs,
    );
    const onData = () => {
      const match = /listening on :(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        child.stderr!.off('data', onData);
        resolve(Number(match[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${signal ?? code}) before listening:\n${output}`));
    });
  });
  // Callers that never ask for the port (a refused start) must not leave an unhandled rejection.
  port.catch(() => undefined);

  return {
    child,
    output: () => output,
    port,
    exited,
    alive: () => child.exitCode === null && child.signalCode === null,
  };
}

export interface StopOptions {
  /** Default SIGTERM (the server drains: sockets closed with 1001, then exit 0). */
  signal?: NodeJS.Signals;
  /** After this long, SIGKILL. Default 15000 (above the server's SHUTDOWN_TIMEOUT_MS default). */
  timeoutMs?: number;
}

/** Sends `signal` and waits for the exit; SIGKILL when it takes longer than `timeoutMs`. */
export async function stopServer(
  server: ServerProcess,
  options: StopOptions = {},
): Promise<ExitInfo & { forced: boolean }> {
  if (!server.alive()) return { ...(await server.exited), forced: false };
  server.child.kill(options.signal ?? 'SIGTERM');
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), options.timeoutMs ?? 15_000);
  });
  const first = await Promise.race([server.exited, timedOut]);
  clearTimeout(timer);
  if (first !== 'timeout') return { ...first, forced: false };
  server.child.kill('SIGKILL');
  return { ...(await server.exited), forced: true };
}

/** The process's resident set size in bytes, from /proc (Linux). */
export function residentBytes(server: ServerProcess): number {
  const status = readFileSync(`/proc/${server.child.pid}/status`, 'utf8');
  const kib = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!kib) throw new Error(`no VmRSS in /proc/${server.child.pid}/status`);
  return Number(kib[1]) * 1024;
}

/**
 * Heap and RSS of a server spawned with `exposeGc`, measured right after a full GC in the
 * server process (SIGUSR2, answered by the preload).
 */
export async function memoryAfterGc(
  server: ServerProcess,
  timeoutMs = 10_000,
): Promise<{ heap: number; rss: number }> {
  const pattern = /\[harness\] memory heap=(\d+) rss=(\d+)/g;
  const seen = server.output().match(pattern)?.length ?? 0;
  server.child.kill('SIGUSR2');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const all = [...server.output().matchAll(pattern)];
    if (all.length > seen) {
      const last = all[all.length - 1];
      return { heap: Number(last[1]), rss: Number(last[2]) };
    }
    if (Date.now() > deadline || !server.alive())
      throw new Error(
        `no memory report from the server (spawned with exposeGc?):\n${server.output().slice(-4000)}`,
      );
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Resolves once the process's output matches `pattern` (a worker's readiness line, say). */
export async function waitForOutput(
  server: ServerProcess,
  pattern: RegExp,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(server.output())) {
    if (Date.now() > deadline || !server.alive())
      throw new Error(
        `no ${pattern} in the output${server.alive() ? '' : ' (exited)'}:\n${server.output().slice(-4000)}`,
      );
    await new Promise((r) => setTimeout(r, 50));
  }
}
