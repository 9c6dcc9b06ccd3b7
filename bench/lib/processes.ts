/**
 * Child processes of a benchmark (servers, load generators): spawned through bash so that the
 * fd limit can be raised, logged to files, watched for warnings, and never left behind.
 * Shared by bench/cluster and bench/compare.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Runs TypeScript from source, as `npm run start:dev` does. */
export const LOADER = ['--conditions=roomcast-source', '--import', '@swc-node/register/esm-register'];
/** See node-preload.mjs: stop with the parent, GC (and report memory) on SIGUSR2. */
export const PRELOAD = [
  '--expose-gc',
  '--import',
  fileURLToPath(new URL('./node-preload.mjs', import.meta.url)),
];

export interface Proc {
  name: string;
  role: string;
  child: ChildProcess;
  pid: number;
  port?: number;
  exited: boolean;
  tail: string;
  /** warn/error lines the process printed, by message with numbers blanked: count and one example. */
  problems: Map<string, { count: number; example: string }>;
  problemCount: number;
}

export function log(message: string): void {
  console.log(`[${new Date().toISOString().slice(11, 19)}] ${message}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A log line without Nest's pid/date prefix; with `blank`, numbers become N (to group alike lines). */
function logMessage(line: string, blank: boolean): string {
  const message = line.replace(/^\[Nest\] \d+\s+-\s+.*?(AM|PM)\s+/, '').trim();
  return blank ? message.replace(/\d+/g, 'N') : message;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/**
 * The processes of one benchmark run. A child that exits while the group is not stopping
 * makes `guarded()` promises reject at once; every child is SIGKILLed when this process exits.
 */
export class ProcessGroup {
  readonly children = new Set<ChildProcess>();
  stopping = false;
  private onFatal: (err: Error) => void = () => undefined;
  private readonly fatal: Promise<never>;

  constructor(
    readonly logDir: string,
    private readonly fdLimit: number,
  ) {
    this.fatal = new Promise<never>((_, reject) => {
      this.onFatal = reject;
    });
    this.fatal.catch(() => undefined);
    // Whatever happens (an exception, process.exit), no child outlives the benchmark.
    process.on('exit', () => {
      for (const child of this.children)
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
  }

  /** Runs `node <args>` through bash so that the soft fd limit can be raised first (exec keeps the pid). */
  spawnNode(
    name: string,
    role: string,
    args: string[],
    env: NodeJS.ProcessEnv,
    ipc: boolean,
    cwd = ROOT,
  ): Proc {
    const child = spawn(
      'bash',
      ['-c', `ulimit -n ${this.fdLimit} && exec "$0" "$@"`, process.execPath, ...args],
      {
        cwd,
        env: { ...process.env, NO_COLOR: '1', RC_BENCH_PARENT_PID: String(process.pid), ...env },
        stdio: ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
      },
    );
    this.children.add(child);
    const proc: Proc = {
      name,
      role,
      child,
      pid: child.pid!,
      exited: false,
      tail: '',
      problems: new Map(),
      problemCount: 0,
    };
    const file = createWriteStream(join(this.logDir, `${name}.log`));
    let partial = '';
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      file.write(text);
      proc.tail = (proc.tail + text).slice(-4000);
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!/\b(WARN|ERROR|FATAL)\b|Error:|error:/.test(line)) continue;
        proc.problemCount++;
        const key = logMessage(line, true).slice(0, 300);
        const seen = proc.problems.get(key);
        if (seen) seen.count++;
        else if (proc.problems.size < 20)
          proc.problems.set(key, { count: 1, example: logMessage(line, false).slice(0, 300) });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => {
      proc.exited = true;
      this.children.delete(child);
      file.end();
      if (!this.stopping)
        this.onFatal(
          new Error(`${name} exited unexpectedly (${signal ?? code}); last output:\n${proc.tail}`),
        );
    });
    return proc;
  }

  /** Rejects as soon as a child dies unexpectedly. */
  guarded<T>(promise: Promise<T>): Promise<T> {
    return Promise.race([promise, this.fatal]);
  }
}

/** Waits until `GET http://127.0.0.1:<port><path>` answers 2xx. */
export async function waitForHttp(proc: Proc, path = '/health/live', timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exited) throw new Error(`${proc.name} exited before listening:\n${proc.tail}`);
    try {
      const res = await fetch(`http://127.0.0.1:${proc.port}${path}`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      throw new Error(`${proc.name} did not listen within ${timeoutMs} ms:\n${proc.tail}`);
    await sleep(250);
  }
}

/** SIGTERM, then SIGKILL after `timeoutMs`; resolves with the exit code or signal. */
export async function stopProc(proc: Proc, timeoutMs = 30_000): Promise<number | string> {
  if (proc.exited) return proc.child.exitCode ?? proc.child.signalCode ?? '?';
  const exit = once(proc.child, 'exit') as Promise<[number | null, string | null]>;
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), timeoutMs);
  const [code, signal] = await exit;
  clearTimeout(timer);
  return code ?? signal ?? '?';
}
