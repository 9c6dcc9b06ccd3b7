/**
 * The two reference servers of the comparison, with Roomcast's fan-out semantics and nothing
 * else: a client joins one room, and what it publishes goes to every other member of that room.
 *
 * - `ws`: the plain `ws` package, the outgoing frame serialised once per broadcast and the
 *   same string written to every receiver: the ceiling of the Node stack.
 * - `socketio`: Socket.IO 4, websocket transport only, `socket.to(room).emit()`.
 *
 * Wire format of the ws server (JSON text frames):
 *   client → `{"t":"join","room":"R1"}`  server → `{"t":"joined"}`
 *   client → `{"t":"pub","d":<any>}`     others in the room → `{"t":"msg","d":<same>}`
 * Socket.IO: `emit('join', room, ack)`, `emit('pub', d)` → others get `'msg', d`.
 *
 * `GET /health` answers 200 on both, for the benchmark to wait on.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { Server as SocketIoServer } from 'socket.io';
import { WebSocket, WebSocketServer } from 'ws';

export type ReferenceKind = 'ws' | 'socketio';

export interface RunningServer {
  port: number;
  close(): Promise<void>;
}

function health(req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(req.url === '/health' ? 200 : 404).end();
}

export async function startWsServer(port = 0, host = '127.0.0.1'): Promise<RunningServer> {
  const http = createServer(health);
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false, clientTracking: false });
  const rooms = new Map<string, Set<WebSocket>>();
  wss.on('connection', (ws) => {
    let members: Set<WebSocket> | undefined;
    ws.on('message', (raw) => {
      let frame: { t?: unknown; room?: unknown; d?: unknown };
      try {
        frame = JSON.parse(raw.toString()) as typeof frame;
      } catch {
        return;
      }
      if (frame.t === 'join' && typeof frame.room === 'string' && !members) {
        members = rooms.get(frame.room) ?? new Set();
        rooms.set(frame.room, members);
        members.add(ws);
        ws.send('{"t":"joined"}');
      } else if (frame.t === 'pub' && members) {
        const out = JSON.stringify({ t: 'msg', d: frame.d });
        for (const other of members) if (other !== ws && other.readyState === WebSocket.OPEN) other.send(out);
      }
    });
    ws.on('close', () => members?.delete(ws));
  });
  http.listen(port, host);
  await once(http, 'listening');
  return {
    port: (http.address() as { port: number }).port,
    close: async () => {
      http.closeAllConnections();
      await new Promise<void>((resolve) => wss.close(() => http.close(() => resolve())));
    },
  };
}

export async function startSocketIoServer(port = 0, host = '127.0.0.1'): Promise<RunningServer> {
  const http = createServer();
  const io = new SocketIoServer(http, {
    transports: ['websocket'],
    perMessageDeflate: false,
    serveClient: false,
  });
  // Socket.IO answers its own path; every other request is ours.
  http.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (!req.url?.startsWith('/socket.io/')) health(req, res);
  });
  io.on('connection', (socket) => {
    let room: string | undefined;
    socket.on('join', (name: unknown, ack?: unknown) => {
      if (typeof name !== 'string' || room) return;
      room = name;
      void socket.join(name);
      if (typeof ack === 'function') ack();
    });
    socket.on('pub', (d: unknown) => {
      if (room) socket.to(room).emit('msg', d);
    });
  });
  http.listen(port, host);
  await once(http, 'listening');
  return {
    port: (http.address() as { port: number }).port,
    close: () => new Promise<void>((resolve) => void io.close(() => resolve())),
  };
}
