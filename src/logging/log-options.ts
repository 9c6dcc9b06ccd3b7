import { type Params, PinoLogger } from 'nestjs-pino';
import { type HttpLogger, pinoHttp } from 'pino-http';
import { stdTimeFunctions, type Level } from 'pino';
import type { AppConfig, LogLevel } from '../config/app-config.js';

/** Nest's level names on pino's: `log` is pino's `info`, `verbose` its `trace`. */
export const PINO_LEVEL: Record<LogLevel, Level> = {
  fatal: 'fatal',
  error: 'error',
  warn: 'warn',
  log: 'info',
  debug: 'debug',
  verbose: 'trace',
};

/** Fields that carry credentials, wherever a log line might hold them; pino replaces their values. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-admin-token"]',
  'req.query.token',
  'token',
  '*.token',
  'ADMIN_TOKEN',
  '*.ADMIN_TOKEN',
];

/** `token=<secret>` in a query string (WebSocket clients may authenticate that way) becomes `token=[redacted]`. */
export function scrubUrl(url: string | undefined): string | undefined {
  return url?.replace(/([?&]token=)[^&#]*/gi, '$1[redacted]');
}

/**
 * The pino settings of the process (nestjs-pino builds one root logger from them, the first
 * time any module asks: one per process). Every line carries `node_id`. With LOG_FORMAT=text
 * pino is silenced and Nest's console logger writes instead.
 */
export function pinoParams(config: AppConfig): Params {
  return {
    pinoHttp: {
      level: config.LOG_FORMAT === 'json' ? PINO_LEVEL[config.LOG_LEVEL] : 'silent',
      base: { node_id: config.NODE_ID, pid: process.pid },
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    },
    // nestjs-pino's own middleware binds a logging context to each request with
    // AsyncLocalStorage; on Node 20 and 22 that slows every promise of the process (sockets
    // included) from the first request on. Requests are logged by requestLogger() instead.
    forRoutes: [],
  };
}

/** Probes and scrapes arrive every few seconds: never worth a line. */
const UNLOGGED = /^\/(health|metrics)(\/|\?|$)/;

/**
 * One line per HTTP request through the process's pino logger: at `debug` (5xx at `error`), so
 * the default level keeps HTTP quiet; credentials scrubbed; /health and /metrics left out.
 */
export function requestLogger(): HttpLogger {
  return pinoHttp({
    logger: PinoLogger.root,
    quietReqLogger: true,
    serializers: { req: (req: { url?: string }) => ({ ...req, url: scrubUrl(req.url) }) },
    autoLogging: { ignore: (req) => UNLOGGED.test(req.url ?? '') },
    customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'debug'),
  });
}
