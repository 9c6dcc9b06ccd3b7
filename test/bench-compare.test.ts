/**
 * The building blocks of `npm run bench` (bench/compare), minimally: the reference servers
 * deliver a publish to the other members of the room only, the clients report what they hear,
 * the histogram's percentiles, the targets and the SVG chart. No timing assertions.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { renderChart } from '../bench/compare/chart.js';
import { connectClient, type BenchClient, type Payload } from '../bench/compare/clients.js';
import { Histogram } from '../bench/compare/histogram.js';
import {
  startSocketIoServer,
  startWsServer,
  type RunningServer,
} from '../bench/compare/reference-servers.js';
import { markdownTables, targets, type BenchResults, type StepResult } from '../bench/compare/report.js';

const opened: Array<{ close(): void } | RunningServer> = [];
afterEach(async () => {
  for (const o of opened.splice(0).reverse()) await o.close();
});

describe.each([
  { kind: 'ws' as const, start: startWsServer, url: (port: number) => `ws://127.0.0.1:${port}/` },
  {
    kind: 'socketio' as const,
    start: startSocketIoServer,
    url: (port: number) => `http://127.0.0.1:${port}`,
  },
])('reference server $kind', ({ kind, start, url }) => {
  it('delivers a publish to the other members of the room, not to the sender or other rooms', async () => {
    const server = await start();
    opened.push(server);
    const heard: Array<{ who: string; payload: Payload }> = [];
    const join = async (who: string, room: string): Promise<BenchClient> => {
      const client = await connectClient({
        kind,
        url: url(server.port),
        room,
        deviceId: who,
        localAddress: '127.0.0.1',
        timeoutMs: 5000,
        onPayload: (payload) => heard.push({ who, payload }),
      });
      opened.push(client);
      return client;
    };
    const sender = await join('a', 'R1');
    await join('b', 'R1');
    await join('c', 'R1');
    await join('d', 'R2');
    const payload: Payload = { s: 0, n: 7, t: 1234.5, k: 1 };
    await sender.publish(payload, 'm1');
    await expect.poll(() => heard.length).toBe(2);
    // One more round trip: a stray delivery to the sender or the other room would have come by now.
    await sender.publish({ ...payload, n: 8 }, 'm2');
    await expect.poll(() => heard.length).toBe(4);
    expect(heard.map((h) => h.who).sort()).toEqual(['b', 'b', 'c', 'c']);
    expect(heard.find((h) => h.who === 'b')!.payload).toEqual(payload);
  });
});

describe('Histogram', () => {
  it('gives bucket upper edges as percentiles and the exact max, also after merging', () => {
    const a = new Histogram();
    for (let i = 1; i <= 99; i++) a.record(1);
    const b = new Histogram();
    b.record(250.123);
    const merged = new Histogram();
    merged.add(a.toSparse());
    merged.add(b.toSparse());
    expect(merged.count).toBe(100);
    expect(merged.percentile(50)).toBeCloseTo(1.05, 5);
    expect(merged.percentile(99)).toBeCloseTo(1.05, 5);
    expect(merged.percentile(100)).toBe(250.123);
    expect(new Histogram().percentile(99)).toBeNaN();
  });
});

function step(deliveredPerSec: number, p99: number): StepResult {
  return {
    step: 1,
    offeredPerSec: deliveredPerSec,
    sendsPerSec: deliveredPerSec / 9,
    sent: 0,
    failedSends: 0,
    errors: {},
    expected: 0,
    received: 0,
    deliveredPerSec,
    lost: 0,
    duplicates: 0,
    outOfOrder: 0,
    p50: p99 / 2,
    p95: p99,
    p99,
    max: p99 * 2,
    serverCpuS: 1,
    servicesCpuS: 0,
    cpuUsPerDelivery: 3,
    machineBusy: 0.5,
    generatorBehindMs: 0,
  };
}

const results: BenchResults = {
  startedAt: '2026-01-01T00:00:00.000Z',
  finishedAt: '2026-01-01T00:05:00.000Z',
  quick: true,
  command: 'npm run bench -- --quick',
  machine: { cpus: 2, cpuModel: 'test <cpu> & co', memoryGiB: 1, node: 'v20', kernel: 'x' },
  settings: {},
  servers: ['ws', 'socketio', 'roomcast'],
  idle: [
    {
      server: 'ws',
      connections: 100,
      rssIdleBytes: 0,
      rssLoadedBytes: 0,
      rssPerConnBytes: 5000,
      heapPerConnBytes: 2000,
      connectPerSec: 1,
    },
    {
      server: 'roomcast',
      connections: 100,
      rssIdleBytes: 0,
      rssLoadedBytes: 0,
      rssPerConnBytes: 9000,
      heapPerConnBytes: 7000,
      connectPerSec: 1,
    },
  ],
  fanout: (['ws', 'socketio', 'roomcast'] as const).map((server, i) => ({
    server,
    topology: 'rooms of 10',
    clients: 100,
    perRoom: 10,
    steps: [step(9000, 1 + i)],
    maxDeliveredPerSec: [150_000, 80_000, 100_000][i],
    peakDeliveredPerSec: [150_000, 80_000, 100_000][i],
  })),
  persistence: null,
};

describe('report', () => {
  it('judges the targets from the figures', () => {
    const byTarget = Object.fromEntries(targets(results).map((t) => [t.target.split(',')[0], t.met]));
    // 100k vs 80k is 1.25×, under 1.5×; p99 3 ms < 5 ms; 9000 B/conn is over 8 KiB; no persistence run.
    expect(byTarget['fan-out max delivered ≥ 1.5× Socket.IO']).toBe(false);
    expect(byTarget['p99 < 5 ms at ~9k deliveries/s']).toBe(true);
    expect(byTarget['idle RSS/conn ≤ 1.5× plain ws and ≤ 8 KiB']).toBe(false);
    expect(byTarget['≥ 20']).toBeNull();
    expect(markdownTables(results)).toContain('| plain ws | rooms of 10 | 9,000 |');
  });

  it('judges the latency target for each Roomcast mode that ran', () => {
    const embedded = { ...results.fanout[2], server: 'roomcast-embedded' as const, steps: [step(9000, 6)] };
    const latency = (r: BenchResults) =>
      targets(r)
        .filter((t) => t.target.startsWith('p99 < 5 ms'))
        .map((t) => [t.target.replace(/.*persistence on /, ''), t.met]);
    expect(latency({ ...results, fanout: [...results.fanout, embedded] })).toEqual([
      ['(Roomcast (MySQL + Redis))', true],
      ['(Roomcast (embedded, SQLite))', false],
    ]);
    // Without MySQL and Redis the target still shows, as not measured.
    expect(latency({ ...results, fanout: [results.fanout[1], embedded] })).toEqual([
      ['(Roomcast (MySQL + Redis))', null],
      ['(Roomcast (embedded, SQLite))', false],
    ]);
  });

  it('judges the idle RSS target against plain ws only when ws ran', () => {
    const rss = (r: BenchResults) => targets(r).find((t) => t.target.startsWith('idle RSS'))?.met;
    const roomcast = (bytes: number) => ({ ...results.idle[1], rssPerConnBytes: bytes });
    expect(rss({ ...results, idle: [results.idle[0], roomcast(7000)] })).toBe(true);
    expect(rss({ ...results, idle: [results.idle[0], roomcast(8000)] })).toBe(false); // 1.6× ws
    expect(rss({ ...results, idle: [roomcast(7000)] })).toBeNull();
    expect(rss({ ...results, idle: [roomcast(9000)] })).toBe(false);
  });

  it('renders a well-formed SVG with one bar per server and panel', () => {
    const svg = renderChart(results);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    // Every tag closed in order, and no bare & or < in text.
    const stack: string[] = [];
    for (const [, close, name, selfClosing] of svg.matchAll(/<(\/?)([a-z]+)[^>]*?(\/?)>/g)) {
      if (close) expect(stack.pop()).toBe(name);
      else if (!selfClosing) stack.push(name);
    }
    expect(stack).toEqual([]);
    expect(svg.replace(/<[^>]*>/g, '')).not.toMatch(/&(?!amp;|lt;|gt;|quot;)|</);
    // Max delivered (3 bars), p99 at the first step (3 bars), idle RSS (2 bars), plus the background.
    expect(svg.match(/<rect /g)).toHaveLength(3 + 3 + 2 + 1);
    expect(svg).toContain('Roomcast (MySQL + Redis)');
  });
});
