import { readFileSync } from 'node:fs';
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

  it('times deliveries and counts fan-out once per room message, and times the jobs from enqueue to start', async () => {
    const roomId = `MET${mode === 'embedded' ? 'E' : 'R'}0002`;
    const before = (await scrape()).text;
    const [a, b, c] = await Promise.all(
      ['a', 'b', 'c'].map((n) =>
        pool.connect({
          device_id: `lat-${mode === 'embedded' ? 'e' : 'r'}-${n}`,
          identity: 'web',
          room_id: roomId,
        }),
      ),
    );
    const received = Promise.all([b.client.waitFor('message'), c.client.waitFor('message')]);
    await a.client.request('message.send', { room_id: roomId, kind: 'text', content: 'timed' });
    await received;

    const text = await eventually(
      async () => (await scrape()).text,
      (t) =>
        (sample(t, 'roomcast_delivery_latency_seconds_count') ?? 0) >
        (sample(before, 'roomcast_delivery_latency_seconds_count') ?? 0),
    );
    const grew = (series: string) => (sample(text, series) ?? 0) - (sample(before, series) ?? 0);
    // One message, two recipients on this node: one observation of each histogram.
    expect(grew('roomcast_delivery_latency_seconds_count')).toBe(1);
    expect(grew('roomcast_fanout_recipients_count')).toBe(1);
    expect(grew('roomcast_fanout_recipients_sum')).toBe(2);
    expect(sample(text, 'roomcast_delivery_latency_seconds_bucket{le="+Inf"}')).toBe(
      sample(text, 'roomcast_delivery_latency_seconds_count'),
    );
    expect(grew('roomcast_handshakes_total{outcome="ok"}')).toBe(3);
    expect(sample(text, 'roomcast_job_wait_seconds_count{queue="messages"}')).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^roomcast_nodejs_heap_size_used_bytes \d+/m);
    await Promise.all([a, b, c].map(({ client }) => client.close()));
  });

  it('serves every series the example Grafana dashboard (docs/grafana-dashboard.json) queries', async () => {
    const dashboard = JSON.parse(
      readFileSync(new URL('../docs/grafana-dashboard.json', import.meta.url), 'utf8'),
    ) as {
      templating: { list: Array<{ name: string; type: string }> };
      panels: Array<{ type: string; targets?: Array<{ expr: string }> }>;
    };
    expect(dashboard.templating.list).toContainEqual(
      expect.objectContaining({ name: 'datasource', type: 'datasource' }),
    );
    const queried = new Set(
      dashboard.panels
        .flatMap((p) => p.targets ?? [])
        .flatMap((t) => t.expr.match(/roomcast_[a-z0-9_]+/g) ?? [])
        .map((name) => name.replace(/_(bucket|sum|count)$/, '')),
    );
    expect(queried.size).toBeGreaterThan(10);
    const { text } = await scrape();
    for (const name of queried) expect(text, name).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
  });

  it('documents every roomcast_* series it serves in docs/operations.md', async () => {
    const docs = readFileSync(new URL('../docs/operations.md', import.meta.url), 'utf8');
    const { text } = await scrape();
    const served = [...text.matchAll(/^# TYPE (roomcast_[a-z0-9_]+) /gm)]
      .map((m) => m[1])
      .filter((name) => !/^roomcast_(process|nodejs)_/.test(name));
    expect(served.length).toBeGreaterThan(10);
    for (const name of served) expect(docs, name).toContain(`\`${name}`);
  });

  it('counts the stored messages as completed jobs of the messages queue', async () => {
    await eventually(
      async () => (await scrape()).text,
      (t) => (sample(t, 'roomcast_queue_jobs{queue="messages",state="completed"}') ?? 0) >= 1,
    );
  });
});
