import { SignJWT } from 'jose';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, serve, startTestServer, testEnvironment } from './support/app.js';
import { browserAvailable, launchChromium } from './support/browser.js';
import { recordRefusedConnection } from './support/jobs.js';
import { MODES } from './support/services.js';

/** `CONSOLE_SCREENSHOT=1` also rewrites docs/console.png (in the last mode: mysql+redis when it runs). */
const SCREENSHOT = ['1', 'true'].includes(process.env.CONSOLE_SCREENSHOT ?? '');

const text = (page: Page, id: string) => page.locator(`#${id}`).innerText();

async function signIn(page: Page, clientToken = ''): Promise<void> {
  await page.fill('#admin-token', ADMIN_TOKEN);
  await page.fill('#client-token', clientToken);
  await page.click('#sign-in button[type=submit]');
  await page.locator('#dashboard').waitFor();
}

/** Waits until the element's text passes `done`: the console updates by polling, not on demand. */
async function untilText(page: Page, id: string, done: (value: string) => boolean): Promise<string> {
  const deadline = Date.now() + 10_000;
  let value = await text(page, id);
  while (!done(value)) {
    if (Date.now() > deadline) throw new Error(`#${id} is still ${JSON.stringify(value)}`);
    await page.waitForTimeout(100);
    value = await text(page, id);
  }
  return value;
}

describe('console page, served beside the admin API', () => {
  it('needs no token, is outside the admin rate limit, and is not in the OpenAPI document', async () => {
    const env = await testEnvironment('embedded');
    const server = await startTestServer(env, { RATE_ADMIN_PER_SEC: '1' });
    try {
      for (let i = 0; i < 5; i++) expect((await fetch(`${server.url}/console`)).status).toBe(200);
      // The admin API itself is limited: the same burst is refused there.
      const api = await Promise.all(
        Array.from({ length: 5 }, () =>
          fetch(`${server.url}/api/stats`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }),
        ),
      );
      expect(api.map((r) => r.status)).toContain(429);
      const document = (await (await fetch(`${server.url}/docs-json`)).json()) as { paths: object };
      expect(Object.keys(document.paths).some((p) => p.startsWith('/console'))).toBe(false);
    } finally {
      await server.stop();
      await env.dispose();
    }
  });
});

describe.skipIf(!browserAvailable).each(MODES)('console in a browser (%s)', (mode) => {
  // Two attempts, so that a failing job is dead-lettered quickly.
  const served = serve(mode, { JOB_ATTEMPTS: '2' });
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(10_000);
    // The page must run as shipped: a CSP violation or a script error fails the suite.
    page.on('pageerror', (err) => problems.push(err.message));
    page.on('console', (msg) => {
      // The browser logs each refused call; the wrong token is refused on purpose below.
      if (msg.type() === 'error' && !msg.text().includes('status of 401')) problems.push(msg.text());
    });
  });

  afterAll(async () => {
    await browser?.close();
    expect(problems).toEqual([]);
  });

  it('refuses a wrong admin token with a clear error', async () => {
    await page.goto(`${served.server.url}/console`);
    await page.fill('#admin-token', 'not-the-admin-token');
    await page.click('#sign-in button[type=submit]');
    await untilText(page, 'sign-in-error', (t) => t.includes('wrong admin token'));
    expect(await page.isHidden('#dashboard')).toBe(true);
    expect(await page.evaluate('sessionStorage.getItem("roomcast.adminToken")')).toBeNull();
  });

  it('signs in, keeps the token for the tab only, and counts connections live', async () => {
    await signIn(page);
    expect(await text(page, 'node')).toContain(mode === 'embedded' ? 'embedded mode' : 'redis mode');
    expect(await page.evaluate('sessionStorage.getItem("roomcast.adminToken")')).toBe(ADMIN_TOKEN);

    const before = Number(await untilText(page, 'count-connections', (t) => /^\d+$/.test(t)));
    await served.pool.connect({ device_id: 'counted', identity: 'counted' });
    await untilText(page, 'count-connections', (t) => Number(t) === before + 1);
    // A reload keeps the session.
    await page.reload();
    await page.locator('#dashboard').waitFor();
  });

  it('shows a room made by a client, its messages live, sends into it, and kicks the client', async () => {
    const { client: alice } = await served.pool.connect({
      device_id: 'alice',
      identity: 'alice',
      room_id: 'TEAM-7',
    });
    await alice.request('message.send', {
      room_id: 'TEAM-7',
      kind: 'text',
      content: 'sent before the console',
    });

    await page.locator('tr[data-room="TEAM-7"]').click();
    await untilText(page, 'room-status', (t) => t === 'live');
    // Recent history first (the protocol's `history`), then live `message` events.
    await page.locator('#messages').getByText('sent before the console').waitFor();
    await alice.request('message.send', { room_id: 'TEAM-7', kind: 'text', content: 'hello, console' });
    await page.locator('#messages').getByText('hello, console').waitFor();
    await page.locator('#members [data-member="alice"]').waitFor();

    await page.fill('#send-text', 'hello from the console');
    await page.click('#send-form button');
    expect(await alice.waitFor('message', (m) => m.content === 'hello from the console')).toMatchObject({
      room_id: 'TEAM-7',
      from: { identity: 'roomcast-console' },
    });

    await page.fill('#announce-text', 'maintenance at 22:00');
    await page.click('#announce-form button');
    expect(await alice.waitFor('system', (s) => s.kind === 'announcement')).toMatchObject({
      payload: { text: 'maintenance at 22:00' },
    });
    await page.locator('#messages').getByText('maintenance at 22:00').waitFor();

    page.once('dialog', (dialog) => void dialog.accept());
    await page.click('[data-kick="alice"]');
    expect(await alice.waitFor('system', (s) => s.kind === 'kicked')).toBeDefined();
    expect((await alice.closed).code).toBe(4403);
    await page.locator('#members [data-member="alice"]').waitFor({ state: 'detached' });
  });

  it('lists dead-lettered jobs and retries them', async () => {
    const sessionId = `dead-letter-${mode}`;
    recordRefusedConnection(served.server.app, sessionId);
    await untilText(page, 'count-failed', (t) => Number(t) >= 1);
    const audit = page.locator('#queues tr', { hasText: 'audit' });
    await audit.getByText('failed jobs').click();
    await page.locator('#failed').getByText(sessionId).waitFor();
    await audit.getByText('retry all').click();
    await untilText(page, 'status', (t) => /\d+ job\(s\) of audit moved back to waiting/.test(t));
  });

  it.runIf(SCREENSHOT && mode === MODES.at(-1))('takes the screenshot of docs/console.png', async () => {
    const { client: ana } = await served.pool.connect({
      device_id: 'ana-laptop',
      identity: 'ana',
      room_id: 'LOBBY',
    });
    const { client: ben } = await served.pool.connect({
      device_id: 'ben-phone',
      identity: 'ben',
      room_id: 'LOBBY',
    });
    await served.pool.connect({ device_id: 'cy-tablet', identity: 'cy', room_id: 'SUPPORT' });
    await ana.request('message.send', { room_id: 'LOBBY', kind: 'text', content: 'morning all' });
    await ben.request('message.send', { room_id: 'LOBBY', kind: 'text', content: 'morning! release at 3?' });
    await page.locator('tr[data-room="LOBBY"]').click();
    await untilText(page, 'room-status', (t) => t === 'live');
    await ana.request('message.send', {
      room_id: 'LOBBY',
      kind: 'text',
      content: 'yes, after the smoke tests',
    });
    await page.fill('#announce-text', 'deploy window opens at 15:00');
    await page.click('#announce-form button');
    await page.locator('#messages').getByText('deploy window opens').waitFor();
    await page.locator('#members [data-member="ben-phone"]').waitFor();
    await page.locator('#members [data-member^="console-"]').waitFor();
    await page.screenshot({ path: 'docs/console.png', fullPage: true });
  });
});

describe.skipIf(!browserAvailable)('console on a server that requires client tokens', () => {
  const SECRET = 'console-test-jwt-secret';
  const served = serve('embedded', { JWT_SECRET: SECRET });
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    browser = await launchChromium();
    page = await browser.newPage();
    page.setDefaultTimeout(10_000);
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('says the socket needs a client token, and enters a private room with an admin one', async () => {
    const created = await fetch(`${served.server.url}/api/rooms`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ room_id: 'VAULT', private: true }),
    });
    expect(created.status).toBe(201);
    await page.goto(`${served.server.url}/console`);

    // The admin token is for /api only: the socket refuses a hello without a JWT.
    await signIn(page);
    await page.locator('tr[data-room="VAULT"]').click();
    await untilText(page, 'room-status', (t) => t.startsWith('closed 4401'));

    await page.click('#sign-out');
    const jwt = await new SignJWT({ permissions: ['admin'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('operator')
      .sign(new TextEncoder().encode(SECRET));
    await signIn(page, jwt);
    await page.locator('tr[data-room="VAULT"]').click();
    await untilText(page, 'room-status', (t) => t === 'live');
    await page.locator('#members [data-member^="console-"]').waitFor();
  });
});
