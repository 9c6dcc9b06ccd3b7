import 'reflect-metadata';
import { startApp } from './bootstrap.js';
import { ConfigError, loadConfig } from './config/load-config.js';

try {
  const config = loadConfig();
  const { close } = await startApp(config);
  // app.close() runs every module's shutdown hooks (sockets closed with 1001, workers drained).
  // Nest's enableShutdownHooks() is not used: it re-raises the signal, and the contract wants exit 0.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      // Past the budget, in-flight BullMQ jobs are left active; their lock expires and another
      // worker takes them (stalled-job recovery), so exiting is still safe.
      setTimeout(() => {
        console.error(`shutdown exceeded SHUTDOWN_TIMEOUT_MS=${config.SHUTDOWN_TIMEOUT_MS}; exiting`);
        process.exit(0);
      }, config.SHUTDOWN_TIMEOUT_MS).unref();
      void close().then(() => process.exit(0));
    });
  }
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`roomcast: ${err.message}`);
    process.exit(78);
  }
  throw err;
}
