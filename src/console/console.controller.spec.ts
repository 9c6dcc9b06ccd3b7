import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RoomcastErrorFilter } from '../admin/roomcast-error.filter.js';
import { CONSOLE_FILES, CONTENT_SECURITY_POLICY } from './console-assets.js';
import { ConsoleModule } from './console.module.js';

describe('ConsoleController', () => {
  let app: INestApplication;
  let base: string;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [ConsoleModule] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    app.useGlobalFilters(new RoomcastErrorFilter(app.getHttpAdapter()));
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  });

  afterAll(() => app?.close());

  it.each([
    ['/console', 'text/html; charset=utf-8'],
    ['/console/', 'text/html; charset=utf-8'],
    ['/console/index.html', 'text/html; charset=utf-8'],
    ['/console/console.js', 'text/javascript; charset=utf-8'],
    ['/console/console.css', 'text/css; charset=utf-8'],
  ])('serves %s as %s, with the CSP and without a token', async (path, type) => {
    const res = await fetch(`${base}${path}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(type);
    expect(res.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect((await res.text()).length).toBeGreaterThan(100);
  });

  it('answers 304 to a revalidation with the same ETag', async () => {
    const first = await fetch(`${base}/console/console.js`);
    const etag = first.headers.get('etag');
    expect(etag).toBeTruthy();
    // fetch() sends `Cache-Control: no-cache` with a conditional header unless told otherwise,
    // and that asks for a full answer.
    const again = await fetch(`${base}/console/console.js`, {
      headers: { 'if-none-match': etag!, 'cache-control': 'max-age=0' },
    });
    expect(again.status).toBe(304);
  });

  it.each([
    '/console/app.js',
    '/console/__proto__',
    '/console/constructor',
    '/console/..%2Fconsole.module.ts',
    '/console/%2E%2E%2F%2E%2E%2Fpackage.json',
    '/console/public%2Findex.html',
  ])('answers 404 to %s: only the listed files exist', async (path) => {
    const res = await fetch(`${base}${path}`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ statusCode: 404, code: 'NOT_FOUND' });
    expect(res.headers.get('content-security-policy')).toBeNull();
  });

  it('lists only files the page references, and the CSP allows no inline code or other origin', async () => {
    const html = await (await fetch(`${base}/console`)).text();
    for (const name of Object.keys(CONSOLE_FILES).filter((n) => n !== 'index.html'))
      expect(html).toContain(`/console/${name}`);
    expect(html).not.toMatch(/<script>|<style>| style=| on[a-z]+=/);
    expect(CONTENT_SECURITY_POLICY).toContain("default-src 'none'");
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe|\*|https?:/);
  });

  it('is not part of the OpenAPI document', () => {
    const document = SwaggerModule.createDocument(app, new DocumentBuilder().build());
    expect(Object.keys(document.paths).filter((p) => p.startsWith('/console'))).toEqual([]);
  });
});
