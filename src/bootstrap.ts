import type {
  DynamicModule,
  INestApplication,
  INestApplicationContext,
  NestApplicationOptions,
  Type,
} from '@nestjs/common';
import { ConsoleLogger, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Logger as PinoNestLogger } from 'nestjs-pino';
import { AppModule } from './app.module.js';
import { cacheValidationMetadata } from './common/validation-metadata-cache.js';
import type { AppConfig } from './config/app-config.js';
import { setUpHttp } from './http.js';
import { RoomcastWsAdapter } from './gateway/ws-adapter.js';

export interface RunningApp {
  app: INestApplicationContext;
  /** Base HTTP URL, when this process serves HTTP (ROLE all or gateway). */
  url?: string;
  close(): Promise<void>;
}

/**
 * Creates and starts the process for its role: HTTP + WebSocket (+ workers when ROLE=all),
 * or workers alone (ROLE=worker, no sockets and no HTTP). Used by main.ts and by the tests.
 */
export async function startApp(
  config: AppConfig,
  extensions: Array<Type | DynamicModule> = [],
): Promise<RunningApp> {
  cacheValidationMetadata();
  if (!config.runsGateway) {
    const app = await NestFactory.createApplicationContext(
      AppModule.forRoot(config, extensions),
      loggerOptions(config),
    );
    useConfiguredLogger(app, config);
    await app.init();
    new Logger('Roomcast').log(`node ${config.NODE_ID} processing jobs (role worker, no HTTP)`);
    return { app, close: () => app.close() };
  }
  const app: INestApplication = await NestFactory.create(
    AppModule.forRoot(config, extensions),
    loggerOptions(config),
  );
  useConfiguredLogger(app, config);
  app.useWebSocketAdapter(new RoomcastWsAdapter(app, config));
  setUpHttp(app, config);
  try {
    await app.listen(config.PORT, '0.0.0.0');
  } catch (err) {
    // A failed boot (bad handler registry, port taken) must not leave connections open.
    await app.close().catch(() => undefined);
    throw err;
  }
  const address = app.getHttpServer().address() as { port: number };
  new Logger('Roomcast').log(
    `node ${config.NODE_ID} listening on :${address.port} (${config.embedded ? 'embedded' : 'redis'} mode, role ${config.ROLE})`,
  );
  return { app, url: `http://127.0.0.1:${address.port}`, close: () => app.close() };
}

const NEST_LEVELS = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'] as const;

/**
 * json: Nest buffers its boot lines until pino is in place (useConfiguredLogger), so even
 * those are JSON. text: Nest's console logger, at LOG_LEVEL and the levels above it.
 */
function loggerOptions(config: AppConfig): NestApplicationOptions {
  if (config.LOG_FORMAT === 'json') return { bufferLogs: true };
  return { logger: levelsUpTo(config.LOG_LEVEL) };
}

/**
 * Every `Logger` of @nestjs/common writes through pino (json) or the console logger (text) from
 * here on. Nest keeps one logger per process: set it either way, so that the last app started
 * in a process (tests start several) is the one whose format holds.
 */
function useConfiguredLogger(app: INestApplicationContext, config: AppConfig): void {
  if (config.LOG_FORMAT === 'json') return app.useLogger(app.get(PinoNestLogger));
  const text = new ConsoleLogger();
  text.setLogLevels(levelsUpTo(config.LOG_LEVEL));
  app.useLogger(text);
}

const levelsUpTo = (level: AppConfig['LOG_LEVEL']) => NEST_LEVELS.slice(0, NEST_LEVELS.indexOf(level) + 1);
