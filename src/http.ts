import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { INestApplication } from '@nestjs/common';
import { ValidationPipe } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { Express } from 'express';
import type { AppConfig } from './config/app-config.js';
import { RoomcastErrorFilter } from './admin/roomcast-error.filter.js';
import { requestLogger } from './logging/log-options.js';

/** The WebSocket protocol's AsyncAPI document (docs/asyncapi.yaml), linked from the Swagger page. */
export const ASYNCAPI_PATH = '/docs/asyncapi.yaml';

/**
 * HTTP concerns shared by every route: request logging, validation of bodies, queries and
 * params (unknown fields refused), one error shape (RoomcastErrorFilter), Swagger UI at /docs,
 * the OpenAPI document at /docs-json and the AsyncAPI document beside them.
 */
export function setUpHttp(app: INestApplication, config: AppConfig): void {
  if (config.TRUST_PROXY) {
    (app.getHttpAdapter().getInstance() as { set(k: string, v: unknown): void }).set('trust proxy', true);
  }
  app.use(requestLogger());
  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      transformOptions: { enableImplicitConversion: true },
    }),
  );
  app.useGlobalFilters(new RoomcastErrorFilter(app.getHttpAdapter()));
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Roomcast admin API')
      .setDescription(
        'Operate rooms, clients, messages and queues. The WebSocket protocol (`/ws`) is described by ' +
          `the [AsyncAPI document](${ASYNCAPI_PATH}) and, with every rule, in docs/protocol.md. ` +
          'With Redis, the queue dashboard (Bull Board) is at [/admin/queues](/admin/queues), behind the same token.',
      )
      .setVersion('1')
      .addBearerAuth(
        { type: 'http', scheme: 'bearer', description: 'The ADMIN_TOKEN of the server (admin API only)' },
        'admin',
      )
      .addTag('node', 'This node: stats, and `system` announcements to connected clients')
      .addTag('rooms', 'Rooms, their members and their stored messages')
      .addTag('clients', 'Live connections of this node: list and kick')
      .addTag('devices', 'Recorded connections of a device (audit)')
      .addTag('queues', 'Persistence queues: depth, dead letters, retry')
      .addTag('health', 'Probes (no token): liveness, and readiness with per-dependency detail')
      .addTag('observability', 'Prometheus metrics (no token)')
      .build(),
  );
  // A plain Express route, so it stays out of the OpenAPI document: it is no REST call. The
  // package.json "imports" entry finds the file from src/ and from dist/ alike.
  const asyncapi = readFileSync(fileURLToPath(import.meta.resolve('#asyncapi')), 'utf8');
  (app.getHttpAdapter().getInstance() as Express).get(ASYNCAPI_PATH, (_req, res) => {
    res.type('application/yaml').send(asyncapi);
  });
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
}
