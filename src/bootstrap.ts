import type { DynamicModule, INestApplication, INestApplicationContext, Type } from '@nestjs/common';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
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
  const levels = (['fatal', 'error', 'warn', 'log', 'debug', 'verbose'] as const).slice(
    0,
    ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'].indexOf(config.LOG_LEVEL) + 1,
  );
  if (!config.runsGateway) {
    const app = await NestFactory.createApplicationContext(AppModule.forRoot(config, extensions), {
      logger: [...levels],
    });
    await app.init();
    new Logger('Roomcast').log(`node ${config.NODE_ID} processing jobs (role worker, no HTTP)`);
    return { app, close: () => app.close() };
  }
  const app: INestApplication = await NestFactory.create(AppModule.forRoot(config, extensions), {
    logger: [...levels],
    bufferLogs: false,
  });
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
