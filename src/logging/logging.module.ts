import { DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { AppConfig } from '../config/app-config.js';
import { pinoParams } from './log-options.js';

/** pino through nestjs-pino: JSON lines, and HTTP request logging. */
@Module({})
export class LoggingModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: LoggingModule,
      imports: [LoggerModule.forRoot(pinoParams(config))],
    };
  }
}
