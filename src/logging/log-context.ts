import { Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import type { Bindings } from 'pino';
import { AppConfig } from '../config/app-config.js';

/**
 * Fields bound to every log line written while some work runs (session_id and device_id
 * while a socket's frame is handled), whichever logger writes it: Nest's `Logger` goes
 * through pino. With LOG_FORMAT=text there is nothing to bind to and `fn` simply runs.
 */
@Injectable()
export class LogContext {
  private readonly json: boolean;

  constructor(
    private readonly pino: PinoLogger,
    config: AppConfig,
  ) {
    this.json = config.LOG_FORMAT === 'json';
  }

  run<T>(fields: Bindings, fn: () => T): T {
    return this.json ? this.pino.runInContext(fn, { bindings: fields }) : fn();
  }

  /** Adds fields to the lines still to come inside the current `run`. */
  assign(fields: Bindings): void {
    if (this.json) this.pino.assign(fields);
  }
}
