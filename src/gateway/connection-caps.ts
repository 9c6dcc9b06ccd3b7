import type { IncomingMessage } from 'node:http';
import { Injectable } from '@nestjs/common';
import type { Principal } from '../auth/auth.service.js';
import { AppConfig } from '../config/app-config.js';
import type { Connection } from './connection.js';
import { ConnectionRegistry } from './connection-registry.js';
import { clientIpOf } from './upgrade.js';

export interface UpgradeRefusal {
  status: 403 | 429;
  message: string;
}

/**
 * Who may open a socket on this node: the browser origin allowlist (ALLOWED_ORIGINS) and the
 * caps on open sockets per client address (MAX_CONNECTIONS_PER_IP, checked at the upgrade)
 * and on connections per token subject (MAX_CONNECTIONS_PER_SUBJECT, at the handshake).
 * Counts are per node.
 */
@Injectable()
export class ConnectionCaps {
  private readonly perIp = new Map<string, number>();
  private readonly bySubject = new Map<string, Set<Connection>>();

  constructor(
    private readonly config: AppConfig,
    private readonly registry: ConnectionRegistry,
  ) {}

  clientIp(request: IncomingMessage): string {
    return clientIpOf(request, this.config.TRUST_PROXY);
  }

  /** Why the upgrade is refused (HTTP status and text), or undefined to accept it. */
  refuseUpgrade(request: IncomingMessage): UpgradeRefusal | undefined {
    const allowed = this.config.allowedOrigins;
    // Only browsers send Origin; other clients can claim any origin, so they are not asked for one.
    const origin = request.headers.origin;
    if (allowed && origin !== undefined && !allowed.has(origin))
      return { status: 403, message: 'origin not allowed' };
    const max = this.config.MAX_CONNECTIONS_PER_IP;
    if (max > 0 && (this.perIp.get(this.clientIp(request)) ?? 0) >= max)
      return { status: 429, message: 'too many connections from this address' };
    return undefined;
  }

  /** Counts a socket accepted by the upgrade; `closed` uncounts it. */
  opened(conn: Connection): void {
    this.perIp.set(conn.clientIp, (this.perIp.get(conn.clientIp) ?? 0) + 1);
  }

  /**
   * Counts the handshaking connection against its token's subject; false when the subject is
   * at MAX_CONNECTIONS_PER_SUBJECT. The device's own older connection, which this one is
   * about to replace (4409), does not count. Anonymous clients are their device: one each.
   */
  admitSubject(conn: Connection, principal: Principal, deviceId: string): boolean {
    const max = this.config.MAX_CONNECTIONS_PER_SUBJECT;
    if (max === 0 || principal.anonymous) return true;
    const conns = this.bySubject.get(principal.subject) ?? new Set<Connection>();
    const older = this.registry.device(deviceId);
    if (conns.size - (older && conns.has(older) ? 1 : 0) >= max) return false;
    conns.add(conn);
    this.bySubject.set(principal.subject, conns);
    return true;
  }

  closed(conn: Connection): void {
    const ips = (this.perIp.get(conn.clientIp) ?? 1) - 1;
    if (ips > 0) this.perIp.set(conn.clientIp, ips);
    else this.perIp.delete(conn.clientIp);
    const subject = conn.principal?.subject;
    const conns = subject === undefined ? undefined : this.bySubject.get(subject);
    if (conns?.delete(conn) && conns.size === 0) this.bySubject.delete(subject!);
  }
}
