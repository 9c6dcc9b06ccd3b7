import { Controller, Get, Param, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { RoomcastError } from '../common/roomcast-error.js';
import { CONTENT_SECURITY_POLICY, ConsoleAssets } from './console-assets.js';

/**
 * The console page and its two files. Outside the admin API on purpose: the page holds no
 * data and needs no token (its calls to /api carry the one the operator types), so neither
 * the token guard nor the admin rate limit applies, and it is no part of the OpenAPI document.
 */
@ApiExcludeController()
@Controller('console')
export class ConsoleController {
  constructor(private readonly assets: ConsoleAssets) {}

  @Get()
  page(@Res() res: Response): void {
    this.send(res, 'index.html');
  }

  @Get(':file')
  file(@Param('file') file: string, @Res() res: Response): void {
    this.send(res, file);
  }

  private send(res: Response, name: string): void {
    const asset = this.assets.get(name);
    if (!asset) throw RoomcastError.notFound(`no console file ${name}`);
    res.set({
      'Content-Type': asset.contentType,
      'Content-Security-Policy': CONTENT_SECURITY_POLICY,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      // Revalidated on every load (Express answers 304 to a matching ETag), so an upgraded
      // server is never paired with a stale script.
      'Cache-Control': 'no-cache',
    });
    res.send(asset.body);
  }
}
