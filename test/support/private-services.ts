import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';

/** A port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export const requireServices = ['1', 'true', 'yes', 'on'].includes(
  String(process.env.REQUIRE_SERVICES ?? '').toLowerCase(),
);

/**
 * Stands in for a suite that cannot run here (a binary is missing): a failing test under
 * REQUIRE_SERVICES=1, else a skipped one naming `why`.
 */
export function cannotRun(why: string): void {
  if (requireServices) it(`cannot run: ${why} (REQUIRE_SERVICES=1)`, () => expect.fail(why));
  else it.skip(`skipped: ${why}`);
}

/** True when `command --version` runs. */
export const hasBinary = (command: string) =>
  spawnSync(command, ['--version'], { stdio: 'ignore' }).status === 0;

/**
 * A server process of a test file's own (Redis, MariaDB) that the test may kill and restart
 * without disturbing other test files: started from `command`, ready when its output matches
 * `ready`, killed when the test process exits.
 */
abstract class PrivateServer {
  private child?: ChildProcess;
  private out = '';
  private readonly onExit = () => this.child?.kill('SIGKILL');

  constructor(readonly port: number) {
    process.once('exit', this.onExit);
  }

  protected abstract command(): { cmd: string; args: string[] };
  protected abstract readonly ready: RegExp;
  protected abstract readonly name: string;

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  output(): string {
    return this.out;
  }

  async start(timeoutMs = 30_000): Promise<void> {
    this.out = '';
    const { cmd, args } = this.command();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name} not ready:\n${this.out}`)), timeoutMs);
      const onData = (chunk: Buffer) => {
        this.out += chunk.toString();
        if (this.ready.test(this.out)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited (${code}):\n${this.out}`));
      });
    });
  }

  /** Sends a signal; SIGKILL (default) waits for the process to be gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    // Only a SIGKILL is waited for: SIGSTOP/SIGCONT never exit, and a listener each would pile up.
    const exited = signal === 'SIGKILL' ? new Promise((resolve) => child.once('exit', resolve)) : undefined;
    child.kill(signal);
    await exited;
  }

  async dispose(): Promise<void> {
    if (this.child && this.running) this.child.kill('SIGCONT');
    await this.kill();
    process.off('exit', this.onExit);
  }
}

export const REDIS_SERVER = 'redis-server';

/**
 * A Redis of the test file's own. No persistence by default: a restart comes back empty.
 * `persistent`: an append-only file fsynced at every write (in a temp dir), as operations.md
 * asks of production, so a restart keeps every acknowledged write.
 */
export class PrivateRedis extends PrivateServer {
  protected readonly ready = /ready to accept connections/i;
  protected readonly name = REDIS_SERVER;
  private readonly dir?: string;

  constructor(port: number, options: { persistent?: boolean } = {}) {
    super(port);
    if (options.persistent) this.dir = mkdtempSync(join(tmpdir(), 'roomcast-redis-'));
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  protected command() {
    const persistence = this.dir
      ? ['--dir', this.dir, '--appendonly', 'yes', '--appendfsync', 'always']
      : ['--appendonly', 'no'];
    return {
      cmd: REDIS_SERVER,
      args: ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', ...persistence],
    };
  }

  override async dispose(): Promise<void> {
    await super.dispose();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

export const MARIADBD = process.env.RC_TEST_MARIADBD ?? '/usr/sbin/mariadbd';
export const MARIADB_INSTALL_DB = 'mariadb-install-db';

/**
 * A MariaDB of the test file's own: a data directory in a temp dir (created once by
 * mariadb-install-db), root without a password, on 127.0.0.1:`port`. Restarts keep the data.
 */
export class PrivateMariaDb extends PrivateServer {
  protected readonly ready = /ready for connections/;
  protected readonly name = 'mariadbd';
  private readonly dir = mkdtempSync(join(tmpdir(), 'roomcast-mariadb-'));

  /** `mysql://root@127.0.0.1:<port>/<database>`. */
  url(database: string): string {
    return `mysql://root@127.0.0.1:${this.port}/${database}`;
  }

  /** Creates the data directory (about a second). */
  install(): void {
    const result = spawnSync(
      MARIADB_INSTALL_DB,
      [
        '--no-defaults',
        `--datadir=${join(this.dir, 'data')}`,
        '--auth-root-authentication-method=normal',
        '--skip-test-db',
        ...(process.getuid?.() === 0 ? ['--user=root'] : []),
      ],
      { encoding: 'utf8' },
    );
    if (result.status !== 0)
      throw new Error(`${MARIADB_INSTALL_DB} failed (${result.status}):\n${result.stdout}${result.stderr}`);
  }

  protected command() {
    return {
      cmd: MARIADBD,
      args: [
        '--no-defaults',
        `--datadir=${join(this.dir, 'data')}`,
        `--port=${this.port}`,
        '--bind-address=127.0.0.1',
        `--socket=${join(this.dir, 'mysqld.sock')}`,
        `--pid-file=${join(this.dir, 'mysqld.pid')}`,
        '--skip-name-resolve',
        '--skip-log-bin',
        '--innodb-buffer-pool-size=32M',
        '--innodb-log-file-size=16M',
        ...(process.getuid?.() === 0 ? ['--user=root'] : []),
      ],
    };
  }

  override async dispose(): Promise<void> {
    await super.dispose();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
