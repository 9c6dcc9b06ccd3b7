import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, testEnvironment, type TestEnvironment, type TestServer } from './support/app.js';
import { ClientPool, eventually } from './support/clients.js';
import { MODES } from './support/services.js';

/** The value of one sample line, e.g. `roomcast_rooms` or `roomcast_queue_jobs{queue="audit",state="failed"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe.each(MODES)('/metrics (%s)', (mode) => {
  let env: TestEnvironment;
  let server: TestServer;
  let pool: ClientPool;

  const scrape = async () => {
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    return { text: await res.text(), contentType: res.headers.get('content-type') };
  };

  beforeAll(async () => {
    env = await testEnvironment(mode);
    server = await startTestServer(env);
    pool = new ClientPool(server.wsUrl);
  });

  afterAll(async () => {
    await pool?.closeAll();
    await server?.stop();
    await env?.dispose();
  });

  it('serves the Prometheus text format without the admin token', async () => {
    const { text, contentType } = await scrape();
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(text).toMatch(/^# HELP roomcast_connections /m);
    expect(text).toMatch(/^# TYPE roomcast_connections gauge$/m);
  });

  it('has connections, rooms, frames by type, queue depth per queue and state, dead letters and process metrics', async () => {
    const roomId = `MET${mode === 'embedded' ? 'E' : 'R'}0001`;
    const { client } = await pool.connect({
      device_id: `metrics-${mode === 'embedded' ? 'e' : 'r'}`,
      identity: 'web',
      room_id: roomId,
    });
    await client.ping();
    await client.request('message.send', { room_id: roomId, kind: 'text', content: 'hi' });

    // The frames counters are incremented as frames are handled; poll until the pong is counted.
    const text = await eventually(
      async () => (await scrape()).text,
      (t) => (sample(t, 'roomcast_frames_out_total{type="pong"}') ?? 0) >= 1,
    );
    expect(sample(text, 'roomcast_connections')).toBe(1);
    expect(sample(text, 'roomcast_rooms')).toBe(1);
    expect(sample(text, 'roomcast_frames_in_total{type="ping"}')).toBe(1);
    expect(sample(text, 'roomcast_frames_in_total{type="message.send"}')).toBe(1);
    expect(sample(text, 'roomcast_frames_out_total{type="ack"}')).toBeGreaterThanOrEqual(1);
    for (const queue of ['messages', 'audit']) {
      expect(sample(text, `roomcast_queue_up{queue="${queue}"}`)).toBe(1);
      for (const state of ['waiting', 'active', 'delayed', 'completed', 'failed']) {
        expect(
          sample(text, `roomcast_queue_jobs{queue="${queue}",state="${state}"}`),
          `${queue} ${state}`,
        ).toEqual(expect.any(Number));
      }
      expect(sample(text, `roomcast_jobs_dead_lettered_total{queue="${queue}"}`)).toBe(0);
    }
    expect(text).toMatch(/^roomcast_process_resident_memory_bytes \d+/m);
    expect(text).toMatch(/^roomcast_process_cpu_seconds_total /m);
    expect(text).toMatch(/^roomcast_nodejs_eventloop_lag_seconds /m);

    await client.close();
    const after = await eventually(
      async () => (await scrape()).text,
      (t) => sample(t, 'roomcast_connections') === 0,
    );
    expect(sample(after, 'roomcast_rooms')).toBe(0);
  });

  it('counts the stored messages as completed jobs of the messages queue', async () => {
    await eventually(
      async () => (await scrape()).text,
      (t) => (sample(t, 'roomcast_queue_jobs{queue="messages",state="completed"}') ?? 0) >= 1,
    );
  });
});
