import { Module } from '@nestjs/common';
import { ConsoleAssets } from './console-assets.js';
import { ConsoleController } from './console.controller.js';

/**
 * The live console at /console (docs/console.md): a static page that operates the server
 * through the public admin API and the WebSocket protocol only, like any other client would.
 */
@Module({
  controllers: [ConsoleController],
  providers: [ConsoleAssets],
})
export class ConsoleModule {}
