import type { IncomingMessage } from 'node:http';
import type { INestApplicationContext } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { WebSocketServer } from 'ws';
import type { AppConfig } from '../config/app-config.js';
import { ConnectionCaps } from './connection-caps.js';
import { redactUrl } from './upgrade.js';

/**
 * The stock WsAdapter, minus its `{event,data}` message routing: Roomcast frames are
 * `{type,id,data}` and are routed by the gateway's FrameRouter, which attaches its own
 * listener per socket. The frame size limit comes from configuration (ws closes with 1009).
 * Upgrades from a browser origin not in ALLOWED_ORIGINS (403) or from an address at
 * MAX_CONNECTIONS_PER_IP (429) are refused before a socket exists.
 */
export class RoomcastWsAdapter extends WsAdapter {
  private caps?: ConnectionCaps;

  constructor(
    private readonly app: INestApplicationContext,
    private readonly config: AppConfig,
  ) {
    super(app);
  }

  override create(port: number, options: Record<string, unknown> & { path?: string } = {}) {
    return super.create(port, {
      ...options,
      maxPayload: this.config.MAX_PAYLOAD_BYTES,
      // Per-message deflate costs CPU and memory per socket; fan-out servers leave it off.
      perMessageDeflate: false,
      clientTracking: false,
      verifyClient: (
        info: { req: IncomingMessage },
        accept: (ok: boolean, status?: number, message?: string) => void,
      ) => {
        this.caps ??= this.app.get(ConnectionCaps, { strict: false });
        const refusal = this.caps.refuseUpgrade(info.req);
        if (!refusal) return accept(true);
        this.logger.debug(
          `upgrade ${redactUrl(info.req.url)} refused (${refusal.status}): ${refusal.message}`,
        );
        accept(false, refusal.status, refusal.message);
      },
      // Checked by the gateway instead (decodeText): ws would close the socket with 1007, but a
      // bad frame gets an error and the connection stays (protocol.md).
      skipUTF8Validation: true,
    });
  }

  /**
   * Server errors are logged; a client's protocol error (an oversized frame: close 1009) is
   * the client's fault and is logged at debug by the gateway.
   */
  override bindErrorHandler(server: WebSocketServer): WebSocketServer {
    server.on('error', (err: Error) => this.logger.error(err));
    return server;
  }

  override bindMessageHandlers(): void {
    // Routing is the gateway's (FrameRouter); nothing to bind here.
  }

  /**
   * The gateway attaches its own `close` listener (it has no handleDisconnect); the stock
   * `once('close')` per socket, for a hook nobody implements, cost ~200 bytes a connection.
   */
  override bindClientDisconnect(): void {
    // Nothing to bind: see the gateway's handleConnection.
  }
}
