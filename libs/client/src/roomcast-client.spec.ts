import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket as NodeWebSocket, WebSocketServer, type RawData } from 'ws';
import type { MessagePayload } from '#protocol';
import { RoomcastConnectError, RoomcastRequestError, RoomcastWaitError } from './errors.js';
import { RoomcastClient } from './roomcast-client.js';
import type { WebSocketConstructor } from './transport.js';

/** A tiny scripted server: each test decides what the "server" answers. */
interface Peer {
  socket: NodeWebSocket;
  /** Frames received from the client, parsed (binary frames as Buffer). */
  frames: unknown[];
  next(): Promise<Record<string, unknown>>;
  send(frame: unknown): void;
  headers: Record<string, string | string[] | undefined>;
}

const servers: WebSocketServer[] = [];
const clients: RoomcastClient[] = [];

async function startServer(onPeer: (peer: Peer) => void = () => undefined): Promise<string> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  servers.push(wss);
  wss.on('connection', (socket, req) => {
    const frames: unknown[] = [];
    const waiting: Array<(f: Record<string, unknown>) => void> = [];
    const queued: Record<string, unknown>[] = [];
    socket.on('message', (data: RawData, isBinary) => {
      if (isBinary) return void frames.push(data);
      const text = data.toString();
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(text) as Record<string, unknown>;
      } catch {
        parsed = { raw: text };
      }
      frames.push(parsed);
      const w = waiting.shift();
      if (w) w(parsed);
      else queued.push(parsed);
    });
    onPeer({
      socket,
      frames,
      headers: req.headers,
      next: () => (queued.length ? Promise.resolve(queued.shift()!) : new Promise((r) => waiting.push(r))),
      send: (frame) => socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
    });
  });
  await once(wss, 'listening');
  return `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/ws`;
}

const track = <T extends { client: RoomcastClient }>(r: T): T => (clients.push(r.client), r);

/** Answers a hello the way the contract orders it, with optional replay and offline items. */
function handshakeServer(
  extra: { replay?: unknown[]; offline?: unknown[]; after?: unknown[] } = {},
  onPeer?: (peer: Peer) => void,
) {
  return startServer(async (peer) => {
    onPeer?.(peer);
    const hello = await peer.next();
    const data = (hello.data ?? hello) as { device_id: string; identity: string; room_id?: string };
    peer.send({
      type: 'connection',
      id: hello.id,
      data: {
        session_id: 's1',
        device_id: data.device_id,
        identity: data.identity,
        node_id: 'n1',
        heartbeat_ms: 30000,
        server_time: Date.now(),
      },
    });
    peer.send({
      type: 'room',
      data: { room_id: data.room_id ?? 'ROOM0001', created: true, total_clients: 1 },
    });
    for (const f of extra.replay ?? []) peer.send(f);
    for (const f of extra.offline ?? []) peer.send(f);
    peer.send({ type: 'offline_done', data: { count: (extra.offline ?? []).length } });
    for (const f of extra.after ?? []) peer.send(f);
  });
}

const roomMessage = (seq: number, room_id = 'ROOM0001'): MessagePayload => ({
  message_id: `m${seq}`,
  room_id,
  from: { device_id: 'other', identity: 'o' },
  seq,
  ts: 1,
  kind: 'text',
  content: `hello ${seq}`,
});

const hello = { device_id: 'dev1', identity: 'ann' };

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const s of servers.splice(0)) {
    for (const ws of s.clients) ws.terminate();
    await new Promise((r) => s.close(r));
  }
});

describe('RoomcastClient.connect (handshake)', () => {
  it('sends hello with an id and resolves on offline_done with the answer in contract order', async () => {
    let server: Peer | undefined;
    const url = await handshakeServer(
      {
        replay: [
          { type: 'message', data: roomMessage(4, 'ROOMAAAA') },
          { type: 'message', data: roomMessage(5, 'ROOMAAAA') },
          { type: 'resumed', data: { room_id: 'ROOMAAAA', from_seq: 4, to_seq: 5, complete: true } },
        ],
        offline: [
          {
            type: 'message',
            data: { ...roomMessage(0), room_id: undefined, seq: undefined, to_device_id: 'dev1' },
          },
          { type: 'system', data: { kind: 'announcement', payload: { text: 'hi' }, ts: 2 } },
        ],
        after: [{ type: 'message', data: roomMessage(6, 'ROOMAAAA') }],
      },
      (peer) => (server = peer),
    );
    const { client, handshake } = track(
      await RoomcastClient.connect(url, { ...hello, resume: { ROOMAAAA: 3 } }, { id: 'h1' }),
    );

    expect(server?.frames[0]).toEqual({
      type: 'hello',
      id: 'h1',
      data: { ...hello, resume: { ROOMAAAA: 3 } },
    });
    expect(handshake.connection).toMatchObject({ session_id: 's1', device_id: 'dev1', identity: 'ann' });
    expect(handshake.room).toEqual({ room_id: 'ROOM0001', created: true, total_clients: 1 });
    expect(handshake.replayed.map((m) => m.seq)).toEqual([4, 5]);
    expect(handshake.resumed).toEqual([{ room_id: 'ROOMAAAA', from_seq: 4, to_seq: 5, complete: true }]);
    expect(handshake.offline.map((i) => i.type)).toEqual(['message', 'system']);
    expect(handshake.offlineCount).toBe(2);
    expect(handshake.received).toEqual([
      'connection',
      'room',
      'message',
      'message',
      'resumed',
      'message',
      'system',
      'offline_done',
    ]);
    expect(client.session?.session_id).toBe('s1');
    expect(client.room?.room_id).toBe('ROOM0001');
    // Handshake events are in the result, not in the mailbox: the next message is the live one.
    await expect(client.waitFor('message')).resolves.toMatchObject({ seq: 6 });
    expect(client.lastSeq('ROOMAAAA')).toBe(6);
  });

  it('generates a hello id when none is given', async () => {
    let server: Peer | undefined;
    const url = await handshakeServer({}, (peer) => (server = peer));
    track(await RoomcastClient.connect(url, hello));
    const { id } = server!.frames[0] as { id: unknown };
    expect(typeof id).toBe('string');
    expect((id as string).length).toBeLessThanOrEqual(64);
  });

  it('sends the legacy room-manager first frame on request', async () => {
    let server: Peer | undefined;
    const url = await handshakeServer({}, (peer) => (server = peer));
    const { handshake } = track(
      await RoomcastClient.connect(url, { ...hello, room_id: 'ABCD1234' }, { legacy: true }),
    );
    expect(server?.frames[0]).toEqual({ ...hello, room_id: 'ABCD1234' });
    expect(handshake.room.room_id).toBe('ABCD1234');
  });

  it('rejects with the error code and the close code when the server refuses the hello', async () => {
    const url = await startServer(async (peer) => {
      const h = await peer.next();
      peer.send({ type: 'error', id: h.id, error: { code: 'UNAUTHORIZED', message: 'bad token' } });
      peer.socket.close(4401, 'unauthorized');
    });
    const err = await RoomcastClient.connect(url, hello).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RoomcastConnectError);
    expect(err).toMatchObject({ closeCode: 4401, code: 'UNAUTHORIZED' });
  });

  it('rejects when the server closes during the handshake', async () => {
    const url = await startServer(async (peer) => {
      await peer.next();
      peer.socket.close(4400, 'bad handshake');
    });
    await expect(RoomcastClient.connect(url, hello)).rejects.toMatchObject({ closeCode: 4400 });
  });

  it('rejects on a handshake out of contract order', async () => {
    const url = await startServer(async (peer) => {
      const h = await peer.next();
      peer.send({ type: 'room', data: { room_id: 'ROOM0001', created: true, total_clients: 1 } });
      peer.send({ type: 'connection', id: h.id, data: {} });
    });
    await expect(RoomcastClient.connect(url, hello)).rejects.toThrow(/room before connection/);
  });

  it('rejects a connection event that does not carry the hello id', async () => {
    const url = await startServer(async (peer) => {
      await peer.next();
      peer.send({ type: 'connection', id: 'other', data: {} });
    });
    await expect(RoomcastClient.connect(url, hello, { id: 'h9' })).rejects.toThrow(/not the hello's h9/);
  });

  it('times out when offline_done never comes', async () => {
    const url = await startServer(async (peer) => {
      const h = await peer.next();
      peer.send({ type: 'connection', id: h.id, data: {} });
    });
    await expect(RoomcastClient.connect(url, hello, { handshakeTimeoutMs: 100 })).rejects.toThrow(
      /no offline_done within 100 ms \(received: connection\)/,
    );
  });

  it('rejects when nothing listens', async () => {
    const url = await startServer();
    const s = servers.pop()!;
    await new Promise((r) => s.close(r));
    await expect(RoomcastClient.connect(url, hello)).rejects.toBeInstanceOf(RoomcastConnectError);
  });

  it('sends custom upgrade headers (Node)', async () => {
    let headers: Peer['headers'] = {};
    const url = await handshakeServer({}, (peer) => (headers = peer.headers));
    track(await RoomcastClient.connect(url, hello, { headers: { 'x-forwarded-for': '203.0.113.9' } }));
    expect(headers['x-forwarded-for']).toBe('203.0.113.9');
  });

  it('uses globalThis.WebSocket when the runtime has one', async () => {
    const created: string[] = [];
    class Spy extends NodeWebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols);
        created.push(url);
      }
    }
    vi.stubGlobal('WebSocket', Spy);
    try {
      const url = await handshakeServer();
      track(await RoomcastClient.connect(url, hello));
      expect(created).toEqual([url]);
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('accepts an explicit WebSocket implementation', async () => {
    let used = false;
    class Impl extends NodeWebSocket {
      constructor(url: string) {
        super(url);
        used = true;
      }
    }
    const url = await handshakeServer();
    track(await RoomcastClient.connect(url, hello, { WebSocket: Impl as unknown as WebSocketConstructor }));
    expect(used).toBe(true);
  });
});

/** A connected client and the server side of its socket. */
async function connected(options: Parameters<typeof RoomcastClient.connect>[2] = {}) {
  let resolvePeer!: (p: Peer) => void;
  const peerP = new Promise<Peer>((r) => (resolvePeer = r));
  const url = await handshakeServer({}, resolvePeer);
  const { client } = track(await RoomcastClient.connect(url, hello, options));
  return { client, peer: await peerP };
}

describe('requests', () => {
  it('resolves with the ack data of its id, generating unique ids', async () => {
    const { client, peer } = await connected();
    const a = client.request('room.join', { room_id: 'ROOMBBBB' });
    const b = client.request('room.leave', { room_id: 'ROOMCCCC' });
    const fa = await peer.next();
    const fb = await peer.next();
    expect(fa).toMatchObject({ type: 'room.join', data: { room_id: 'ROOMBBBB' } });
    expect(fa.id).not.toEqual(fb.id);
    // answered out of order
    peer.send({ type: 'ack', id: fb.id, data: { room_id: 'ROOMCCCC' } });
    peer.send({ type: 'ack', id: fa.id, data: { room_id: 'ROOMBBBB', total_clients: 2, last_seq: 7 } });
    await expect(a).resolves.toEqual({ room_id: 'ROOMBBBB', total_clients: 2, last_seq: 7 });
    await expect(b).resolves.toEqual({ room_id: 'ROOMCCCC' });
    expect(client.drain()).toEqual([]); // acks that settled requests are not events
  });

  it('uses the given id, and settles requests sharing an id in order', async () => {
    const { client, peer } = await connected();
    const data = { room_id: 'ROOM0001', kind: 'text' as const, content: 'x' };
    const first = client.request('message.send', data, { id: 'same' });
    const second = client.request('message.send', data, { id: 'same' });
    expect((await peer.next()).id).toBe('same');
    expect((await peer.next()).id).toBe('same');
    peer.send({ type: 'ack', id: 'same', data: { message_id: 'm1', seq: 1, ts: 1 } });
    peer.send({ type: 'ack', id: 'same', data: { message_id: 'm1', seq: 1, ts: 1 } });
    await expect(first).resolves.toEqual({ message_id: 'm1', seq: 1, ts: 1 });
    await expect(second).resolves.toEqual({ message_id: 'm1', seq: 1, ts: 1 });
  });

  it('rejects with RoomcastRequestError on an error frame with its id', async () => {
    const { client, peer } = await connected();
    const p = client.request(
      'message.send',
      { room_id: 'ROOM0001', kind: 'text', content: 'x' },
      { id: 'r1' },
    );
    await peer.next();
    peer.send({
      type: 'error',
      id: 'r1',
      error: { code: 'RATE_LIMITED', message: 'slow down', retry_after_ms: 250 },
    });
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RoomcastRequestError);
    expect(err).toMatchObject({
      code: 'RATE_LIMITED',
      message: 'slow down',
      retryAfterMs: 250,
      requestId: 'r1',
      requestType: 'message.send',
    });
  });

  it('rejects with TIMEOUT when unanswered, and with CLOSED when the socket closes', async () => {
    const { client, peer } = await connected();
    await expect(
      client.request('room.join', { room_id: 'ROOMBBBB' }, { timeoutMs: 50 }),
    ).rejects.toMatchObject({
      code: 'TIMEOUT',
    });
    const pending = client.request('room.join', { room_id: 'ROOMBBBB' });
    await peer.next();
    await peer.next();
    peer.socket.close(1001, 'going away');
    await expect(pending).rejects.toMatchObject({ code: 'CLOSED' });
    await expect(client.request('room.join', { room_id: 'X' })).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('resolves query_room with the room_info event carrying its id', async () => {
    const { client, peer } = await connected();
    const p = client.request('query_room', {});
    const f = await peer.next();
    const info = { room_id: 'ROOM0001', total_clients: 1, clients: [{ device_id: 'dev1', identity: 'ann' }] };
    peer.send({ type: 'room_info', data: { ...info, total_clients: 9 } }); // no id: an ordinary event
    peer.send({ type: 'room_info', id: f.id, data: info });
    await expect(p).resolves.toEqual(info);
    await expect(client.waitFor('room_info')).resolves.toMatchObject({ total_clients: 9 });
  });

  it('rawRequest covers request types the protocol library does not type', async () => {
    const { client, peer } = await connected();
    const p = client.rawRequest<{ messages: unknown[] }>('history', { room_id: 'ROOM0001', limit: 10 });
    const f = await peer.next();
    expect(f).toMatchObject({ type: 'history', data: { limit: 10 } });
    peer.send({ type: 'ack', id: f.id, data: { messages: [], next_cursor: null } });
    await expect(p).resolves.toEqual({ messages: [], next_cursor: null });
  });

  it('ping resolves with the pong event', async () => {
    const { client, peer } = await connected();
    const p = client.ping();
    expect(await peer.next()).toEqual({ type: 'ping' });
    peer.send({ type: 'pong', data: { ts: 42 } });
    await expect(p).resolves.toEqual({ ts: 42 });
  });
});

describe('events', () => {
  it('waitFor finds an event that arrived before the call, and consumes each event once', async () => {
    const { client, peer } = await connected();
    peer.send({ type: 'message', data: roomMessage(1) });
    peer.send({ type: 'message', data: roomMessage(2) });
    peer.send({ type: 'presence.join', data: { room_id: 'ROOM0001', device_id: 'd2', identity: 'bob' } });
    await client.waitFor('presence.join');
    await expect(client.waitFor('message')).resolves.toMatchObject({ seq: 1 });
    await expect(client.waitFor('message')).resolves.toMatchObject({ seq: 2 });
    const later = client.waitFor('message', (m) => m.content === 'hello 9');
    peer.send({ type: 'message', data: roomMessage(8) });
    peer.send({ type: 'message', data: roomMessage(9) });
    await expect(later).resolves.toMatchObject({ seq: 9 });
    expect(client.drain('message').map((e) => e.data.seq)).toEqual([8]);
  });

  it('waitFor times out naming what did arrive, and fails at once after a close', async () => {
    const { client, peer } = await connected();
    peer.send({ type: 'pong', data: { ts: 1 } });
    await new Promise((r) => setTimeout(r, 20));
    const err = await client.waitFor('message', undefined, 50).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RoomcastWaitError);
    expect((err as Error).message).toMatch(/timed out after 50 ms \(unconsumed: 1 pong\)/);
    const waiting = client.waitFor('message', undefined, 10_000);
    peer.socket.close(4409, 'replaced');
    await expect(waiting).rejects.toMatchObject({ reason: 'closed' });
    await expect(client.closed).resolves.toEqual({ code: 4409, reason: 'replaced' });
    await expect(client.waitFor('pong')).resolves.toEqual({ ts: 1 }); // still buffered
    await expect(client.waitFor('pong')).rejects.toThrow(/closed with 4409/);
  });

  it('collect gathers several events, and gives them back when it fails', async () => {
    const { client, peer } = await connected();
    for (const seq of [1, 2, 3]) peer.send({ type: 'message', data: roomMessage(seq) });
    await expect(client.collect('message', 2)).resolves.toMatchObject([{ seq: 1 }, { seq: 2 }]);
    await expect(client.collect('message', 2, undefined, 50)).rejects.toBeInstanceOf(RoomcastWaitError);
    await expect(client.waitFor('message')).resolves.toMatchObject({ seq: 3 });
  });

  it('on/once handlers receive typed events and unsubscribe', async () => {
    const { client, peer } = await connected();
    const seen: number[] = [];
    const onceSeen: number[] = [];
    const off = client.on('message', (m, ev) => {
      expect(ev.type).toBe('message');
      seen.push(m.seq!);
    });
    client.once('message', (m) => onceSeen.push(m.seq!));
    peer.send({ type: 'message', data: roomMessage(1) });
    await client.waitFor('message');
    off();
    peer.send({ type: 'message', data: roomMessage(2) });
    await client.waitFor('message');
    expect(seen).toEqual([1]);
    expect(onceSeen).toEqual([1]);
  });

  it('a throwing handler does not break delivery', async () => {
    const onHandlerError = vi.fn();
    const { client, peer } = await connected({ onHandlerError });
    client.on('message', () => {
      throw new Error('boom');
    });
    peer.send({ type: 'message', data: roomMessage(1) });
    await expect(client.waitFor('message')).resolves.toMatchObject({ seq: 1 });
    expect(onHandlerError).toHaveBeenCalledWith(expect.any(Error), 'message');
  });

  it('survives frames that are not a known envelope', async () => {
    const onInvalidFrame = vi.fn();
    const { client, peer } = await connected({ onInvalidFrame });
    peer.send('not json {');
    peer.send('[1,2]');
    peer.send('42');
    peer.send('null');
    peer.send({ device_id: 'x', payload: 1 }); // typeless relay (room-manager compatibility)
    peer.send({ type: 'text', content: 'hi' }); // the room-manager chat frame
    peer.send({ type: 'message' }); // known type without data
    peer.send({ type: 'error', error: 'nope' }); // malformed error
    peer.send({ type: 'ack', id: 'nobody', data: { ok: true } }); // ack nobody waits for
    peer.send({ type: 'error', id: 'x1', error: { code: 'BAD_REQUEST', message: 'bad' } });
    peer.send({ type: 'pong', data: { ts: 1 } });
    await client.waitFor('pong');
    expect(onInvalidFrame.mock.calls.map((c) => c[1])).toEqual([
      'not JSON',
      'not a JSON object',
      'not a JSON object',
      'not a JSON object',
    ]);
    expect(client.drain('relay').map((e) => e.data)).toEqual([
      { device_id: 'x', payload: 1 },
      { type: 'text', content: 'hi' },
      { type: 'message' },
      { type: 'error', error: 'nope' },
    ]);
    expect(client.drain('ack')).toMatchObject([{ id: 'nobody', data: { ok: true } }]);
    await expect(client.waitFor('error', (_e, ev) => ev.id === 'x1')).resolves.toEqual({
      code: 'BAD_REQUEST',
      message: 'bad',
    });
    expect(client.isOpen).toBe(true);
  });

  it('sends raw frames and text verbatim', async () => {
    const { client, peer } = await connected();
    client.send({ type: 'typing', data: { room_id: 'ROOM0001', state: 'start' } });
    client.send('{"broken"');
    expect(await peer.next()).toEqual({ type: 'typing', data: { room_id: 'ROOM0001', state: 'start' } });
    expect(await peer.next()).toEqual({ raw: '{"broken"' });
  });

  it('sends and receives binary frames', async () => {
    const { client, peer } = await connected();
    peer.socket.on('message', (data, isBinary) => {
      if (isBinary) peer.socket.send(data as Buffer, { binary: true });
    });
    client.sendBinary(new Uint8Array([1, 2, 3, 250]));
    const got = await client.waitFor('binary');
    expect(got).toBeInstanceOf(Uint8Array);
    expect([...got]).toEqual([1, 2, 3, 250]);
  });

  it('close() closes with the code and resolves closed; send afterwards throws', async () => {
    const { client, peer } = await connected();
    const serverSide = once(peer.socket, 'close');
    await expect(client.close(4000, 'bye')).resolves.toMatchObject({ code: 4000, reason: 'bye' });
    const [code] = await serverSide;
    expect(code).toBe(4000);
    expect(client.isOpen).toBe(false);
    expect(() => client.send({ type: 'ping' })).toThrow(/not open/);
    await expect(client.close()).resolves.toMatchObject({ code: 4000 });
  });
});
