import type { AppConfig } from '../config/app-config.js';

export type LogFields = Record<string, string | number | undefined>;

/**
 * A message with fields, for any `Logger` of @nestjs/common: with pino (LOG_FORMAT=json) the
 * fields become properties of the JSON line, with Nest's console logger they are appended as
 * key=value. Passed explicitly rather than bound through an async context: on Node 20 and 22
 * an AsyncLocalStorage per frame would put promise hooks on every socket's hot path.
 */
export function withFields(format: AppConfig['LOG_FORMAT'], msg: string, fields: LogFields): object | string {
  const present = Object.entries(fields).filter(([, v]) => v !== undefined && v !== '');
  if (format === 'json') return { msg, ...Object.fromEntries(present) };
  return present.length ? `${msg} (${present.map(([k, v]) => `${k}=${v}`).join(' ')})` : msg;
}
