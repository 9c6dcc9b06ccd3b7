import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestServer, testEnvironment, type TestEnvironment } from './support/app.js';
import { ClientPool } from './support/clients.js';
import { MemoryTracerProvider } from './support/tracing.js';

// The global provider stands for the SDK an operator registers; tracing does not differ between modes.
describe('OpenTelemetry spans per frame (embedded)', () => {
  let env: TestEnvironment;
  let provider: MemoryTracerProvider;

  beforeAll(async () => {
    provider = new MemoryTracerProvider().install();
    env = await testEnvironment('embedded');
  });
  afterAll(async () => {
    provider?.uninstall();
    await env?.dispose();
  });
  beforeEach(() => {
    provider.spans.length = 0;
  });

  const sendOne = async (tracing: string, device: string) => {
    const server = await startTestServer(env, { OTEL_TRACING: tracing });
    const pool = new ClientPool(server.wsUrl);
    try {
      const { client } = await pool.connect({ device_id: device, identity: 'web', room_id: 'TRACE001' });
      await client.request('message.send', { room_id: 'TRACE001', kind: 'text', content: 'traced' });
    } finally {
      await pool.closeAll();
      await server.stop();
    }
  };

  it('with OTEL_TRACING=true, handles each frame inside a span roomcast.<type> with device and room', async () => {
    await sendOne('true', 'trace-on');
    const span = provider.spans.find((s) => s.name === 'roomcast.message.send');
    expect(span).toMatchObject({
      ended: true,
      attributes: { 'roomcast.device_id': 'trace-on', 'roomcast.room_id': 'TRACE001' },
    });
    expect(span!.attributes['roomcast.session_id']).toEqual(expect.any(String));
  });

  it('creates no span by default', async () => {
    await sendOne('false', 'trace-off');
    expect(provider.spans).toEqual([]);
  });
});
