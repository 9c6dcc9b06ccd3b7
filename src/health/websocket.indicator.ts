import type { AddressInfo } from 'node:net';
import { Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { WebSocket } from 'ws';
import { SessionsService } from '../gateway/index.js';
import { ShutdownState } from './shutdown-state.js';

export const WEBSOCKET_TIMEOUT_MS = 1000;

/**
 * The WebSocket server accepts connections: a loopback client opens /ws and closes it at
 * once (before any hello, so the gateway records nothing). This exercises the real upgrade
 * path, not just a flag.
 */
@Injectable()
export class WebSocketHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly adapterHost: HttpAdapterHost,
    private readonly sessions: SessionsService,
    private readonly shutdown: ShutdownState,
  ) {}

  check(key = 'websocket'): PromiseLike<HealthIndicatorResult> {
    return this.indicators
      .check(key)
      .attempt(async ({ signal }) => {
        if (this.shutdown.shuttingDown) throw new Error('shutting down: new connections are refused');
        await probe(this.url(), signal);
        return { connections: this.sessions.connectionCount() };
      })
      .withTimeout(WEBSOCKET_TIMEOUT_MS);
  }

  private url(): string {
    const address = this.adapterHost.httpAdapter.getHttpServer().address() as AddressInfo | string | null;
    if (!address || typeof address === 'string') throw new Error('the HTTP server is not listening');
    const wildcard = address.address === '0.0.0.0' || address.address === '::';
    const host = wildcard
      ? address.family === 'IPv6'
        ? '[::1]'
        : '127.0.0.1'
      : address.family === 'IPv6'
        ? `[${address.address}]`
        : address.address;
    return `ws://${host}:${address.port}/ws`;
  }
}

function probe(url: string, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const ws = new WebSocket(url, { handshakeTimeout: WEBSOCKET_TIMEOUT_MS });
    const abort = () => {
      ws.terminate();
      reject(new Error('the WebSocket probe was aborted'));
    };
    signal.addEventListener('abort', abort, { once: true });
    ws.once('open', () => {
      signal.removeEventListener('abort', abort);
      ws.close(1000, 'health probe');
      resolve();
    });
    ws.once('unexpected-response', (_req, res) => {
      signal.removeEventListener('abort', abort);
      ws.terminate();
      reject(new Error(`upgrade refused with HTTP ${res.statusCode}`));
    });
    ws.once('error', (err) => {
      signal.removeEventListener('abort', abort);
      reject(err);
    });
  });
}
