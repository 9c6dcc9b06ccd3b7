import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type RawData, type WebSocket as NodeWebSocket } from 'ws';
import type { MessagePayload } from '#protocol';
import { backoffCap, backoffDelay, defaultShouldReconnect } from './backoff.js';
import { RoomcastRequestError } from './errors.js';
import {
  ReconnectingClient,
  type LifecycleEventMap,
  type ReconnectingClientOptions,
  type ReconnectingHello,
} from './reconnecting-client.js';

/** The server side of one socket, scripted by the test. */
interface Peer {
  socket: NodeWebSocket;
  next(timeoutMs?: number): Promise<Record<string, unknown>>;
  send(frame: unknown): void;
  /** Frames received and not yet taken with next(). */
  queued: Record<string, unknown>[];
}

interface FakeServer {
  url: string;
  /** The next connection (in arrival order). */
  nextPeer(timeoutMs?: number): Promise<Peer>;
  connections: number;
  close(): Promise<void>;
}

const servers: WebSocketServer[] = [];
const clients: ReconnectingClient[] = [];

async function fakeServer(): Promise<FakeServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  servers.push(wss);
  const peers: Peer[] = [];
  const waiting: Array<(p: Peer) => void> = [];
  const server = {
    url: '',
    connections: 0,
    nextPeer: (timeoutMs = 2000) =>
      peers.length
        ? Promise.resolve(peers.shift()!)
        : withTimeout(new Promise<Peer>((r) => waiting.push(r)), timeoutMs, 'no connection'),
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      await new Promise((r) => wss.close(r));
    },
  };
  wss.on('connection', (socket) => {
    server.connections++;
    const queued: Record<string, unknown>[] = [];
    const readers: Array<(f: Record<string, unknown>) => void> = [];
    socket.on('message', (data: RawData, isBinary) => {
      const frame = isBinary ? { binary: data } : (JSON.parse(data.toString()) as Record<string, unknown>);
      const r = readers.shift();
      if (r) r(frame);
      else queued.push(frame);
    });
    const peer: Peer = {
      socket,
      queued,
      next: (timeoutMs = 2000) =>
        queued.length
          ? Promise.resolve(queued.shift()!)
          : withTimeout(new Promise((r) => readers.push(r)), timeoutMs, 'no frame'),
      send: (frame) => socket.send(JSON.stringify(frame)),
    };
    const w = waiting.shift();
    if (w) w(peer);
    else peers.push(peer);
  });
  await once(wss, 'listening');
  server.url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/ws`;
  return server;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    p,
    new Promise<T>(
      (_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms)),
    ),
  ]).finally(() => clearTimeout(timer));
}

type HelloFrame = { type: string; id: string; data: Record<string, unknown> & { resume?: unknown } };

/** Reads the hello and answers it in contract order; `between` goes between `room` and `offline_done`. */
async function answerHello(
  peer: Peer,
  opts: { roomId?: string; between?: unknown[] } = {},
): Promise<HelloFrame> {
  const hello = (await peer.next()) as HelloFrame;
  expect(hello.type).toBe('hello');
  peer.send({
    type: 'connection',
    id: hello.id,
    data: {
      session_id: `s${Math.random()}`,
      device_id: hello.data.device_id,
      identity: hello.data.identity,
      node_id: 'n1',
      heartbeat_ms: 30000,
      server_time: Date.now(),
    },
  });
  const roomId = opts.roomId ?? (hello.data.room_id as string | undefined) ?? 'ROOM0001';
  peer.send({ type: 'room', data: { room_id: roomId, created: false, total_clients: 1 } });
  for (const f of opts.between ?? []) peer.send(f);
  peer.send({ type: 'offline_done', data: { count: 0 } });
  return hello;
}

const msg = (seq: number, room_id = 'ROOM0001'): { type: 'message'; data: MessagePayload } => ({
  type: 'message',
  data: {
    message_id: `${room_id}-${seq}`,
    room_id,
    from: { device_id: 'other', identity: 'o' },
    seq,
    ts: 1,
    kind: 'text',
    content: `m${seq}`,
  },
});
const dm = (id: string): { type: 'message'; data: MessagePayload } => ({
  type: 'message',
  data: {
    message_id: id,
    to_device_id: 'dev1',
    from: { device_id: 'x', identity: 'x' },
    ts: 1,
    kind: 'text',
    content: id,
  },
});

const hello: ReconnectingHello = { device_id: 'dev1', identity: 'ann', room_id: 'ROOM0001' };
/** Fast reconnects for tests. */
const fast: ReconnectingClientOptions = { initialDelayMs: 5, maxDelayMs: 20 };

function client(
  url: string | string[],
  options: ReconnectingClientOptions = {},
  h = hello,
): ReconnectingClient {
  const c = new ReconnectingClient(url, h, { ...fast, ...options });
  clients.push(c);
  return c;
}

/** Lifecycle events of one type, recorded as they come. */
function record<K extends keyof LifecycleEventMap>(c: ReconnectingClient, type: K): LifecycleEventMap[K][] {
  const seen: LifecycleEventMap[K][] = [];
  c.on(type, (d) => seen.push(d as LifecycleEventMap[K]));
  return seen;
}

/** Resolves with the next lifecycle event of `type`. */
const next = <K extends keyof LifecycleEventMap>(c: ReconnectingClient, type: K) =>
  new Promise<LifecycleEventMap[K]>((resolve) => c.once(type, (d) => resolve(d as LifecycleEventMap[K])));

/** A connected client and the server side of its first socket. */
async function connected(options: ReconnectingClientOptions = {}) {
  const server = await fakeServer();
  const c = client(server.url, options);
  const started = c.start();
  const peer = await server.nextPeer();
  await answerHello(peer);
  await started;
  return { server, c, peer };
}

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const s of servers.splice(0)) {
    for (const ws of s.clients) ws.terminate();
    await new Promise((r) => s.close(r));
  }
});

describe('backoff', () => {
  it('doubles the cap from initialDelayMs up to maxDelayMs, with full jitter below it', () => {
    const o = { initialDelayMs: 100, maxDelayMs: 1000 };
    expect([1, 2, 3, 4, 5, 6, 50].map((a) => backoffCap(a, o))).toEqual([
      100, 200, 400, 800, 1000, 1000, 1000,
    ]);
    expect(backoffDelay(3, o, () => 0)).toBe(0);
    expect(backoffDelay(3, o, () => 0.5)).toBe(200);
    expect(backoffDelay(3, o, () => 0.999999)).toBe(399);
    for (let attempt = 1; attempt < 10; attempt++) {
      const d = backoffDelay(attempt, o);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThan(backoffCap(attempt, o));
    }
  });

  it('reconnects by default after network loss, shutdown and timeouts, not after 4400/4401/4403/4409', () => {
    for (const code of [1000, 1001, 1006, 1009, 1011, 1013, 4408, 4429])
      expect(defaultShouldReconnect(code)).toBe(true);
    for (const code of [4400, 4401, 4403, 4409]) expect(defaultShouldReconnect(code)).toBe(false);
  });

  it('retries a refused connection on the jittered schedule, then gives up after maxAttempts', async () => {
    const server = await fakeServer();
    const url = server.url;
    await server.close(); // nothing listens: every attempt fails at once (1006)
    const randoms = [0.5, 0.99, 0.25, 0.75];
    const c = client(url, {
      initialDelayMs: 10,
      maxDelayMs: 30,
      maxAttempts: 4,
      random: () => randoms.shift() ?? 0,
    });
    const connecting = record(c, 'connecting');
    const reconnecting = record(c, 'reconnecting');
    const closed = record(c, 'closed');
    await expect(c.start()).rejects.toMatchObject({ closeCode: 1006 });
    expect(connecting.map((e) => e.attempt)).toEqual([0, 1, 2, 3, 4]);
    // caps 10, 20, 30 (max), 30; delay = floor(random × cap)
    expect(reconnecting.map((e) => [e.attempt, e.delayMs, e.code])).toEqual([
      [1, 5, 1006],
      [2, 19, 1006],
      [3, 7, 1006],
      [4, 22, 1006],
    ]);
    expect(closed).toHaveLength(1);
    expect(closed[0].code).toBe(1006);
    expect(c.state).toBe('closed');
  });
});

describe('close codes', () => {
  it('does not reconnect after 4409 (replaced) and rejects what was waiting', async () => {
    const { server, c, peer } = await connected();
    const pending = c.request('room.join', { room_id: 'ROOMBBBB' });
    await peer.next();
    const closed = next(c, 'closed');
    peer.socket.close(4409, 'replaced');
    expect(await closed).toMatchObject({ code: 4409, reason: 'replaced' });
    await expect(pending).rejects.toMatchObject({ code: 'CLOSED' });
    await expect(c.closed).resolves.toMatchObject({ code: 4409 });
    await new Promise((r) => setTimeout(r, 60));
    expect(server.connections).toBe(1);
    await expect(c.request('room.join', { room_id: 'X' })).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('rejects start() when the first handshake is refused with 4401', async () => {
    const server = await fakeServer();
    const c = client(server.url);
    const started = c.start();
    const peer = await server.nextPeer();
    const h = await peer.next();
    peer.send({ type: 'error', id: h.id, error: { code: 'UNAUTHORIZED', message: 'bad token' } });
    peer.socket.close(4401, 'unauthorized');
    await expect(started).rejects.toMatchObject({ closeCode: 4401, code: 'UNAUTHORIZED' });
    expect(c.state).toBe('closed');
    expect(server.connections).toBe(1);
  });

  it('reconnects after 1001 (server shutting down) and can be told otherwise', async () => {
    const { server, c, peer } = await connected();
    const reconnecting = next(c, 'reconnecting');
    peer.socket.close(1001, 'server shutting down');
    expect(await reconnecting).toMatchObject({ attempt: 1, code: 1001 });
    await answerHello(await server.nextPeer());
    await c.whenOpen();

    const { peer: p2, c: strict } = await connected({ shouldReconnect: () => false });
    const closed = next(strict, 'closed');
    p2.socket.close(1001, 'bye');
    expect(await closed).toMatchObject({ code: 1001 });
  });
});

describe('requests across reconnects', () => {
  it('resends unanswered requests with the same id, in order, before requests made while down', async () => {
    const { server, c, peer } = await connected();
    const data = (n: number) => ({ room_id: 'ROOM0001', kind: 'text' as const, content: `n${n}` });
    const p1 = c.request('message.send', data(1));
    const p2 = c.request('message.send', data(2));
    const p3 = c.request('message.send', data(3));
    const f1 = await peer.next();
    const f2 = await peer.next();
    const f3 = await peer.next();
    peer.send({ type: 'ack', id: f1.id, data: { message_id: 'a', seq: 1, ts: 1 } });
    await expect(p1).resolves.toMatchObject({ seq: 1 });

    const down = next(c, 'disconnected');
    peer.socket.terminate(); // a network drop: r2 and r3 got no answer
    expect(await down).toMatchObject({ code: 1006 });
    expect(c.isOpen).toBe(false);
    const p4 = c.request('message.send', data(4)); // made while down: queued

    const peer2 = await server.nextPeer();
    await answerHello(peer2);
    const resent = [await peer2.next(), await peer2.next(), await peer2.next()];
    expect(resent.map((f) => f.id)).toEqual([f2.id, f3.id, expect.any(String)]);
    expect(resent.map((f) => (f.data as { content: string }).content)).toEqual(['n2', 'n3', 'n4']);
    expect(resent[0]).toEqual(f2);
    expect(resent[2].id).not.toBe(f1.id);
    for (const [i, f] of resent.entries()) {
      peer2.send({ type: 'ack', id: f.id, data: { message_id: `m${i + 2}`, seq: i + 2, ts: 1 } });
    }
    await expect(Promise.all([p2, p3, p4])).resolves.toMatchObject([{ seq: 2 }, { seq: 3 }, { seq: 4 }]);
    expect(c.stats.resent).toBe(2);
    expect(c.stats.connects).toBe(2);
  });

  it('queues requests while down up to maxQueue, then rejects at once with QUEUE_FULL', async () => {
    const { c, peer } = await connected({ initialDelayMs: 60_000, maxDelayMs: 60_000, maxQueue: 2 });
    const down = next(c, 'reconnecting');
    peer.socket.terminate();
    await down;
    const a = c.request('room.join', { room_id: 'ROOMAAAA' });
    const b = c.request('room.join', { room_id: 'ROOMBBBB' });
    const err = await c.request('room.join', { room_id: 'ROOMCCCC' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RoomcastRequestError);
    expect(err).toMatchObject({ code: 'QUEUE_FULL' });
    await c.close();
    await expect(a).rejects.toMatchObject({ code: 'CLOSED' });
    await expect(b).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('sends what was requested before start() after the hello', async () => {
    const server = await fakeServer();
    const c = client(server.url);
    const p = c.request('query_room', {});
    void c.start();
    const peer = await server.nextPeer();
    await answerHello(peer);
    const q = await peer.next();
    expect(q).toMatchObject({ type: 'query_room', data: {} });
    peer.send({ type: 'room_info', id: q.id, data: { room_id: 'ROOM0001', total_clients: 1, clients: [] } });
    await expect(p).resolves.toMatchObject({ room_id: 'ROOM0001' });
  });

  it('retries UNAVAILABLE with the same id a bounded number of times; other errors reject at once', async () => {
    const { c, peer } = await connected({ retryUnavailable: 2, retryDelayMs: 2 });
    const unavailable = { code: 'UNAVAILABLE', message: 'queue down' };
    const p = c.request('message.send', { room_id: 'ROOM0001', kind: 'text', content: 'x' });
    const f = await peer.next();
    peer.send({ type: 'error', id: f.id, error: unavailable });
    expect(await peer.next()).toEqual(f);
    peer.send({ type: 'error', id: f.id, error: unavailable });
    expect(await peer.next()).toEqual(f);
    peer.send({ type: 'ack', id: f.id, data: { message_id: 'm', seq: 1, ts: 1 } });
    await expect(p).resolves.toMatchObject({ seq: 1 });

    const q = c.request('message.send', { room_id: 'ROOM0001', kind: 'text', content: 'y' });
    const g = await peer.next();
    for (let i = 0; i < 2; i++) {
      peer.send({ type: 'error', id: g.id, error: unavailable });
      expect((await peer.next()).id).toBe(g.id);
    }
    peer.send({ type: 'error', id: g.id, error: unavailable });
    await expect(q).rejects.toMatchObject({ code: 'UNAVAILABLE', requestId: g.id });

    const r = c.request('message.send', { room_id: 'ROOMZZZZ', kind: 'text', content: 'z' });
    const h = await peer.next();
    peer.send({ type: 'error', id: h.id, error: { code: 'FORBIDDEN', message: 'not a member' } });
    await expect(r).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(peer.next(50)).rejects.toThrow(/no frame/);
  });

  it('retries a send answered CONFLICT (the lost copy is still being processed) until the first ack', async () => {
    const { c, peer } = await connected({ retryDelayMs: 2 });
    const p = c.request('message.send', { room_id: 'ROOM0001', kind: 'text', content: 'x' });
    const f = await peer.next();
    peer.send({ type: 'error', id: f.id, error: { code: 'CONFLICT', message: 'in progress' } });
    expect((await peer.next()).id).toBe(f.id);
    peer.send({ type: 'ack', id: f.id, data: { message_id: 'm', seq: 7, ts: 1 } });
    await expect(p).resolves.toMatchObject({ seq: 7 });
    // CONFLICT on room.create means the id is taken: not retried.
    const q = c.request('room.create', { room_id: 'TAKEN' });
    const g = await peer.next();
    peer.send({ type: 'error', id: g.id, error: { code: 'CONFLICT', message: 'taken' } });
    await expect(q).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('after a 1009 close, drops the largest unanswered frame and resends the others', async () => {
    const { server, c, peer } = await connected();
    const small = c.request('message.send', { room_id: 'ROOM0001', kind: 'text', content: 'small' });
    const big = c.request('message.send', { room_id: 'ROOM0001', kind: 'text', content: 'x'.repeat(5000) });
    const fs = await peer.next();
    await peer.next();
    peer.socket.close(1009, 'too big');
    await expect(big).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    const peer2 = await server.nextPeer();
    await answerHello(peer2);
    expect(await peer2.next()).toEqual(fs);
    peer2.send({ type: 'ack', id: fs.id, data: { message_id: 'm', seq: 1, ts: 1 } });
    await expect(small).resolves.toMatchObject({ seq: 1 });
    await expect(peer2.next(50)).rejects.toThrow(/no frame/);
  });

  it('send() resends too and reports the answer as an ack event; typing is written once', async () => {
    const { server, c, peer } = await connected();
    const id = c.send('message.send', { room_id: 'ROOM0001', kind: 'text', content: 'x' });
    expect((await peer.next()).id).toBe(id);
    peer.socket.terminate();
    const peer2 = await server.nextPeer();
    await answerHello(peer2);
    expect((await peer2.next()).id).toBe(id);
    peer2.send({ type: 'ack', id, data: { message_id: 'm', seq: 1, ts: 1 } });
    await expect(c.waitFor('ack', (_d, e) => e.id === id)).resolves.toMatchObject({ seq: 1 });
    c.send('typing', { room_id: 'ROOM0001', state: 'start' });
    expect(await peer2.next()).toMatchObject({ type: 'typing' });
  });
});

describe('handshake on reconnect', () => {
  it('sends the same device and room, a fresh token, resume for every room seen, then re-joins', async () => {
    const server = await fakeServer();
    const tokens: Array<{ attempt: number; closeCode?: number }> = [];
    const c = client(server.url, {
      token: (info) => {
        tokens.push(info);
        return `token-${tokens.length}`;
      },
    });
    const started = c.start();
    const peer = await server.nextPeer();
    const hello1 = await answerHello(peer);
    await started;
    expect(hello1.data).toEqual({
      device_id: 'dev1',
      identity: 'ann',
      room_id: 'ROOM0001',
      token: 'token-1',
    });

    for (const seq of [1, 2, 3]) peer.send(msg(seq));
    const join = c.request('room.join', { room_id: 'ROOMBBBB' });
    const j = await peer.next();
    peer.send({ type: 'ack', id: j.id, data: { room_id: 'ROOMBBBB', total_clients: 2, last_seq: 10 } });
    await join;
    for (const seq of [11, 12]) peer.send(msg(seq, 'ROOMBBBB'));
    await c.collect('message', 5);
    expect(c.rooms).toEqual(['ROOM0001', 'ROOMBBBB']);
    expect(c.resumeMap()).toEqual({ ROOM0001: 3, ROOMBBBB: 12 });

    peer.socket.terminate();
    const peer2 = await server.nextPeer();
    const hello2 = await answerHello(peer2);
    expect(hello2.data).toEqual({
      device_id: 'dev1',
      identity: 'ann',
      room_id: 'ROOM0001',
      token: 'token-2',
      resume: { ROOM0001: 3, ROOMBBBB: 12 },
    });
    expect(tokens).toEqual([{ attempt: 0 }, { attempt: 1, closeCode: 1006 }]);
    const rejoin = await peer2.next();
    expect(rejoin).toMatchObject({ type: 'room.join', data: { room_id: 'ROOMBBBB' } });
    peer2.send({ type: 'ack', id: rejoin.id, data: { room_id: 'ROOMBBBB', total_clients: 2, last_seq: 12 } });
    await c.whenOpen();
    peer2.send(msg(13, 'ROOMBBBB'));
    await expect(c.waitFor('message')).resolves.toMatchObject({ room_id: 'ROOMBBBB', seq: 13 });
    expect(c.stats.gaps).toBe(0);
  });

  it('answers token_expiring with auth.refresh and a token from the provider, keeping the session', async () => {
    const server = await fakeServer();
    const asked: Array<{ attempt: number; closeCode?: number; refresh?: boolean }> = [];
    const failures: unknown[] = [];
    const c = client(server.url, {
      token: (info) => {
        asked.push(info);
        return `token-${asked.length}`;
      },
      onHandlerError: (err) => failures.push(err),
    });
    const started = c.start();
    const peer = await server.nextPeer();
    await answerHello(peer);
    await started;
    const expiring = { kind: 'token_expiring', payload: { expires_at: Date.now() + 1000 }, ts: Date.now() };
    peer.send({ type: 'system', data: expiring });
    const refresh = await peer.next();
    expect(refresh).toMatchObject({ type: 'auth.refresh', data: { token: 'token-2' } });
    expect(asked).toEqual([{ attempt: 0 }, { attempt: 0, refresh: true }]);
    peer.send({ type: 'ack', id: refresh.id, data: { expires_at: Date.now() + 60_000 } });
    // The application still sees the warning, and the same session carries on.
    await expect(c.waitFor('system')).resolves.toEqual(expiring);
    // A frame after the ack: once it is here, the ack has been taken.
    peer.send({ type: 'pong', data: { ts: 1 } });
    await c.waitFor('pong');
    expect(failures).toEqual([]);
    expect(c.drain('ack')).toEqual([]);
    expect(server.connections).toBe(1);
  });

  it('does not refresh with a fixed token (the server closes with 4401 at expiry)', async () => {
    const server = await fakeServer();
    const c = client(server.url, { token: 'fixed' });
    const started = c.start();
    const peer = await server.nextPeer();
    await answerHello(peer);
    await started;
    peer.send({ type: 'system', data: { kind: 'token_expiring', payload: { expires_at: 1 }, ts: 1 } });
    await c.waitFor('system');
    c.send('typing', { room_id: 'ROOM0001', state: 'start' });
    // The next frame the server reads is the typing one: no auth.refresh was sent before it.
    expect(await peer.next()).toMatchObject({ type: 'typing' });
  });

  it('keeps a server-chosen primary room and asks for it again', async () => {
    const server = await fakeServer();
    const c = client(server.url, {}, { device_id: 'dev1', identity: 'ann' });
    const started = c.start();
    const first = await answerHello(await server.nextPeer(), { roomId: 'NEWROOM1' });
    await started;
    expect(first.data.room_id).toBeUndefined();
    expect(c.primaryRoomId).toBe('NEWROOM1');
    c.client!.close(4000); // any close that is not final
    const second = await answerHello(await server.nextPeer());
    expect(second.data.room_id).toBe('NEWROOM1');
  });

  it('delivers each room message once and in seq order when a replay overlaps live delivery', async () => {
    const { server, c, peer } = await connected();
    const seen: string[] = [];
    c.on('message', (m) => seen.push(m.seq === undefined ? m.message_id : `${m.seq}`));
    const order: string[] = [];
    c.on('resumed', () => order.push('resumed'));
    for (const seq of [1, 2, 3]) peer.send(msg(seq));
    peer.send(dm('dm-1'));
    await c.collect('message', 4);
    peer.socket.terminate();

    const peer2 = await server.nextPeer();
    const hello2 = await answerHello(peer2, {
      between: [
        msg(2), // overlap: already delivered
        msg(3),
        msg(4),
        msg(6), // live, ahead of the replay: held until 5
        msg(5),
        { type: 'resumed', data: { room_id: 'ROOM0001', from_seq: 2, to_seq: 5, complete: true } },
        dm('dm-1'), // offline item delivered again
        dm('dm-2'),
      ],
    });
    expect(hello2.data.resume).toEqual({ ROOM0001: 3 });
    await c.whenOpen();
    peer2.send(msg(6)); // live copy of a replayed seq
    peer2.send(msg(7));
    await c.waitFor('message', (m) => m.seq === 7);
    expect(seen).toEqual(['1', '2', '3', 'dm-1', '4', '5', '6', 'dm-2', '7']);
    expect(c.stats.duplicatesDropped).toBe(4);
    expect(c.lastSeq('ROOM0001')).toBe(7);
    expect(c.stats.gaps).toBe(0);
  });

  it('fetches a hole the replay left with history, holding later messages until then', async () => {
    const { server, c, peer } = await connected();
    for (const seq of [1, 2, 3]) peer.send(msg(seq));
    await c.collect('message', 3);
    peer.socket.terminate();
    const peer2 = await server.nextPeer();
    await answerHello(peer2, {
      between: [
        msg(4),
        { type: 'resumed', data: { room_id: 'ROOM0001', from_seq: 4, to_seq: 4, complete: false } },
      ],
    });
    peer2.send(msg(7)); // 5 and 6 never came
    peer2.send(msg(8));
    const history = await peer2.next();
    expect(history).toMatchObject({
      type: 'history',
      data: { room_id: 'ROOM0001', before_seq: 7, limit: 2 },
    });
    peer2.send({
      type: 'ack',
      id: history.id,
      data: { messages: [msg(6).data, msg(5).data], next_cursor: 4 },
    });
    const got = await c.collect('message', 5);
    expect(got.map((m) => m.seq)).toEqual([4, 5, 6, 7, 8]);
    expect(c.stats.gaps).toBe(0);
  });

  it('reports a gap when the missing messages cannot be fetched (server without resume or history)', async () => {
    const { server, c, peer } = await connected();
    for (const seq of [1, 2, 3]) peer.send(msg(seq));
    await c.collect('message', 3);
    peer.socket.terminate();
    const peer2 = await server.nextPeer();
    await answerHello(peer2); // resume ignored: no replay
    const gap = next(c, 'gap');
    peer2.send(msg(6));
    const history = await peer2.next();
    expect(history).toMatchObject({ type: 'history', data: { before_seq: 6, limit: 2 } });
    peer2.send({ type: 'error', id: history.id, error: { code: 'UNKNOWN_TYPE', message: 'history' } });
    expect(await gap).toEqual({ room_id: 'ROOM0001', from_seq: 4, to_seq: 5 });
    await expect(c.waitFor('message')).resolves.toMatchObject({ seq: 6 });

    // Beyond gapFillLimit the gap is reported at once.
    const { peer: p2, c: c2 } = await connected({ gapFillLimit: 1 });
    p2.send(msg(1));
    await c2.waitFor('message');
    const gap2 = next(c2, 'gap');
    p2.send(msg(4));
    expect(await gap2).toEqual({ room_id: 'ROOM0001', from_seq: 2, to_seq: 3 });
    await expect(c2.waitFor('message')).resolves.toMatchObject({ seq: 4 });
  });

  it('fetches what a re-joined room missed with history, holding live messages until then', async () => {
    const { server, c, peer } = await connected();
    const join = c.request('room.join', { room_id: 'ROOMBBBB' });
    const j = await peer.next();
    peer.send({ type: 'ack', id: j.id, data: { room_id: 'ROOMBBBB', total_clients: 2, last_seq: 10 } });
    await join;
    peer.send(msg(11, 'ROOMBBBB'));
    await c.waitFor('message');
    peer.socket.terminate();

    const peer2 = await server.nextPeer();
    await answerHello(peer2); // no replay
    const rejoin = await peer2.next();
    peer2.send({ type: 'ack', id: rejoin.id, data: { room_id: 'ROOMBBBB', total_clients: 2, last_seq: 14 } });
    peer2.send(msg(15, 'ROOMBBBB')); // live, before the gap is filled
    const history = await peer2.next();
    expect(history).toMatchObject({
      type: 'history',
      data: { room_id: 'ROOMBBBB', before_seq: 15, limit: 3 },
    });
    peer2.send({
      type: 'ack',
      id: history.id,
      data: {
        messages: [msg(14, 'ROOMBBBB').data, msg(13, 'ROOMBBBB').data, msg(12, 'ROOMBBBB').data],
        next_cursor: null,
      },
    });
    const got = await c.collect('message', 4);
    expect(got.map((m) => m.seq)).toEqual([12, 13, 14, 15]);
    expect(c.stats.gaps).toBe(0);
  });

  it('keeps handlers and waits across reconnects, and states in order', async () => {
    const server = await fakeServer();
    const c = client(server.url);
    const states: string[] = [];
    for (const t of ['connecting', 'open', 'disconnected', 'reconnecting', 'closed'] as const) {
      c.on(t, () => states.push(t));
    }
    const started = c.start();
    await answerHello(await server.nextPeer());
    await started;
    const waiting = c.waitFor('message', undefined, 2000);
    c.client!.close(4000);
    const peer2 = await server.nextPeer();
    await answerHello(peer2);
    peer2.send(msg(1));
    await expect(waiting).resolves.toMatchObject({ seq: 1 });
    await c.close();
    expect(states).toEqual([
      'connecting',
      'open',
      'disconnected',
      'reconnecting',
      'connecting',
      'open',
      'closed',
    ]);
  });

  it('drops a silent session when pings go unanswered, and reconnects', async () => {
    const { server, c } = await connected({ pingIntervalMs: 20 });
    const down = next(c, 'disconnected');
    expect(await down).toMatchObject({ code: 4000, reason: 'no answer to ping' });
    await answerHello(await server.nextPeer());
    await c.whenOpen();
  });
});

describe('several URLs', () => {
  it('uses one URL as before: every attempt goes to it', async () => {
    const { server, c, peer } = await connected();
    expect(c.urls).toEqual([server.url]);
    expect(c.url).toBe(server.url);
    const connecting = record(c, 'connecting');
    peer.socket.terminate();
    await answerHello(await server.nextPeer());
    await c.whenOpen();
    expect(connecting).toEqual([{ attempt: 1, url: server.url }]);
    expect(c.url).toBe(server.url);
  });

  it('refuses an empty list', () => {
    expect(() => new ReconnectingClient([], hello)).toThrow(TypeError);
  });

  it('moves to the next URL after each lost session, round robin, and resends there', async () => {
    const [a, b, c3] = await Promise.all([fakeServer(), fakeServer(), fakeServer()]);
    const c = client([a.url, b.url, c3.url]);
    const connecting = record(c, 'connecting');
    const started = c.start();
    const peerA = await a.nextPeer();
    await answerHello(peerA);
    await started;
    expect(c.url).toBe(a.url);

    // A request written on node a and never answered: the node dies.
    const pending = c.request('message.send', { room_id: 'ROOM0001', kind: 'text', content: 'x' });
    const sent = await peerA.next();
    peerA.socket.terminate();
    const peerB = await b.nextPeer();
    const helloB = await answerHello(peerB);
    expect(helloB.data).toMatchObject({ device_id: 'dev1', room_id: 'ROOM0001' });
    const resent = await peerB.next();
    expect(resent).toEqual(sent); // same id: the server de-duplicates it
    peerB.send({ type: 'ack', id: resent.id, data: { message_id: 'm1', seq: 1, ts: 1 } });
    await expect(pending).resolves.toMatchObject({ seq: 1 });
    expect(c.url).toBe(b.url);

    peerB.socket.close(1001, 'server shutting down'); // a graceful drain: on to c
    await answerHello(await c3.nextPeer());
    await c.whenOpen();
    expect(c.url).toBe(c3.url);

    c.client!.close(4000); // and back to a
    await answerHello(await a.nextPeer());
    await c.whenOpen();
    expect(connecting.map((e) => [e.attempt, e.url])).toEqual([
      [0, a.url],
      [1, b.url],
      [1, c3.url],
      [1, a.url],
    ]);
    expect([a.connections, b.connections, c3.connections]).toEqual([2, 1, 1]);
  });

  it('tries the next URL after a failed attempt, and the first one again after the last', async () => {
    const [down1, down2, up] = await Promise.all([fakeServer(), fakeServer(), fakeServer()]);
    const urls = [down1.url, down2.url, up.url];
    await down1.close(); // nothing listens there: those attempts fail at once (1006)
    await down2.close();
    // `connect` takes the list too; the third URL answers.
    const connected = ReconnectingClient.connect(urls, hello, fast);
    await answerHello(await up.nextPeer());
    const c = await connected;
    clients.push(c);
    expect(c.url).toBe(up.url);
    expect(c.stats.connects).toBe(1);

    // The session on the third URL is lost: the first two still refuse, the third answers again.
    const connecting = record(c, 'connecting');
    const reconnecting = record(c, 'reconnecting');
    c.client!.close(4000);
    await answerHello(await up.nextPeer());
    await c.whenOpen();
    expect(connecting.map((e) => [e.attempt, e.url])).toEqual([
      [1, down1.url],
      [2, down2.url],
      [3, up.url],
    ]);
    // The backoff still grows with each failure, whatever the URL.
    expect(reconnecting.map((e) => e.attempt)).toEqual([1, 2, 3]);
    expect(up.connections).toBe(2);
  });

  it('does not move on after a close that forbids reconnecting', async () => {
    const [a, b] = await Promise.all([fakeServer(), fakeServer()]);
    const c = client([a.url, b.url]);
    const started = c.start();
    const peer = await a.nextPeer();
    await answerHello(peer);
    await started;
    peer.socket.close(4409, 'replaced');
    await expect(c.closed).resolves.toMatchObject({ code: 4409 });
    await new Promise((r) => setTimeout(r, 60));
    expect(b.connections).toBe(0);
  });
});
