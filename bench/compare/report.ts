/** The comparison's results: their shape, the printed tables, and the targets of issue 6. */

export type ServerName = 'ws' | 'socketio' | 'roomcast' | 'roomcast-embedded';

export const SERVER_LABELS: Record<ServerName, string> = {
  ws: 'plain ws',
  socketio: 'Socket.IO 4',
  roomcast: 'Roomcast (MySQL + Redis)',
  'roomcast-embedded': 'Roomcast (embedded, SQLite)',
};

export interface IdleResult {
  server: ServerName;
  connections: number;
  rssIdleBytes: number;
  rssLoadedBytes: number;
  /** (RSS loaded − RSS idle) / connections, both after a full GC. */
  rssPerConnBytes: number;
  heapPerConnBytes: number;
  connectPerSec: number;
}

export interface StepResult {
  step: number;
  /** Deliveries per second the generators aimed at (sends/s × (room size − 1)). */
  offeredPerSec: number;
  sendsPerSec: number;
  sent: number;
  failedSends: number;
  errors: Record<string, number>;
  expected: number;
  received: number;
  deliveredPerSec: number;
  lost: number;
  duplicates: number;
  outOfOrder: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  serverCpuS: number;
  /** MariaDB + Redis CPU in the same time. */
  servicesCpuS: number;
  cpuUsPerDelivery: number;
  /** Share of the whole machine's CPU time that was busy. */
  machineBusy: number;
  generatorBehindMs: number;
}

export interface FanoutResult {
  server: ServerName;
  topology: string;
  clients: number;
  perRoom: number;
  steps: StepResult[];
  /** The highest delivered rate of a step with p99 under the limit and nothing lost. */
  maxDeliveredPerSec: number;
  peakDeliveredPerSec: number;
}

export interface PersistenceResult {
  clients: number;
  window: number;
  durationS: number;
  sent: number;
  acked: number;
  failed: number;
  errors: Record<string, number>;
  ackedPerSec: number;
  rowsPerSecDuringSends: number;
  rowsPerSecOverall: number;
  lagAfterSendsMs: number;
  maxBacklog: number;
  rows: number;
  duplicateRows: number;
  /** null when some sends failed: the count check is then not conclusive. */
  exactlyOnce: boolean | null;
  ackP50: number;
  ackP99: number;
  serverCpuS: number;
  servicesCpuS: number;
}

export interface BenchResults {
  startedAt: string;
  finishedAt: string;
  quick: boolean;
  command: string;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string; kernel: string };
  settings: object;
  servers: ServerName[];
  idle: IdleResult[];
  fanout: FanoutResult[];
  persistence: PersistenceResult | null;
}

const num = (n: number, digits = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : 'n/a';
const kib = (bytes: number) => num(bytes / 1024, 1);

function table(head: string[], rows: string[][]): string {
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

export interface Target {
  target: string;
  measured: string;
  met: boolean | null;
}

/** Issue 6's targets, judged from this run's figures (null: not measured in this run). */
export function targets(r: BenchResults): Target[] {
  const out: Target[] = [];
  const fan = (server: ServerName, topology: string) =>
    r.fanout.find((f) => f.server === server && f.topology === topology);
  for (const topology of [...new Set(r.fanout.map((f) => f.topology))]) {
    const sio = fan('socketio', topology);
    for (const rc of ['roomcast', 'roomcast-embedded'] as const) {
      const mine = fan(rc, topology);
      if (!mine || !sio) continue;
      const ratio = mine.maxDeliveredPerSec / sio.maxDeliveredPerSec;
      out.push({
        target: `fan-out max delivered ≥ 1.5× Socket.IO, ${topology} (${SERVER_LABELS[rc]})`,
        measured: `${num(mine.maxDeliveredPerSec)}/s vs ${num(sio.maxDeliveredPerSec)}/s = ${num(ratio, 2)}×`,
        met: ratio >= 1.5,
      });
    }
  }
  // Both modes persist before the ack: through BullMQ into MySQL, or into the SQLite file.
  for (const rc of ['roomcast', 'roomcast-embedded'] as const) {
    const first = fan(rc, 'rooms of 10')?.steps[0];
    if (!first && rc === 'roomcast-embedded') continue;
    out.push({
      target: `p99 < 5 ms at ~9k deliveries/s, rooms of 10, persistence on (${SERVER_LABELS[rc]})`,
      measured: first ? `${num(first.p99, 2)} ms at ${num(first.deliveredPerSec)}/s` : 'not measured',
      met: first ? first.p99 < 5 : null,
    });
  }
  const largest = Math.max(0, ...r.idle.map((i) => i.connections));
  const idle = (server: ServerName) => r.idle.find((i) => i.server === server && i.connections === largest);
  const ws = idle('ws');
  for (const rc of ['roomcast', 'roomcast-embedded'] as const) {
    const mine = idle(rc);
    if (!mine) continue;
    const ratio = ws ? mine.rssPerConnBytes / ws.rssPerConnBytes : NaN;
    out.push({
      target: `idle RSS/conn ≤ 1.5× plain ws and ≤ 8 KiB, ${num(largest)} connections (${SERVER_LABELS[rc]})`,
      measured: `${kib(mine.rssPerConnBytes)} KiB vs ${ws ? kib(ws.rssPerConnBytes) : 'n/a'} KiB = ${num(ratio, 2)}×`,
      // Over 8 KiB fails on its own; under it, the ratio decides, unknown without a ws run.
      met: mine.rssPerConnBytes > 8 * 1024 ? false : ws ? ratio <= 1.5 : null,
    });
  }
  const p = r.persistence;
  out.push({
    target: '≥ 20,000 messages/s persisted sustained, 0 lost, 0 duplicated',
    measured: p
      ? `${num(p.rowsPerSecOverall)} rows/s (acks ${num(p.ackedPerSec)}/s); ${p.acked - Math.min(p.acked, p.rows)} missing, ${p.duplicateRows} duplicated`
      : 'not measured',
    met: p ? p.rowsPerSecOverall >= 20_000 && p.exactlyOnce === true : null,
  });
  return out;
}

export function markdownTables(r: BenchResults): string {
  const parts: string[] = [];
  if (r.idle.length)
    parts.push(
      '### (a) Idle connections (rooms of 10; after a full GC)\n\n' +
        table(
          [
            'server',
            'connections',
            'RSS idle MiB',
            'RSS loaded MiB',
            'RSS KiB/conn',
            'heap KiB/conn',
            'connects/s',
          ],
          r.idle.map((i) => [
            SERVER_LABELS[i.server],
            num(i.connections),
            num(i.rssIdleBytes / 1024 ** 2),
            num(i.rssLoadedBytes / 1024 ** 2),
            kib(i.rssPerConnBytes),
            kib(i.heapPerConnBytes),
            num(i.connectPerSec),
          ]),
        ),
    );
  if (r.fanout.length) {
    parts.push(
      '### (b) Fan-out at the first step, (c) ramp, (e) server CPU\n\n' +
        'First step: rooms of 10 at 1 msg/s per client (~9k deliveries/s). Max: the highest delivered rate of a step with p99 < 50 ms and nothing lost; peak: the highest of any step.\n\n' +
        table(
          [
            'server',
            'topology',
            'first step delivered/s',
            'p50 ms',
            'p95 ms',
            'p99 ms',
            'max ms',
            'lost',
            'dup',
            'out of order',
            'CPU µs/delivery',
            'max delivered/s (p99 < 50 ms)',
            'peak delivered/s',
            'CPU µs/delivery at max',
          ],
          r.fanout.map((f) => {
            const s = f.steps[0];
            const atMax = f.steps.find((x) => x.deliveredPerSec === f.maxDeliveredPerSec);
            return [
              SERVER_LABELS[f.server],
              f.topology,
              num(s.deliveredPerSec),
              num(s.p50, 2),
              num(s.p95, 2),
              num(s.p99, 2),
              num(s.max, 1),
              num(s.lost),
              num(s.duplicates),
              num(s.outOfOrder),
              num(s.cpuUsPerDelivery, 2),
              num(f.maxDeliveredPerSec),
              num(f.peakDeliveredPerSec),
              atMax ? num(atMax.cpuUsPerDelivery, 2) : 'n/a',
            ];
          }),
        ),
    );
    parts.push(
      '#### Every ramp step\n\n' +
        table(
          [
            'server',
            'topology',
            'step',
            'offered/s',
            'delivered/s',
            'p50',
            'p99',
            'max',
            'lost',
            'dup',
            'ooo',
            'failed sends',
            'server CPU s',
            'DB+Redis CPU s',
            'µs/delivery',
            'machine busy',
          ],
          r.fanout.flatMap((f) =>
            f.steps.map((s) => [
              SERVER_LABELS[f.server],
              f.topology,
              String(s.step),
              num(s.offeredPerSec),
              num(s.deliveredPerSec),
              num(s.p50, 2),
              num(s.p99, 2),
              num(s.max, 1),
              num(s.lost),
              num(s.duplicates),
              num(s.outOfOrder),
              num(s.failedSends),
              num(s.serverCpuS, 2),
              num(s.servicesCpuS, 2),
              num(s.cpuUsPerDelivery, 2),
              `${num(100 * s.machineBusy)} %`,
            ]),
          ),
        ),
    );
  }
  const p = r.persistence;
  if (p)
    parts.push(
      '### (d) Persistence: Roomcast, message.send → BullMQ → MySQL\n\n' +
        table(
          [
            'clients × in flight',
            'send time s',
            'acked',
            'failed',
            'acks/s',
            'ack p50 / p99 ms',
            'rows/s while sending',
            'rows/s overall',
            'lag after sends ms',
            'rows',
            'duplicate rows',
            'exactly once',
            'server / DB+Redis CPU s',
          ],
          [
            [
              `${p.clients} × ${p.window}`,
              num(p.durationS, 1),
              num(p.acked),
              num(p.failed),
              num(p.ackedPerSec),
              `${num(p.ackP50, 1)} / ${num(p.ackP99, 1)}`,
              num(p.rowsPerSecDuringSends),
              num(p.rowsPerSecOverall),
              num(p.lagAfterSendsMs),
              num(p.rows),
              num(p.duplicateRows),
              p.exactlyOnce === null ? 'inconclusive (failed sends)' : p.exactlyOnce ? 'yes' : '**no**',
              `${num(p.serverCpuS, 1)} / ${num(p.servicesCpuS, 1)}`,
            ],
          ],
        ),
    );
  parts.push(
    '### Targets\n\n' +
      table(
        ['target', 'measured', 'met'],
        targets(r).map((t) => [t.target, t.measured, t.met === null ? 'n/a' : t.met ? 'yes' : '**no**']),
      ),
  );
  return parts.join('\n\n');
}

export function printTable(r: BenchResults): void {
  console.log(`\n${markdownTables(r)}\n`);
}

/** The section of docs/performance.md with the latest run. */
export function markdownReport(r: BenchResults, jsonPath: string, svgPath: string): string {
  return `Run of ${r.startedAt} (\`${r.command}\`, ${Math.round((Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000)} s) on ${r.machine.cpus} × ${r.machine.cpuModel}, ${r.machine.memoryGiB} GiB, Node ${r.machine.node}. Raw figures: [\`${jsonPath}\`](../${jsonPath}).

![comparison chart](../${svgPath})

${markdownTables(r)}`;
}
