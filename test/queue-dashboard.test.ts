import { describe, expect, it } from 'vitest';
import { QueueName } from '../src/persistence/job-registry.js';
import { ADMIN_TOKEN, serve, startTestServer, type TestServer } from './support/app.js';
import { servicesAvailable } from './support/services.js';

const DASHBOARD = '/admin/queues';
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

function get(server: TestServer, path: string, authorization?: string): Promise<Response> {
  return fetch(`${server.url}${path}`, { headers: authorization ? { authorization } : {} });
}

describe.runIf(servicesAvailable)('queue dashboard (mysql+redis)', () => {
  const served = serve('mysql+redis');

  it.each([
    ['no credentials', undefined, /missing credentials/],
    ['a wrong bearer token', 'Bearer not-the-admin-token', /invalid admin token/],
    ['a wrong Basic password', basic('admin', 'not-the-admin-token'), /invalid admin token/],
    ['the token as the Basic user name', basic(ADMIN_TOKEN, ''), /invalid admin token/],
    ['another scheme', `Digest ${ADMIN_TOKEN}`, /missing credentials/],
  ])(
    'refuses %s with 401 and a Basic challenge, so a browser asks for the token',
    async (_, auth, message) => {
      for (const path of [DASHBOARD, `${DASHBOARD}/api/queues`]) {
        const res = await get(served.server, path, auth);
        expect(res.status, path).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Basic realm="Roomcast"');
        const body = (await res.json()) as { code: string; message: string };
        expect(body.code).toBe('UNAUTHORIZED');
        expect(body.message).toMatch(message);
      }
    },
  );

  it.each([
    ['a bearer token', `Bearer ${ADMIN_TOKEN}`],
    ['Basic auth with the token as the password', basic('anyone', ADMIN_TOKEN)],
  ])('serves the page with %s', async (_, auth) => {
    const res = await get(served.server, DASHBOARD, auth);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain('<div id="root">');
    expect(html).toContain(`<base href="${DASHBOARD}/"`);
    // The page's assets sit behind the same check: a browser resends its Basic credentials.
    const script = /src="(static\/js\/main\.[^"]+\.js)"/.exec(html)![1];
    expect((await get(served.server, `${DASHBOARD}/${script}`, auth)).status).toBe(200);
    expect((await get(served.server, `${DASHBOARD}/${script}`)).status).toBe(401);
  });

  it("lists every queue of the app in the dashboard's API", async () => {
    const res = await get(served.server, `${DASHBOARD}/api/queues`, basic('ops', ADMIN_TOKEN));
    expect(res.status).toBe(200);
    const { queues } = (await res.json()) as { queues: Array<{ name: string }> };
    expect(queues.map((q) => q.name).sort()).toEqual(Object.values(QueueName).sort());
  });

  it('is closed like the admin API when ADMIN_TOKEN is unset (403)', async () => {
    const disabled = await startTestServer(served.env, { ADMIN_TOKEN: '' });
    try {
      for (const auth of [undefined, `Bearer ${ADMIN_TOKEN}`, basic('ops', ADMIN_TOKEN)]) {
        const res = await get(disabled, DASHBOARD, auth);
        expect(res.status).toBe(403);
        expect(res.headers.get('www-authenticate')).toBeNull();
        expect(await res.json()).toMatchObject({
          code: 'FORBIDDEN',
          message: expect.stringMatching(/disabled/),
        });
      }
    } finally {
      await disabled.stop();
    }
  });
});

describe('queue dashboard (embedded)', () => {
  const served = serve('embedded');

  it('answers 404 with the reason: embedded mode has no BullMQ queues', async () => {
    for (const path of [DASHBOARD, `${DASHBOARD}/api/queues`]) {
      const res = await get(served.server, path, `Bearer ${ADMIN_TOKEN}`);
      expect(res.status, path).toBe(404);
      expect(await res.json()).toMatchObject({
        code: 'NOT_FOUND',
        message: expect.stringMatching(/needs Redis.*embedded mode/),
      });
    }
  });
});
