import { readFileSync } from 'node:fs';
import { Injectable } from '@nestjs/common';

/**
 * The console's files, by the name they are served under. A request names a key of this
 * table, never a path, so nothing else on disk can be reached whatever the URL holds.
 */
export const CONSOLE_FILES: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
};

/**
 * The page talks only to its own origin (the admin API and /ws) and runs only its own
 * script and style: no inline code, so injected markup could not run even if the page's
 * own escaping failed. `connect-src 'self'` covers ws: and wss: to the same host (CSP 3).
 * `img-src data:` is for the empty favicon, which spares a request that would only 404.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export interface ConsoleAsset {
  body: Buffer;
  contentType: string;
}

/**
 * The files of src/console/public, read once at start-up: a build that did not copy them
 * fails to start instead of answering 404 to the first operator who opens the page.
 */
@Injectable()
export class ConsoleAssets {
  private readonly assets = new Map<string, ConsoleAsset>();

  constructor() {
    const dir = new URL('./public/', import.meta.url);
    for (const [name, contentType] of Object.entries(CONSOLE_FILES))
      this.assets.set(name, { body: readFileSync(new URL(name, dir)), contentType });
  }

  get(name: string): ConsoleAsset | undefined {
    return this.assets.get(name);
  }
}
