/**
 * One simulated client of each server kind, behind one interface: join a room at connect,
 * publish a payload to the room's other members, hear theirs. Roomcast clients use the SDK
 * (libs/client); the reference servers' clients use `ws` and `socket.io-client`.
 */
import { RoomcastClient, type WebSocketConstructor } from '#client';
import { io, type Socket } from 'socket.io-client';
import { WebSocket } from 'ws';

export type ServerKind = 'ws' | 'socketio' | 'roomcast';

/** What every published message carries: sender's index in its room, its counter, send time, step. */
export interface Payload {
  s: number;
  n: number;
  /** Send time, ms since the epoch with sub-ms precision (performance.timeOrigin + now()). */
  t: number;
  k: number;
}

export interface BenchClient {
  /** Resolves when the server has taken the message (Roomcast: its ack); rejects on a refusal. */
  publish(payload: Payload, id: string): Promise<unknown>;
  close(): void;
}

export interface ClientOptions {
  kind: ServerKind;
  url: string;
  room: string;
  deviceId: string;
  /** Source address of the TCP connection (127.0.0.x). */
  localAddress: string;
  timeoutMs: number;
  onPayload(payload: Payload): void;
}

export const now = () => performance.timeOrigin + performance.now();

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: timed out`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function connectWs(o: ClientOptions): Promise<BenchClient> {
  const ws = new WebSocket(o.url, { perMessageDeflate: false, localAddress: o.localAddress });
  const joined = new Promise<void>((resolve, reject) => {
    ws.once('open', () => ws.send(JSON.stringify({ t: 'join', room: o.room })));
    ws.once('error', reject);
    ws.once('close', (code) => reject(new Error(`closed ${code}`)));
    ws.on('message', (raw) => {
      const frame = JSON.parse(raw.toString()) as { t: string; d?: Payload };
      if (frame.t === 'msg') o.onPayload(frame.d!);
      else if (frame.t === 'joined') resolve();
    });
  });
  await withTimeout(joined, o.timeoutMs, 'join').catch((err: Error) => {
    ws.terminate();
    throw err;
  });
  ws.removeAllListeners('error');
  ws.on('error', () => undefined);
  return {
    publish: async (d) => ws.send(JSON.stringify({ t: 'pub', d })),
    close: () => ws.close(),
  };
}

async function connectSocketIo(o: ClientOptions): Promise<BenchClient> {
  const socket: Socket = io(o.url, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    timeout: o.timeoutMs,
    // Passed on to `ws` by engine.io-client; not in its option types.
    ...({ localAddress: o.localAddress } as object),
  });
  socket.on('msg', (d: Payload) => o.onPayload(d));
  const joined = new Promise<void>((resolve, reject) => {
    socket.once('connect', () => socket.emit('join', o.room, () => resolve()));
    socket.once('connect_error', reject);
  });
  await withTimeout(joined, o.timeoutMs, 'join').catch((err: Error) => {
    socket.disconnect();
    throw err;
  });
  return {
    publish: async (d) => void socket.emit('pub', d),
    close: () => void socket.disconnect(),
  };
}

/** The `ws` package with a fixed source address, for the SDK's `WebSocket` option. */
function wsFrom(localAddress: string): WebSocketConstructor {
  return class extends WebSocket {
    constructor(url: string, protocols?: string | string[], options?: Record<string, unknown>) {
      super(url, protocols, { ...options, perMessageDeflate: false, localAddress });
    }
  } as unknown as WebSocketConstructor;
}

async function connectRoomcast(o: ClientOptions): Promise<BenchClient> {
  const { client } = await RoomcastClient.connect(
    o.url,
    { device_id: o.deviceId, identity: 'bench', room_id: o.room },
    {
      WebSocket: wsFrom(o.localAddress),
      // Events go to the handler only: nothing waits on the mailbox.
      bufferSize: 0,
      connectTimeoutMs: o.timeoutMs,
      handshakeTimeoutMs: o.timeoutMs,
      requestTimeoutMs: o.timeoutMs,
    },
  );
  client.on('message', (m) => o.onPayload(m.content as Payload));
  return {
    publish: (content, id) =>
      client.request('message.send', { room_id: o.room, kind: 'custom', content }, { id }),
    close: () => void client.close(),
  };
}

export function connectClient(o: ClientOptions): Promise<BenchClient> {
  if (o.kind === 'ws') return connectWs(o);
  if (o.kind === 'socketio') return connectSocketIo(o);
  return connectRoomcast(o);
}
