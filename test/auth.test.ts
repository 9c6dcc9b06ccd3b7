import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RoomcastClient, type Handshake } from '#client';
import type { HelloData, SystemEvent } from '#protocol';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWTPayload } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { startTestServer, testEnvironment, type TestEnvironment, type TestServer } from './support/app.js';
import { eventually } from './support/clients.js';
import { MODES } from './support/services.js';

const SECRET = 'an-e2e-secret-of-32-characters!!';
const ISSUER = 'https://idp.test';
const AUDIENCE = 'roomcast-e2e';
const ORIGIN = 'https://app.test';
const nowS = () => Math.floor(Date.now() / 1000);
const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

interface TokenOptions {
  /** `exp` in seconds since the epoch; null for none. Default: an hour from now. */
  exp?: number | null;
  key?: CryptoKey | Uint8Array;
  header?: { alg: string; kid?: string };
}

/** A token the HS256 server accepts unless the claims or options say otherwise. */
function token(claims: JWTPayload, options: TokenOptions = {}): Promise<string> {
  const jwt = new SignJWT({ iss: ISSUER, aud: AUDIENCE, ...claims }).setProtectedHeader(
    options.header ?? { alg: 'HS256' },
  );
  const exp = options.exp === undefined ? nowS() + 3600 : options.exp;
  if (exp !== null) jwt.setExpirationTime(exp);
  return jwt.sign(options.key ?? new TextEncoder().encode(SECRET));
}

/** The upgrade's HTTP answer: 101 when the socket opened, else the refusal's status. */
function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('unexpected-response', (req, res) => {
      resolve(res.statusCode ?? 0);
      req.destroy();
    });
    ws.once('open', () => {
      resolve(101);
      ws.close();
    });
    ws.once('error', reject);
  });
}

let devices = 0;
const device = () => `auth-dev-${process.pid}-${++devices}`;

describe.each(MODES)('auth over a real socket (%s)', (mode) => {
  let env: TestEnvironment;
  let server: TestServer;
  const open: RoomcastClient[] = [];

  async function connect(
    hello: Partial<HelloData>,
    options: { headers?: Record<string, string>; url?: string } = {},
  ): Promise<{ client: RoomcastClient; handshake: Handshake }> {
    const result = await RoomcastClient.connect(
      options.url ?? server.wsUrl,
      { device_id: device(), identity: 'tester', ...hello },
      options.headers ? { headers: options.headers } : {},
    );
    open.push(result.client);
    return result;
  }

  /** The handshake's refusal: close code and error code. */
  async function refusal(
    hello: Partial<HelloData>,
    options: { headers?: Record<string, string>; url?: string } = {},
  ) {
    const err = (await connect(hello, options).then(
      () => expect.fail('the handshake was accepted'),
      (e: unknown) => e,
    )) as { closeCode?: number; code?: string; message: string };
    return { close: err.closeCode, code: err.code };
  }

  const admin = () => token({ sub: 'operator', permissions: ['admin'] });

  beforeAll(async () => {
    env = await testEnvironment(mode);
    server = await startTestServer(env, {
      JWT_SECRET: SECRET,
      JWT_ISSUER: ISSUER,
      JWT_AUDIENCE: AUDIENCE,
      JWT_EXPIRY_WARNING_MS: '2000',
      HANDSHAKE_TIMEOUT_MS: '500',
      ALLOWED_ORIGINS: `${ORIGIN}, https://other.test`,
      MAX_CONNECTIONS_PER_SUBJECT: '2',
    });
    // Rooms the restricted tokens below may join but not create.
    const { client } = await connect({ token: await admin() });
    for (const room_id of ['TEAM-1', 'TEAM-2', 'LOBBY']) await client.request('room.create', { room_id });
    // A message a forbidden resume of LOBBY would replay.
    await client.request('room.join', { room_id: 'LOBBY' });
    await client.request('message.send', { room_id: 'LOBBY', kind: 'text', content: 'lobby only' });
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await server?.stop();
    await env?.dispose();
  });

  describe('token sources', () => {
    it('takes the token from hello, the Authorization header or the ?token= query parameter', async () => {
      const t = (sub: string) => token({ sub, permissions: ['admin'] });
      await expect(connect({ token: await t('u-src-1') })).resolves.toBeTruthy();
      const header = { authorization: `Bearer ${await t('u-src-2')}` };
      await expect(connect({}, { headers: header })).resolves.toBeTruthy();
      await expect(connect({}, { url: `${server.wsUrl}?token=${await t('u-src-3')}` })).resolves.toBeTruthy();
    });

    it('lets the hello token win over the upgrade token, whichever is the good one', async () => {
      const good = await token({ sub: 'u-win', permissions: ['admin'] });
      const expired = await token({ sub: 'u-win' }, { exp: nowS() - 60 });
      await expect(
        connect({ token: good }, { headers: { authorization: `Bearer ${expired}` } }),
      ).resolves.toBeTruthy();
      expect(await refusal({ token: expired }, { url: `${server.wsUrl}?token=${good}` })).toEqual({
        close: 4401,
        code: 'UNAUTHORIZED',
      });
    });

    it('requires a token when anonymous access is off', async () => {
      expect(await refusal({})).toEqual({ close: 4401, code: 'UNAUTHORIZED' });
    });
  });

  describe('JWT checks at the handshake', () => {
    it('refuses alg none, expired, not yet valid, wrong aud or iss, tampered and sub-less tokens with 4401', async () => {
      const valid = await token({ sub: 'u-jwt', permissions: ['admin'] });
      const [h, p, s] = valid.split('.');
      const bad: Record<string, string> = {
        'alg none': `${b64({ alg: 'none' })}.${p}.`,
        expired: await token({ sub: 'u-jwt' }, { exp: nowS() - 60 }),
        'not yet valid': await token({ sub: 'u-jwt', nbf: nowS() + 120 }),
        'wrong aud': await token({ sub: 'u-jwt', aud: 'someone-else' }),
        'wrong iss': await token({ sub: 'u-jwt', iss: 'https://evil.test' }),
        tampered: `${h}.${b64({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), sub: 'root' })}.${s}`,
        'other secret': await token({ sub: 'u-jwt' }, { key: new TextEncoder().encode('x'.repeat(32)) }),
        'no sub': await token({ permissions: ['admin'] }),
      };
      for (const [name, t] of Object.entries(bad)) {
        expect({ name, ...(await refusal({ token: t })) }).toEqual({
          name,
          close: 4401,
          code: 'UNAUTHORIZED',
        });
      }
      await expect(connect({ token: valid })).resolves.toBeTruthy();
    });
  });

  describe('permissions', () => {
    it('needs join:room for the hello room, and create:room for one that does not exist', async () => {
      const team = await token({ sub: 'u-perm', permissions: ['join:room:TEAM*'] });
      expect(await refusal({ token: team, room_id: 'LOBBY' })).toEqual({ close: 4403, code: 'FORBIDDEN' });
      expect(await refusal({ token: team, room_id: 'TEAM-NEW' })).toEqual({ close: 4403, code: 'FORBIDDEN' });
      // Without a room and without a last room, the server would create one.
      expect(await refusal({ token: team })).toEqual({ close: 4403, code: 'FORBIDDEN' });
      const { handshake } = await connect({ token: team, room_id: 'TEAM-1' });
      expect(handshake.room).toMatchObject({ room_id: 'TEAM-1', created: false });
      const creator = await token({ sub: 'u-perm-2', permissions: ['join:room:TEAM*', 'create:room'] });
      const created = await connect({ token: creator, room_id: `TEAM-${devices}` });
      expect(created.handshake.room.created).toBe(true);
      const fresh = await connect({ token: await token({ sub: 'u-perm-3', scope: 'create:room' }) });
      expect(fresh.handshake.room.created).toBe(true);
    });

    it('checks every request: send:message, create:room, join:room (and create:room for a new room)', async () => {
      const t = await token({ sub: 'u-req', permissions: ['join:room:TEAM*'] });
      const { client } = await connect({ token: t, room_id: 'TEAM-1' });
      const forbidden = { code: 'FORBIDDEN' };
      await expect(
        client.request('message.send', { room_id: 'TEAM-1', kind: 'text', content: 'hi' }),
      ).rejects.toMatchObject(forbidden);
      await expect(client.request('room.create', { room_id: 'TEAM-X' })).rejects.toMatchObject(forbidden);
      await expect(client.request('room.join', { room_id: 'LOBBY' })).rejects.toMatchObject(forbidden);
      await expect(client.request('room.join', { room_id: 'TEAM-NONE' })).rejects.toMatchObject(forbidden);
      await expect(client.request('room.join', { room_id: 'TEAM-2' })).resolves.toMatchObject({
        room_id: 'TEAM-2',
      });
      // Legacy relays are sends too.
      client.send({ type: 'text', content: 'relayed?' });
      await expect(client.waitFor('error')).resolves.toMatchObject(forbidden);
      client.send({ content: 'typeless' });
      await expect(client.waitFor('error')).resolves.toMatchObject(forbidden);
      client.sendBinary(new Uint8Array([1, 2, 3]));
      await expect(client.waitFor('error')).resolves.toMatchObject(forbidden);
      // The socket is still usable.
      await expect(client.request('room.join', { room_id: 'TEAM-1' })).resolves.toMatchObject({
        room_id: 'TEAM-1',
      });
    });

    it('skips a resumed room the token may not join: complete false, nothing replayed', async () => {
      const t = await token({ sub: 'u-resume', permissions: ['join:room:TEAM-1'] });
      const { handshake } = await connect({ token: t, room_id: 'TEAM-1', resume: { LOBBY: 0, 'TEAM-1': 0 } });
      expect(handshake.resumed).toEqual([
        { room_id: 'LOBBY', from_seq: 1, to_seq: 0, complete: false },
        expect.objectContaining({ room_id: 'TEAM-1', complete: true }),
      ]);
      expect(handshake.replayed.filter((m) => m.room_id === 'LOBBY')).toEqual([]);
    });

    it('lets admin do everything, and a token with send:message send', async () => {
      const sender = await connect({
        token: await token({ sub: 'u-send', scope: 'send:message join:room:TEAM-1' }),
        room_id: 'TEAM-1',
      });
      await expect(
        sender.client.request('message.send', { room_id: 'TEAM-1', kind: 'text', content: 'ok' }),
      ).resolves.toMatchObject({ seq: expect.any(Number) });
      const { client } = await connect({ token: await admin(), room_id: `ADM-${devices}` });
      await expect(client.request('room.create', { room_id: `ADM-N-${devices}` })).resolves.toBeTruthy();
      await expect(client.request('room.join', { room_id: `ADM-J-${devices}` })).resolves.toBeTruthy();
    });
  });

  describe('token expiry and auth.refresh', () => {
    it('warns before exp and closes with 4401 at exp', async () => {
      const exp = nowS() + 4;
      const { client } = await connect({
        token: await token({ sub: 'u-exp', permissions: ['admin'] }, { exp }),
      });
      const warning = await client.waitFor('system', (e) => e.kind === 'token_expiring', 6000);
      expect(warning).toMatchObject({
        kind: 'token_expiring',
        payload: { expires_at: exp * 1000 },
        ts: expect.any(Number),
      });
      expect((await client.closed).code).toBe(4401);
      expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000 - 50);
    });

    it('warns at once when less than JWT_EXPIRY_WARNING_MS is left', async () => {
      const exp = nowS() + 2;
      const { client } = await connect({
        token: await token({ sub: 'u-exp', permissions: ['admin'] }, { exp }),
      });
      const warning = (await client.waitFor('system', undefined, 1500)) as SystemEvent;
      expect(warning.payload).toEqual({ expires_at: exp * 1000 });
      expect((await client.closed).code).toBe(4401);
    });

    it('keeps a connection that refreshes, with the new permissions; a bad refresh changes nothing', async () => {
      const exp = nowS() + 3;
      const claims = { sub: 'u-ref', permissions: ['join:room:TEAM*'] };
      const kept = await connect({ token: await token(claims, { exp }), room_id: 'TEAM-1' });
      const dropped = await connect({ token: await token(claims, { exp }), room_id: 'TEAM-2' });
      const send = (c: RoomcastClient, room_id: string) =>
        c.request('message.send', { room_id, kind: 'text', content: 'x' });
      await expect(send(kept.client, 'TEAM-1')).rejects.toMatchObject({ code: 'FORBIDDEN' });

      const later = nowS() + 600;
      const fresh = await token(
        { ...claims, permissions: ['join:room:TEAM*', 'send:message'] },
        { exp: later },
      );
      await expect(kept.client.request('auth.refresh', { token: fresh })).resolves.toEqual({
        expires_at: later * 1000,
      });
      await expect(send(kept.client, 'TEAM-1')).resolves.toMatchObject({ seq: expect.any(Number) });

      const refused = { code: 'UNAUTHORIZED' };
      await expect(
        dropped.client.request('auth.refresh', { token: await token(claims, { exp: nowS() - 60 }) }),
      ).rejects.toMatchObject(refused);
      await expect(
        dropped.client.request('auth.refresh', { token: await token({ ...claims, sub: 'someone-else' }) }),
      ).rejects.toMatchObject(refused);
      await expect(dropped.client.request('auth.refresh', { token: 'garbage' })).rejects.toMatchObject(
        refused,
      );
      await expect(dropped.client.request('auth.refresh', {} as { token: string })).rejects.toMatchObject({
        code: 'BAD_REQUEST',
      });
      // The old expiry still holds for the one whose refreshes failed.
      expect((await dropped.client.closed).code).toBe(4401);
      expect(kept.client.isOpen).toBe(true);
      await expect(kept.client.request('room.join', { room_id: 'TEAM-1' })).resolves.toBeTruthy();
    });
  });

  describe('origin allowlist', () => {
    it('refuses a browser origin not listed with 403, accepts listed ones and clients without Origin', async () => {
      expect(await upgradeStatus(server.wsUrl, { origin: 'https://evil.test' })).toBe(403);
      expect(await upgradeStatus(server.wsUrl, { origin: ORIGIN })).toBe(101);
      expect(await upgradeStatus(server.wsUrl, { origin: 'https://other.test' })).toBe(101);
      expect(await upgradeStatus(server.wsUrl)).toBe(101);
    });
  });

  describe('MAX_CONNECTIONS_PER_SUBJECT', () => {
    it('refuses a third connection of one sub with 4429; a same-device reconnect replaces instead', async () => {
      const t = await token({ sub: `u-cap-${devices}`, permissions: ['admin'] });
      const first = await connect({ token: t, device_id: 'cap-a' });
      await connect({ token: t, device_id: 'cap-b' });
      expect(await refusal({ token: t, device_id: 'cap-c' })).toEqual({ close: 4429, code: 'RATE_LIMITED' });
      // The same device again: it replaces its older connection, it is not a third one.
      await connect({ token: t, device_id: 'cap-a' });
      expect((await first.client.closed).code).toBe(4409);
      // Other subjects are not affected.
      await connect({ token: await token({ sub: 'u-cap-other', permissions: ['admin'] }) });
      // A closed connection frees its place.
      await open.find((c) => c !== first.client && c.isOpen)!.close();
      await eventually(
        () =>
          connect({ token: t, device_id: 'cap-c' }).then(
            () => true,
            () => false,
          ),
        (ok) => ok,
      );
    });
  });

  describe('handshake timeout', () => {
    it('closes a slow-loris socket (partial frame, then nothing) with 4408; other clients are unaffected', async () => {
      const loris = new WebSocket(server.wsUrl);
      await new Promise((resolve) => loris.once('open', resolve));
      const closed = new Promise<number>((resolve) => loris.once('close', resolve));
      // The first bytes of a masked text frame header, and nothing more.
      (loris as unknown as { _socket: { write(b: Buffer): void } })._socket.write(Buffer.from([0x81, 0xfe]));
      const silent = new WebSocket(server.wsUrl);
      const silentClosed = new Promise<number>((resolve) => silent.once('close', resolve));
      const { client } = await connect({ token: await admin() });
      expect(await closed).toBe(4408);
      expect(await silentClosed).toBe(4408);
      await expect(client.request('room.join', { room_id: 'LOBBY' })).resolves.toMatchObject({
        room_id: 'LOBBY',
      });
      expect(client.isOpen).toBe(true);
    });
  });
});

describe.each(MODES)('connection caps per address (%s)', (mode) => {
  let env: TestEnvironment;
  let server: TestServer;

  beforeAll(async () => {
    env = await testEnvironment(mode);
    // Text logs: written through process.stdout.write, where the test reads them.
    server = await startTestServer(env, {
      MAX_CONNECTIONS_PER_IP: '2',
      LOG_LEVEL: 'debug',
      LOG_FORMAT: 'text',
    });
  });
  afterAll(async () => {
    await server?.stop();
    await env?.dispose();
  });

  it('refuses the upgrade with 429 beyond MAX_CONNECTIONS_PER_IP, never logging a query token', async () => {
    const a = new WebSocket(server.wsUrl);
    const b = new WebSocket(server.wsUrl);
    await Promise.all([a, b].map((ws) => new Promise((resolve) => ws.once('open', resolve))));
    const written: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    try {
      expect(await upgradeStatus(`${server.wsUrl}?token=very.secret.token&x=1`)).toBe(429);
    } finally {
      spy.mockRestore();
    }
    const refusalLine = written.find((line) => line.includes('refused (429)'));
    expect(refusalLine).toContain('token=[redacted]&x=1');
    expect(written.join('')).not.toContain('very.secret.token');
    // Anonymous clients keep every permission: the cap is the only refusal here.
    a.close();
    await eventually(
      () => upgradeStatus(server.wsUrl),
      (status) => status === 101,
    );
    b.close();
  });
});

describe('asymmetric keys over a real socket: RS256 and ES256 from a JWKS file', () => {
  let env: TestEnvironment;
  let server: TestServer;
  let rsa: { privateKey: CryptoKey };
  let ec: { privateKey: CryptoKey };
  const clients: RoomcastClient[] = [];

  beforeAll(async () => {
    env = await testEnvironment('embedded');
    const dir = mkdtempSync(join(tmpdir(), 'roomcast-jwks-e2e-'));
    const rsaPair = await generateKeyPair('RS256', { extractable: true });
    const ecPair = await generateKeyPair('ES256', { extractable: true });
    rsa = rsaPair;
    ec = ecPair;
    const keys = [
      { ...(await exportJWK(rsaPair.publicKey)), kid: 'rs-1', alg: 'RS256' },
      { ...(await exportJWK(ecPair.publicKey)), kid: 'es-1', alg: 'ES256' },
    ];
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys }));
    server = await startTestServer(env, { JWT_JWKS_FILE: join(dir, 'jwks.json') });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await server?.stop();
    await env?.dispose();
  });

  const hello = async (t: string) => {
    const result = await RoomcastClient.connect(server.wsUrl, {
      device_id: device(),
      identity: 'k',
      token: t,
    });
    clients.push(result.client);
    return result;
  };
  const claims = { sub: 'k-user', permissions: ['admin'] };

  it('accepts tokens whose kid names their key', async () => {
    await expect(
      hello(await token(claims, { key: rsa.privateKey, header: { alg: 'RS256', kid: 'rs-1' } })),
    ).resolves.toBeTruthy();
    await expect(
      hello(await token(claims, { key: ec.privateKey, header: { alg: 'ES256', kid: 'es-1' } })),
    ).resolves.toBeTruthy();
  });

  it('refuses HS256 (key confusion), a wrong kid and alg none with 4401', async () => {
    const bad = [
      await token(claims, { header: { alg: 'HS256', kid: 'rs-1' } }),
      await token(claims, { key: rsa.privateKey, header: { alg: 'RS256', kid: 'es-1' } }),
      await token(claims, { key: rsa.privateKey, header: { alg: 'RS256', kid: 'unknown' } }),
      `${b64({ alg: 'none', kid: 'rs-1' })}.${b64({ ...claims, exp: nowS() + 60 })}.`,
    ];
    for (const t of bad)
      await expect(hello(t)).rejects.toMatchObject({ closeCode: 4401, code: 'UNAUTHORIZED' });
  });
});
