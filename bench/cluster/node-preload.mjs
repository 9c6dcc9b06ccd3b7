/**
 * Preloaded (--import) into every server node the benchmark starts; plain JS because the
 * TypeScript loader does not apply to other --import modules. Two things, neither touching
 * the server's own code:
 *
 * - If the benchmark process dies without cleaning up (even SIGKILL), the node notices that
 *   its parent changed and stops itself with SIGTERM, so no node outlives a run.
 * - SIGUSR2 runs a full garbage collection (the node is started with --expose-gc), so that
 *   idle and loaded memory are compared without garbage in them.
 */
const parent = Number(process.env.RC_BENCH_PARENT_PID);
if (parent) {
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    process.kill(process.pid, 'SIGTERM');
  }, 1000);
  timer.unref();
}

process.on('SIGUSR2', () => globalThis.gc?.());
