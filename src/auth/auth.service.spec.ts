import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  SignJWT,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  type CryptoKey,
  type GenerateKeyPairResult,
  type JWTPayload,
} from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load-config.js';
import { AuthService } from './auth.service.js';
import { allows, assertAllowed } from './permissions.js';

type KeyPair = GenerateKeyPairResult;

const SECRET = 'a-test-secret-of-32-characters!!';
const secretKey = (secret = SECRET) => new TextEncoder().encode(secret);

function sign(
  claims: JWTPayload,
  key: CryptoKey | Uint8Array = secretKey(),
  header: { alg: string; kid?: string } = { alg: 'HS256' },
  expires: string | number | null = '1h',
): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader(header);
  if (expires !== null) jwt.setExpirationTime(expires);
  return jwt.sign(key);
}

const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
const unsigned = (claims: object) => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
const nowS = () => Math.floor(Date.now() / 1000);
const refused = (p: Promise<unknown>, reason: RegExp) =>
  expect(p).rejects.toMatchObject({ code: 'UNAUTHORIZED', message: expect.stringMatching(reason) });

describe('AuthService', () => {
  it('admits anonymous clients only when allowed', async () => {
    await expect(new AuthService(loadConfig({})).authenticate('d1', undefined)).resolves.toMatchObject({
      subject: 'd1',
      anonymous: true,
    });
    await expect(
      new AuthService(loadConfig({ JWT_SECRET: SECRET })).authenticate('d1', undefined),
    ).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });

  it('refuses every token when no key is configured', async () => {
    await refused(new AuthService(loadConfig({})).authenticate('d1', await sign({ sub: 'u' })), /no JWT key/);
  });

  describe('HS256 (JWT_SECRET)', () => {
    const auth = new AuthService(loadConfig({ JWT_SECRET: SECRET }));

    it('accepts a valid token, with its permissions and expiry', async () => {
      const exp = nowS() + 600;
      const p = await auth.authenticate(
        'd1',
        await sign({ sub: 'user-1', scope: 'send:message create:room' }, undefined, undefined, exp),
      );
      expect(p).toEqual({
        subject: 'user-1',
        anonymous: false,
        permissions: ['send:message', 'create:room'],
        expiresAt: exp * 1000,
      });
      const q = await auth.verify(
        await sign({ sub: 'u', permissions: ['admin', 7] }, undefined, undefined, null),
      );
      expect(q).toEqual({ subject: 'u', anonymous: false, permissions: ['admin'] });
    });

    it('refuses alg none, another secret, a tampered signature and a missing sub', async () => {
      await refused(auth.verify(unsigned({ sub: 'u', exp: nowS() + 60 })), /invalid token/);
      await refused(
        auth.verify(await sign({ sub: 'u' }, secretKey('another-secret-another-secret!!'))),
        /signature/,
      );
      const [h, p, s] = (await sign({ sub: 'u' })).split('.');
      const forged = b64({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), sub: 'admin-user' });
      await refused(auth.verify(`${h}.${forged}.${s}`), /signature/);
      await refused(auth.verify(`${h}.${p}.${s.slice(0, -2)}${s.endsWith('A') ? 'B' : 'A'}A`), /signature/);
      await refused(auth.verify(await sign({})), /no sub/);
      await refused(auth.verify('not.a.jwt'), /invalid token/);
    });

    it('checks exp and nbf with JWT_CLOCK_TOLERANCE_S of skew', async () => {
      await refused(auth.verify(await sign({ sub: 'u' }, undefined, undefined, nowS() - 60)), /"exp"/);
      await refused(auth.verify(await sign({ sub: 'u', nbf: nowS() + 60 })), /"nbf"/);
      // Within the default 5 s of tolerance.
      await expect(
        auth.verify(await sign({ sub: 'u' }, undefined, undefined, nowS() - 2)),
      ).resolves.toBeTruthy();
      await expect(auth.verify(await sign({ sub: 'u', nbf: nowS() + 2 }))).resolves.toBeTruthy();
      const strict = new AuthService(loadConfig({ JWT_SECRET: SECRET, JWT_CLOCK_TOLERANCE_S: '0' }));
      await refused(strict.verify(await sign({ sub: 'u', nbf: nowS() + 3 })), /"nbf"/);
    });

    it('checks iss and aud only when configured', async () => {
      const strict = new AuthService(
        loadConfig({ JWT_SECRET: SECRET, JWT_ISSUER: 'https://idp.example', JWT_AUDIENCE: 'roomcast' }),
      );
      const good = { sub: 'u', iss: 'https://idp.example', aud: ['other', 'roomcast'] };
      await expect(strict.verify(await sign(good))).resolves.toMatchObject({ subject: 'u' });
      await refused(strict.verify(await sign({ ...good, iss: 'https://evil.example' })), /"iss"/);
      await refused(strict.verify(await sign({ ...good, aud: 'other' })), /"aud"/);
      await refused(strict.verify(await sign({ sub: 'u', aud: 'roomcast' })), /"iss"/);
      await expect(
        auth.verify(await sign({ ...good, iss: 'anyone', aud: 'anything' })),
      ).resolves.toBeTruthy();
    });
  });

  describe('RS256 and ES256 (JWT_PUBLIC_KEY)', () => {
    let rsa: KeyPair;
    let ec: KeyPair;
    beforeAll(async () => {
      rsa = await generateKeyPair('RS256', { extractable: true });
      ec = await generateKeyPair('ES256', { extractable: true });
    });

    it('accepts tokens signed with the matching private key', async () => {
      const rs = new AuthService(loadConfig({ JWT_PUBLIC_KEY: await exportSPKI(rsa.publicKey) }));
      await expect(
        rs.verify(await sign({ sub: 'u' }, rsa.privateKey, { alg: 'RS256' })),
      ).resolves.toMatchObject({
        subject: 'u',
      });
      // A PEM given on one line with literal \n, as environment files often carry it.
      const oneLine = (await exportSPKI(ec.publicKey)).replace(/\n/g, '\\n');
      const es = new AuthService(loadConfig({ JWT_PUBLIC_KEY: oneLine }));
      await expect(
        es.verify(await sign({ sub: 'e' }, ec.privateKey, { alg: 'ES256' })),
      ).resolves.toMatchObject({
        subject: 'e',
      });
    });

    it('refuses algorithm confusion: an HS256 token keyed with the public key text, another curve or kind', async () => {
      const pem = await exportSPKI(rsa.publicKey);
      const rs = new AuthService(loadConfig({ JWT_PUBLIC_KEY: pem }));
      await refused(rs.verify(await sign({ sub: 'u' }, secretKey(pem))), /alg/);
      await refused(rs.verify(await sign({ sub: 'u' }, ec.privateKey, { alg: 'ES256' })), /alg/);
      await refused(rs.verify(unsigned({ sub: 'u' })), /invalid token/);
      const other = await generateKeyPair('RS256');
      await refused(rs.verify(await sign({ sub: 'u' }, other.privateKey, { alg: 'RS256' })), /signature/);
    });
  });

  describe('JWKS file (JWT_JWKS_FILE)', () => {
    let dir: string;
    let rsa: KeyPair;
    let ec: KeyPair;
    let auth: AuthService;
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'roomcast-jwks-'));
      rsa = await generateKeyPair('RS256', { extractable: true });
      ec = await generateKeyPair('ES256', { extractable: true });
      const keys = [
        { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
        { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' },
      ];
      writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys }));
      auth = new AuthService(loadConfig({ JWT_JWKS_FILE: join(dir, 'jwks.json') }));
    });

    it('selects the key by kid, RS256 and ES256', async () => {
      await expect(
        auth.verify(await sign({ sub: 'r' }, rsa.privateKey, { alg: 'RS256', kid: 'rsa-1' })),
      ).resolves.toMatchObject({ subject: 'r' });
      await expect(
        auth.verify(await sign({ sub: 'e' }, ec.privateKey, { alg: 'ES256', kid: 'ec-1' })),
      ).resolves.toMatchObject({ subject: 'e' });
    });

    it('refuses an unknown kid, a kid of another key, and HS256', async () => {
      await refused(
        auth.verify(await sign({ sub: 'r' }, rsa.privateKey, { alg: 'RS256', kid: 'nope' })),
        /no applicable key/,
      );
      const other = await generateKeyPair('RS256');
      await refused(
        auth.verify(await sign({ sub: 'r' }, other.privateKey, { alg: 'RS256', kid: 'rsa-1' })),
        /signature/,
      );
      await refused(
        auth.verify(await sign({ sub: 'r' }, secretKey(), { alg: 'HS256', kid: 'rsa-1' })),
        /alg/,
      );
    });

    it('stops start-up on a missing or malformed file', () => {
      expect(() => new AuthService(loadConfig({ JWT_JWKS_FILE: join(dir, 'missing.json') }))).toThrow(
        /JWT_JWKS_FILE/,
      );
      writeFileSync(join(dir, 'bad.json'), '{"nokeys":1}');
      expect(() => new AuthService(loadConfig({ JWT_JWKS_FILE: join(dir, 'bad.json') }))).toThrow(
        /"keys" array/,
      );
    });
  });
});

describe('permissions', () => {
  const token = (...permissions: string[]) => ({ subject: 'u', anonymous: false, permissions });

  it('grants what the token lists, join:room by glob, everything to admin and to anonymous clients', () => {
    expect(allows(token('send:message'), 'send:message')).toBe(true);
    expect(allows(token('send:message'), 'create:room')).toBe(false);
    expect(allows(token('join:room:TEAM*'), 'join:room:TEAM-7')).toBe(true);
    expect(allows(token('join:room:TEAM*'), 'join:room:LOBBY')).toBe(false);
    expect(allows(token('join:room:*-ops'), 'join:room:eu-ops')).toBe(true);
    expect(allows(token('join:room:A.C'), 'join:room:ABC')).toBe(false);
    expect(allows(token('join:room:LOBBY'), 'join:room:LOBBY')).toBe(true);
    // A glob grants only rooms, never other permissions.
    expect(allows(token('join:room:*'), 'send:message')).toBe(false);
    expect(allows(token('send:*'), 'send:message')).toBe(false);
    expect(allows(token('admin'), 'join:room:X')).toBe(true);
    expect(allows({ subject: 'd', anonymous: true, permissions: [] }, 'create:room')).toBe(true);
    expect(allows(undefined, 'send:message')).toBe(false);
    expect(() => assertAllowed(token(), 'create:room')).toThrow(
      expect.objectContaining({ code: 'FORBIDDEN', message: 'the token does not grant create:room' }),
    );
  });
});
