/**
 * Preloaded (--import) into every server process a benchmark starts (bench/cluster, bench/compare);
 * plain JS because the TypeScript loader does not apply to other --import modules. Three things,
 * none touching the server's own code:
 *
 * - If the benchmark process dies without cleaning up (even SIGKILL), the server notices that
 *   its parent changed and stops itself with SIGTERM, so no server outlives a run.
 * - SIGUSR2 runs a full garbage collection (the process is started with --expose-gc), so that
 *   idle and loaded memory are compared without garbage in them.
 * - After that GC, with RC_BENCH_MEMORY_FILE set, process.memoryUsage() is written to that file:
 *   the heap of servers that have no stats endpoint (the reference servers) can be read too.
 */
import { writeFileSync } from 'node:fs';

const parent = Number(process.env.RC_BENCH_PARENT_PID);
if (parent) {
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    process.kill(process.pid, 'SIGTERM');
  }, 1000);
  timer.unref();
}

const memoryFile = process.env.RC_BENCH_MEMORY_FILE;
process.on('SIGUSR2', () => {
  globalThis.gc?.();
  if (memoryFile) writeFileSync(memoryFile, JSON.stringify(process.memoryUsage()));
});
