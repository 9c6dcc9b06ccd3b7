import { fileURLToPath } from 'node:url';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

const lib = (name: string) => fileURLToPath(new URL(`./libs/${name}/src/index.ts`, import.meta.url));

export default defineConfig({
  // SWC instead of esbuild: Nest's DI reads constructor types from emitted decorator metadata.
  plugins: [swc.vite({ module: { type: 'es6' } })],
  resolve: { alias: { '#protocol': lib('protocol'), '#client': lib('client') } },
  test: {
    globals: false,
    include: ['src/**/*.spec.ts', 'libs/**/*.spec.ts', 'test/**/*.test.ts'],
    // End-to-end tests start real servers and talk to MySQL/Redis.
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
