import type { DynamicModule, Type } from '@nestjs/common';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { startApp, type RunningApp } from '../../src/bootstrap.js';
import type { AppConfig } from '../../src/config/app-config.js';
import { loadConfig } from '../../src/config/load-config.js';
import { ClientPool } from './clients.js';
import { NO_RATE_LIMITS } from './limits.js';
import { provisionServices, type Mode, type Services } from './services.js';

export interface TestServer extends RunningApp {
  url: string;
  wsUrl: string;
  config: AppConfig;
  mode: Mode;
  /** Stops the app and removes its database, files and Redis keys. */
  stop(): Promise<void>;
}

export interface TestEnvironment {
  mode: Mode;
  /** Environment variables for a server in this mode (database, Redis, prefix). */
  env: Record<string, string>;
  dispose(): Promise<void>;
}

/** A private database (SQLite file, or MySQL database + Redis prefix) for one test file. */
export async function testEnvironment(mode: Mode): Promise<TestEnvironment> {
  if (mode === 'embedded') {
    const dir = mkdtempSync(join(tmpdir(), 'roomcast-test-'));
    return {
      mode,
      env: { DATABASE_URL: `sqlite:${join(dir, 'roomcast.sqlite')}` },
      dispose: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const services: Services = await provisionServices();
  return {
    mode,
    env: {
      DATABASE_URL: services.databaseUrl,
      REDIS_URL: services.redisUrl,
      REDIS_PREFIX: services.redisPrefix,
    },
    dispose: () => services.dispose(),
  };
}

/**
 * Starts a real server on a free port. `env` adds to (and overrides) the environment's
 * variables, as an operator's environment would.
 */
let servers = 0;

export async function startTestServer(
  environment: TestEnvironment,
  env: Record<string, string> = {},
  extensions: Array<Type | DynamicModule> = [],
): Promise<TestServer> {
  const config = loadConfig({
    PORT: '0',
    LOG_LEVEL: 'error',
    ADMIN_TOKEN: 'test-admin-token',
    STATUS_INTERVAL_MS: '0',
    // Unique per server: nodes that share a Redis prefix must not share an id.
    NODE_ID: `test-${process.pid}-${++servers}`,
    JOB_BACKOFF_MS: '50',
    ...NO_RATE_LIMITS,
    ...environment.env,
    ...env,
  });
  const running = await startApp(config, extensions);
  const url = running.url!;
  return {
    ...running,
    url,
    wsUrl: `${url.replace('http', 'ws')}/ws`,
    config,
    mode: environment.mode,
    stop: () => running.close(),
  };
}

export const ADMIN_TOKEN = 'test-admin-token';

/** What `serve` gives a describe block, once its beforeAll has run. */
export interface Served {
  env: TestEnvironment;
  server: TestServer;
  pool: ClientPool;
}

/**
 * A test environment in `mode`, a server in it (`env` as for startTestServer) and a pool of
 * clients, for the tests of the calling describe block; all closed after them.
 */
export function serve(mode: Mode, env: Record<string, string> = {}): Served {
  const served = {} as Served;
  beforeAll(async () => {
    served.env = await testEnvironment(mode);
    served.server = await startTestServer(served.env, env);
    served.pool = new ClientPool(served.server.wsUrl);
  });
  afterAll(async () => {
    await served.pool?.closeAll();
    await served.server?.stop();
    await served.env?.dispose();
  });
  return served;
}
