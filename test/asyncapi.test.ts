import { readFileSync } from 'node:fs';
import { DiagnosticSeverity, type MessageInterface, Parser } from '@asyncapi/parser';
import { Ajv, type ValidateFunction } from 'ajv';
import { beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { HelloDto } from '../src/gateway/dto/hello.dto.js';
import { validateData } from '../src/gateway/dto/validate.js';
import { FrameRouter } from '../src/gateway/frame-router.js';
import { decodeText, parseFrame } from '../src/gateway/frames.js';
import { resumeEntries } from '../src/gateway/handshake.service.js';
import { LEGACY_TEXT_TYPE } from '../src/gateway/roomcast.gateway.js';
import { ASYNCAPI_PATH } from '../src/http.js';
import { ADMIN_TOKEN, serve } from './support/app.js';
import { MODES } from './support/services.js';

const SOURCE = readFileSync(new URL('../docs/asyncapi.yaml', import.meta.url), 'utf8');

/** A message of the document, its payload schema compiled. */
interface DocMessage {
  id: string;
  /** The `type` const of its frames; undefined for frames without one (relays, legacy hello, binary). */
  type?: string;
  binary: boolean;
  examples: unknown[];
  validate: ValidateFunction;
}

interface Doc {
  /** Client → server: the messages of `receive` operations. */
  inbound: DocMessage[];
  /** Server → client: `send` operations and the replies of `receive` operations. */
  outbound: DocMessage[];
  /** Per inbound frame type, the replies its operation declares. */
  replies: Map<string, DocMessage[]>;
}

async function loadDoc(): Promise<Doc> {
  const { document, diagnostics } = await new Parser().parse(SOURCE);
  const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
  if (!document || errors.length) throw new Error(`invalid AsyncAPI: ${JSON.stringify(errors, null, 2)}`);
  // The parser's resolved schemas carry x-parser-* annotations: not keywords, so not strict.
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addFormat('binary', true);
  const compiled = new Map<string, DocMessage>();
  const message = (m: MessageInterface) => {
    const known = compiled.get(m.id());
    if (known) return known;
    const schema = m.payload()!.json() as { properties?: { type?: { const?: string } } };
    const doc: DocMessage = {
      id: m.id(),
      type: schema.properties?.type?.const,
      binary: m.contentType() === 'application/octet-stream',
      examples: m
        .examples()
        .all()
        .map((e) => e.payload()),
      validate: ajv.compile(schema),
    };
    compiled.set(doc.id, doc);
    return doc;
  };
  const result: Doc = { inbound: [], outbound: [], replies: new Map() };
  for (const op of document.operations().all()) {
    const messages = op.messages().all().map(message);
    const replies = op.reply()?.messages().all().map(message) ?? [];
    if (op.action() === 'send') result.outbound.push(...messages);
    else {
      result.inbound.push(...messages);
      result.outbound.push(...replies);
      for (const m of messages) if (m.type) result.replies.set(m.type, replies);
    }
  }
  result.outbound = [...new Set(result.outbound)];
  return result;
}

const explain = (validate: ValidateFunction) => JSON.stringify(validate.errors);

/** A plain WebSocket client keeping every frame it receives, raw and parsed. */
class RawClient {
  readonly received: Array<{ text?: string; frame?: Record<string, unknown>; bytes?: Buffer }> = [];
  private taken = new Set<number>();
  private wake?: () => void;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      const text = isBinary ? undefined : data.toString('utf8');
      this.received.push(
        text === undefined ? { bytes: Buffer.from(data) } : { text, frame: JSON.parse(text) },
      );
      this.wake?.();
    });
  }

  static open(url: string): Promise<RawClient> {
    const socket = new WebSocket(url);
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  send(frame: object | string | Buffer): void {
    this.socket.send(typeof frame === 'object' && !Buffer.isBuffer(frame) ? JSON.stringify(frame) : frame);
  }

  /** The first frame not taken yet that `match` accepts, waiting for it. */
  async next(match: (frame: Record<string, unknown>) => boolean, what: string): Promise<Record<string, any>> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const i = this.received.findIndex((r, n) => !this.taken.has(n) && r.frame && match(r.frame));
      if (i >= 0) {
        this.taken.add(i);
        return this.received[i].frame!;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} within 5 s; got ${JSON.stringify(this.received)}`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, left);
      });
    }
  }

  async nextBinary(): Promise<Buffer> {
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const hit = this.received.find((r) => r.bytes);
      if (hit) return hit.bytes!;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('no binary frame within 5 s');
  }

  close(): void {
    this.socket.close();
  }
}

describe.each(MODES)('AsyncAPI document (docs/asyncapi.yaml) against the server (%s)', (mode) => {
  const served = serve(mode);
  let doc: Doc;
  let router: FrameRouter;

  beforeAll(async () => {
    doc = await loadDoc();
    router = served.server.app.get(FrameRouter);
  });

  it('is a valid AsyncAPI 3.0 document', async () => {
    const { document, diagnostics } = await new Parser().parse(SOURCE);
    expect(diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error)).toEqual([]);
    expect(document?.version()).toBe('3.0.0');
  });

  it('has at least one example per message, each matching its schema', () => {
    for (const m of [...doc.inbound, ...doc.outbound]) {
      expect(m.examples.length, m.id).toBeGreaterThan(0);
      for (const example of m.examples)
        expect(m.validate(example), `${m.id}: ${explain(m.validate)}`).toBe(true);
    }
  });

  it('lists every frame type the server handles, and no other', () => {
    const documented = doc.inbound.flatMap((m) => (m.type ? [m.type] : []));
    // hello and the legacy text relay are the gateway's own; the rest are the registered handlers.
    expect(documented.sort()).toEqual([...router.types(), 'hello', LEGACY_TEXT_TYPE].sort());
    expect(new Set(documented).size).toBe(documented.length);
  });

  it("accepts every client example with the server's own frame validators, and both refuse unknown fields", () => {
    for (const m of doc.inbound) {
      for (const example of m.examples) {
        if (m.binary) continue; // bytes: relayed unread
        const label = `${m.id}: ${JSON.stringify(example)}`;
        const frame = parseFrame(
          decodeText(Buffer.from(JSON.stringify(example))),
          served.server.config.FRAME_MAX_DEPTH,
        );
        if (frame.kind === 'typeless') {
          expect(m.type, label).toBeUndefined();
          // A typeless first frame is the legacy hello; after the handshake any object is relayed.
          if (m.id === 'legacyHello') resumeEntries(validateData(HelloDto, frame.raw).resume);
          continue;
        }
        expect(frame.type, label).toBe(m.type);
        if (frame.type === LEGACY_TEXT_TYPE) continue; // relayed as it is
        const parse = (data: Record<string, unknown>) =>
          frame.type === 'hello'
            ? resumeEntries(validateData(HelloDto, data).resume)
            : router.parse(frame.type, data);
        expect(() => parse(frame.data), label).not.toThrow();
        const extra = { ...frame.data, unexpected: 1 };
        expect(m.validate({ ...(example as object), data: extra }), label).toBe(false);
        expect(() => parse(extra), label).toThrow(/unexpected should not exist|takes no data/);
      }
    }
  });

  it('is served at /docs/asyncapi.yaml without a token, linked from the Swagger description', async () => {
    const res = await fetch(`${served.server.url}${ASYNCAPI_PATH}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/yaml/);
    expect(await res.text()).toBe(SOURCE);
    const openapi = (await (await fetch(`${served.server.url}/docs-json`)).json()) as {
      info: { description: string };
      paths: Record<string, unknown>;
    };
    expect(openapi.info.description).toContain(`](${ASYNCAPI_PATH})`);
    expect(Object.keys(openapi.paths)).not.toContain(ASYNCAPI_PATH);
  });

  it('describes every frame of a real session', async () => {
    const { wsUrl, url } = served.server;
    const sentTypes = new Map<string, string>();
    const relays = new Set<string>();
    let n = 0;
    const request = (client: RawClient, type: string, data?: object) => {
      const id = `${type}-${++n}`;
      sentTypes.set(id, type);
      client.send(data === undefined ? { type, id } : { type, id, data });
      return id;
    };
    const answer = (client: RawClient, id: string) => client.next((f) => f.id === id, `answer to ${id}`);
    const event = (client: RawClient, type: string, where: (data: any) => boolean = () => true) =>
      client.next((f) => f.type === type && where(f.data), `${type} event`);
    const tag = `${mode === 'embedded' ? 'E' : 'R'}${Date.now().toString(36).slice(-5).toUpperCase()}`;
    const room = `AS${tag}`;
    const [A, B, C, D] = ['a', 'b', 'c', 'd'].map((d) => `${d}-${tag}`);
    const clients: RawClient[] = [];
    const connect = async (device: string, roomId: string, extra: object = {}) => {
      const client = await RawClient.open(wsUrl);
      clients.push(client);
      const id = request(client, 'hello', { device_id: device, identity: 'web', room_id: roomId, ...extra });
      await answer(client, id);
      await event(client, 'offline_done');
      return client;
    };

    try {
      const c = await connect(C, `${room}-C`);
      const a = await connect(A, room);
      const b = await connect(B, room);
      await event(a, 'presence.join', (d) => d.device_id === B);

      await answer(a, request(a, 'ping'));
      await answer(a, request(a, 'query_room', {}));
      const sent = await answer(
        a,
        request(a, 'message.send', { room_id: room, kind: 'text', content: 'hi', mentions: [C] }),
      );
      await event(b, 'message', (d) => d.message_id === sent.data.message_id);
      await event(c, 'mention', (d) => d.message_id === sent.data.message_id);
      await answer(b, request(b, 'message.read', { room_id: room, up_to_seq: sent.data.seq }));
      await event(a, 'receipt');
      a.send({ type: 'typing', data: { room_id: room, state: 'start' } });
      await event(b, 'typing');
      const direct = await answer(
        a,
        request(a, 'message.send', { to_device_id: B, kind: 'custom', content: { n: 1 } }),
      );
      await event(b, 'message', (d) => d.message_id === direct.data.message_id);
      await answer(
        b,
        request(b, 'message.read', { peer_device_id: A, up_to_message_id: direct.data.message_id }),
      );
      await event(a, 'receipt', (d) => d.peer_device_id === B);
      await answer(a, request(a, 'message.recall', { message_id: sent.data.message_id }));
      await event(b, 'message.recalled');
      await answer(a, request(a, 'history', { room_id: room, limit: 10 }));
      await answer(a, request(a, 'presence', { room_id: room }));
      await answer(a, request(a, 'room.create', { room_id: `${room}-N`, name: 'new' }));
      await answer(a, request(a, 'room.invite', { room_id: room, device_id: C }));
      await event(c, 'system', (d) => d.kind === 'invitation');
      await answer(c, request(c, 'room.join', { room_id: room }));
      await answer(c, request(c, 'room.leave', { room_id: room }));
      await event(a, 'presence.leave', (d) => d.device_id === C);

      for (const relay of [
        JSON.stringify({ type: 'text', content: 'hello' }),
        JSON.stringify({ move: 'e2e4' }),
      ]) {
        relays.add(relay);
        a.send(relay);
        await b.next((f) => JSON.stringify(f) === relay, 'relayed frame');
      }
      a.send(Buffer.from([1, 2, 3]));
      expect(await b.nextBinary()).toEqual(Buffer.from([1, 2, 3]));

      expect((await answer(a, request(a, 'no.such.type'))).error.code).toBe('UNKNOWN_TYPE');
      expect((await answer(a, request(a, 'room.join', { room_id: 'bad id!' }))).error.code).toBe(
        'BAD_REQUEST',
      );
      expect((await answer(a, request(a, 'auth.refresh', { token: 'not-a-jwt' }))).error.code).toBe(
        'UNAUTHORIZED',
      );
      a.send('not json');
      await a.next((f) => f.type === 'error' && f.id === undefined, 'error without id');

      const broadcast = await fetch(`${url}/api/broadcast`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ room_id: room, payload: { text: 'maintenance at 22:00' } }),
      });
      expect(broadcast.status).toBe(200);
      await event(b, 'system', (d) => d.kind === 'announcement');

      // Offline inbox and resume: D gets a direct message kept for it; B comes back and resumes.
      await answer(a, request(a, 'message.send', { to_device_id: D, kind: 'text', content: 'later' }));
      b.close();
      await event(a, 'presence.leave', (d) => d.device_id === B);
      const missed = await answer(
        a,
        request(a, 'message.send', { room_id: room, kind: 'text', content: 'missed' }),
      );
      const b2 = await connect(B, room, { resume: { [room]: missed.data.seq - 1 } });
      await event(b2, 'resumed');
      const d = await connect(D, `${room}-D`);
      expect((await event(d, 'message', (m) => m.to_device_id === D)).data.content).toBe('later');
    } finally {
      for (const client of clients) client.close();
    }

    const seen = new Set<string>();
    for (const client of clients) {
      for (const { text, frame, bytes } of client.received) {
        let candidates: DocMessage[];
        if (bytes) candidates = doc.outbound.filter((m) => m.binary);
        else if (relays.has(text!)) candidates = doc.outbound.filter((m) => m.id === 'relayed');
        else if (frame!.type === 'ack')
          candidates = doc.replies.get(sentTypes.get(frame!.id as string)!) ?? [];
        else candidates = doc.outbound.filter((m) => m.type === frame!.type);
        expect(candidates.length, `undocumented frame: ${text ?? 'binary'}`).toBeGreaterThan(0);
        const payload = bytes ? bytes.toString('latin1') : frame;
        const match = candidates.find((m) => m.validate(payload));
        expect(
          match,
          `${text} matches none of ${candidates.map((m) => `${m.id} ${explain(m.validate)}`).join('; ')}`,
        ).toBeDefined();
        seen.add(match!.id);
      }
    }
    // The session above shows every server frame but one: an accepted auth.refresh needs a JWT (see test/auth.test.ts).
    expect(doc.outbound.map((m) => m.id).filter((id) => !seen.has(id))).toEqual(['authRefreshAck']);
  });
});
