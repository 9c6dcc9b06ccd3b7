import type { IncomingMessage } from 'node:http';

/** The client's address: the socket's peer, or the first X-Forwarded-For hop behind a trusted proxy. */
export function clientIpOf(request: IncomingMessage, trustProxy: boolean): string {
  const forwarded = request.headers['x-forwarded-for'];
  if (trustProxy && forwarded) {
    return (Array.isArray(forwarded) ? forwarded[0] : forwarded).split(',')[0].trim();
  }
  return request.socket.remoteAddress ?? 'unknown';
}

/**
 * A token given on the upgrade: `Authorization: Bearer <jwt>`, else `?token=<jwt>` (browsers
 * cannot set headers on a WebSocket). `hello.token` wins over both.
 */
export function upgradeToken(request: IncomingMessage): string | undefined {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
  if (bearer) return bearer[1];
  const query = request.url?.indexOf('?') ?? -1;
  if (query < 0) return undefined;
  return new URLSearchParams(request.url!.slice(query + 1)).get('token') || undefined;
}

/** The request URL fit for logs: a `token` query parameter is a credential and never logged. */
export function redactUrl(url: string | undefined): string {
  return (url ?? '').replace(/([?&]token=)[^&#]*/gi, '$1[redacted]');
}
