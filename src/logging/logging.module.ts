import { DynamicModule, Global, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { AppConfig } from '../config/app-config.js';
import { LogContext } from './log-context.js';
import { pinoParams } from './log-options.js';

/** pino through nestjs-pino (JSON lines, HTTP request logging), and LogContext for socket work. */
@Global()
@Module({})
export class LoggingModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: LoggingModule,
      imports: [LoggerModule.forRoot(pinoParams(config))],
      providers: [LogContext],
      exports: [LogContext],
    };
  }
}
