import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { type Counter, Registry } from 'prom-client';
import { AppConfig } from '../config/app-config.js';

/** How busy this node was over the last LOAD_WINDOW_MS (reported in /api/stats and the cluster heartbeat). */
export interface NodeLoadSample {
  window_s: number;
  /** Event-loop delay beyond the expected tick, in milliseconds. */
  event_loop_lag_ms: { mean: number; p99: number; max: number };
  /** Process CPU time (user + system) over wall time: 100 is one core busy. */
  cpu_percent: number;
  frames_in_per_s: number;
  frames_out_per_s: number;
}

interface Baseline {
  at: number;
  cpu: NodeJS.CpuUsage;
  framesIn: number;
  framesOut: number;
}

/**
 * Samples the node's load every LOAD_WINDOW_MS: event-loop delay, CPU, and frame rates read
 * from the gateway's frame counters (absent in a worker: 0). Before the first window ends,
 * the figures cover the time since start.
 */
@Injectable()
export class NodeLoad implements OnModuleDestroy {
  private readonly delay: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  private readonly timer: NodeJS.Timeout;
  private baseline: Baseline = { at: Date.now(), cpu: process.cpuUsage(), framesIn: 0, framesOut: 0 };
  private last?: NodeLoadSample;

  constructor(
    private readonly registry: Registry,
    config: AppConfig,
  ) {
    this.delay.enable();
    this.timer = setInterval(() => void this.tick(), config.LOAD_WINDOW_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
    this.delay.disable();
  }

  async current(): Promise<NodeLoadSample> {
    return this.last ?? (await this.measure()).sample;
  }

  private async tick(): Promise<void> {
    const { sample, now } = await this.measure();
    this.last = sample;
    this.baseline = now;
    this.delay.reset();
  }

  private async measure(): Promise<{ sample: NodeLoadSample; now: Baseline }> {
    const [framesIn, framesOut] = await Promise.all([
      this.total('roomcast_frames_in_total'),
      this.total('roomcast_frames_out_total'),
    ]);
    const now: Baseline = { at: Date.now(), cpu: process.cpuUsage(), framesIn, framesOut };
    const seconds = Math.max(0.001, (now.at - this.baseline.at) / 1000);
    const cpuMicros = now.cpu.user - this.baseline.cpu.user + now.cpu.system - this.baseline.cpu.system;
    const ms = (ns: number) => round(Number.isFinite(ns) ? ns / 1e6 : 0);
    const sampled = this.delay.count > 0;
    return {
      now,
      sample: {
        window_s: round(seconds),
        event_loop_lag_ms: {
          mean: sampled ? ms(this.delay.mean) : 0,
          p99: sampled ? ms(this.delay.percentile(99)) : 0,
          max: sampled ? ms(this.delay.max) : 0,
        },
        cpu_percent: round(cpuMicros / 1e4 / seconds),
        frames_in_per_s: round((framesIn - this.baseline.framesIn) / seconds),
        frames_out_per_s: round((framesOut - this.baseline.framesOut) / seconds),
      },
    };
  }

  /** The sum over every label of a counter, 0 when this process has none. */
  private async total(name: string): Promise<number> {
    const metric = this.registry.getSingleMetric(name) as Counter | undefined;
    if (!metric) return 0;
    return (await metric.get()).values.reduce((sum, v) => sum + v.value, 0);
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
