import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, serve } from './support/app.js';
import { eventually } from './support/clients.js';
import { MODES } from './support/services.js';

interface Load {
  window_s: number;
  event_loop_lag_ms: { mean: number; p99: number; max: number };
  cpu_percent: number;
  frames_in_per_s: number;
  frames_out_per_s: number;
}

describe.each(MODES)('/api/stats load figures (%s)', (mode) => {
  const served = serve(mode, { LOAD_WINDOW_MS: '300', CLUSTER_NODE_TIMEOUT_MS: '2000' });

  const stats = async () => {
    const res = await fetch(`${served.server.url}/api/stats`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(res.status).toBe(200);
    return (await res.json()) as {
      load: Load;
      cluster: { nodes: Array<{ node_id: string; load?: Load }> } | null;
    };
  };

  it("gives this node's event-loop lag, CPU and frame rates over LOAD_WINDOW_MS, and each node's in the cluster rows", async () => {
    const { client } = await served.pool.connect({
      device_id: `load-${mode === 'embedded' ? 'e' : 'r'}`,
      identity: 'web',
      room_id: mode === 'embedded' ? 'LOADE001' : 'LOADR001',
    });
    // Frames keep flowing until a window that saw them is reported.
    let sending = true;
    const pings = (async () => {
      while (sending) await client.ping();
    })();
    try {
      const body = await eventually(stats, (b) => b.load.frames_in_per_s > 0 && b.load.frames_out_per_s > 0);
      expect(body.load.window_s).toBeGreaterThan(0);
      expect(body.load.window_s).toBeLessThan(5);
      expect(body.load.cpu_percent).toBeGreaterThan(0);
      for (const figure of ['mean', 'p99', 'max'] as const) {
        expect(body.load.event_loop_lag_ms[figure]).toBeGreaterThanOrEqual(0);
      }
      expect(body.load.event_loop_lag_ms.max).toBeGreaterThanOrEqual(body.load.event_loop_lag_ms.p99);

      const withRow = await eventually(stats, (b) =>
        Boolean(b.cluster?.nodes.find((n) => n.node_id === served.server.config.NODE_ID)?.load),
      );
      const row = withRow.cluster!.nodes.find((n) => n.node_id === served.server.config.NODE_ID)!;
      expect(row.load).toMatchObject({
        window_s: expect.any(Number),
        cpu_percent: expect.any(Number),
        frames_in_per_s: expect.any(Number),
        event_loop_lag_ms: { p99: expect.any(Number) },
      });
    } finally {
      sending = false;
      await pings;
    }
  });
});
