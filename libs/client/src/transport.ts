/**
 * The small part of the WebSocket API the client uses. Both the browser's `WebSocket` and the
 * `ws` package implement it, so the client runs unchanged in browsers and in Node.
 */
export interface WebSocketLike {
  readonly readyState: number;
  binaryType: string;
  send(data: string | ArrayBufferView | ArrayBuffer): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (event: { code: number; reason: string }) => void): void;
  addEventListener(type: 'error', listener: (event: { message?: string; error?: unknown }) => void): void;
}

/**
 * A WebSocket constructor. The third argument is only passed to the `ws` package (headers and
 * other Node-only options); browsers ignore it.
 */
export type WebSocketConstructor = new (
  url: string,
  protocols?: string | string[],
  options?: Record<string, unknown>,
) => WebSocketLike;

export const OPEN = 1;

/** The `ws` package, loaded only when needed so that browser bundles can leave it out. */
export async function loadNodeWebSocket(): Promise<WebSocketConstructor> {
  // A computed specifier keeps bundlers (webpack, Vite, esbuild) from following the import into
  // `ws`, which is only reached in runtimes without a global WebSocket.
  const specifier = 'ws';
  const mod = (await import(/* webpackIgnore: true */ /* @vite-ignore */ specifier)) as {
    WebSocket?: WebSocketConstructor;
    default?: WebSocketConstructor;
  };
  const ctor = mod.WebSocket ?? mod.default;
  if (!ctor) throw new Error('the "ws" package does not export a WebSocket class');
  return ctor;
}

/**
 * The runtime's WebSocket (browsers, Deno, Node ≥ 22), else the `ws` package. Node-only
 * connection options (`headers`) need `ws`, so they select it even where a global exists.
 */
export async function resolveWebSocket(
  explicit: WebSocketConstructor | undefined,
  needsNodeOptions: boolean,
): Promise<WebSocketConstructor> {
  if (explicit) return explicit;
  const native = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (native && !needsNodeOptions) return native;
  return loadNodeWebSocket();
}

/** Binary payloads arrive as ArrayBuffer (binaryType 'arraybuffer'); a Node Buffer is a view. */
export function toBytes(data: unknown): Uint8Array | undefined {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return undefined;
}
