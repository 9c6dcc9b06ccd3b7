import { generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load-config.js';
import { AuthService } from './auth.service.js';

const SECRET = 'a-test-secret-of-32-characters!!';
const sign = (claims: Record<string, unknown>, secret = SECRET) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(secret));

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

  it('accepts a valid HS256 token and reads its permissions', async () => {
    const auth = new AuthService(loadConfig({ JWT_SECRET: SECRET }));
    const p = await auth.authenticate('d1', await sign({ sub: 'user-1', scope: 'send:message create:room' }));
    expect(p).toEqual({ subject: 'user-1', anonymous: false, permissions: ['send:message', 'create:room'] });
  });

  it('refuses a token signed with another secret, an unsigned one, or one without sub', async () => {
    const auth = new AuthService(loadConfig({ JWT_SECRET: SECRET }));
    await expect(
      auth.authenticate('d1', await sign({ sub: 'u' }, 'another-secret-another-secret!!')),
    ).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"u"}').toString('base64url')}.`;
    await expect(auth.authenticate('d1', none)).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    await expect(auth.authenticate('d1', await sign({}))).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });

  it('pins RS256 for an RSA public key (an HS256 token made with the key text is refused)', async () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const auth = new AuthService(loadConfig({ JWT_PUBLIC_KEY: pem }));
    await expect(auth.authenticate('d1', await sign({ sub: 'u' }, pem))).rejects.toMatchObject({
      code: 'UNAUTHORIZED',
    });
  });
});
