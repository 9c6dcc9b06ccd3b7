/** The comparison as an SVG bar chart: one panel per headline figure, one bar per server. */
import { SERVER_LABELS, type BenchResults, type ServerName } from './report.js';

const COLORS: Record<ServerName, string> = {
  ws: '#4c78a8',
  socketio: '#f58518',
  roomcast: '#54a24b',
  'roomcast-embedded': '#b279a2',
};

interface Panel {
  title: string;
  unit: string;
  bars: Array<{ server: ServerName; value: number }>;
}

const escape = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function panels(r: BenchResults): Panel[] {
  const out: Panel[] = [];
  for (const topology of [...new Set(r.fanout.map((f) => f.topology))]) {
    const runs = r.fanout.filter((f) => f.topology === topology);
    out.push({
      title: `Max delivered msgs/s with p99 < 50 ms, ${topology} (higher is better)`,
      unit: '/s',
      bars: runs.map((f) => ({ server: f.server, value: f.maxDeliveredPerSec })),
    });
    out.push({
      title: `p99 latency at the first step (${runs[0].steps[0] ? Math.round(runs[0].steps[0].offeredPerSec).toLocaleString('en-US') : '?'} deliveries/s), ${topology} (lower is better)`,
      unit: ' ms',
      bars: runs.map((f) => ({ server: f.server, value: f.steps[0]?.p99 ?? NaN })),
    });
  }
  const largest = Math.max(0, ...r.idle.map((i) => i.connections));
  if (largest)
    out.push({
      title: `Idle RSS per connection at ${largest.toLocaleString('en-US')} connections, KiB (lower is better)`,
      unit: ' KiB',
      bars: r.idle
        .filter((i) => i.connections === largest)
        .map((i) => ({ server: i.server, value: i.rssPerConnBytes / 1024 })),
    });
  return out;
}

export function renderChart(r: BenchResults): string {
  const width = 860;
  const labelWidth = 230;
  const barHeight = 22;
  const gap = 6;
  const parts: string[] = [];
  let y = 40;
  parts.push(
    `<text x="20" y="26" font-size="16" font-weight="bold">${escape(`Roomcast vs plain ws vs Socket.IO — ${r.startedAt}${r.quick ? ' (quick run)' : ''}`)}</text>`,
  );
  for (const panel of panels(r)) {
    y += 18;
    parts.push(`<text x="20" y="${y}" font-size="13" font-weight="bold">${escape(panel.title)}</text>`);
    y += 8;
    const finite = panel.bars.map((b) => b.value).filter(Number.isFinite);
    const max = Math.max(1e-9, ...finite);
    for (const bar of panel.bars) {
      const value = Number.isFinite(bar.value) ? bar.value : 0;
      const w = Math.max(1, ((width - labelWidth - 120) * value) / max);
      const digits = value < 10 ? 2 : value < 100 ? 1 : 0;
      const shown = Number.isFinite(bar.value)
        ? `${bar.value.toLocaleString('en-US', { maximumFractionDigits: digits })}${panel.unit}`
        : 'n/a';
      parts.push(
        `<text x="${labelWidth - 8}" y="${y + 15}" font-size="12" text-anchor="end">${escape(SERVER_LABELS[bar.server])}</text>`,
        `<rect x="${labelWidth}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" fill="${COLORS[bar.server]}"/>`,
        `<text x="${(labelWidth + w + 6).toFixed(1)}" y="${y + 15}" font-size="12">${escape(shown)}</text>`,
      );
      y += barHeight + gap;
    }
    y += 6;
  }
  const height = y + 20;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
${parts.join('\n')}
</svg>
`;
}
