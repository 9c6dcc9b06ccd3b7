#!/usr/bin/env node
// `npm test`: type-check, probe MySQL and Redis, run every Vitest suite once, and close with the
// line `tests: N passed, M failed[, K skipped]`.
//
//   npm test                      everything; service-backed variants only if MySQL and Redis answer
//   REQUIRE_SERVICES=1 npm test   MySQL, Redis and Chromium must answer (CI): otherwise the run fails
//   npm test -- test/rooms        extra arguments go to `vitest run` (file filters, -t, ...)
//
// Environment: RC_TEST_MYSQL_URL (default mysql://root@127.0.0.1:3306), RC_TEST_REDIS_URL
// (default redis://127.0.0.1:6379), RC_TEST_CHROMIUM (default /usr/bin/chromium, for the browser
// suites), SKIP_TYPECHECK=1, RC_TEST_RUN_TIMEOUT_MS (default 45 min).
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const env = process.env;
const truthy = (v) => ['1', 'true', 'yes', 'on'].includes(String(v ?? '').toLowerCase());
const requireServices = truthy(env.REQUIRE_SERVICES);
const mysqlUrl = env.RC_TEST_MYSQL_URL || 'mysql://root@127.0.0.1:3306';
const redisUrl = env.RC_TEST_REDIS_URL || 'redis://127.0.0.1:6379';
const chromiumPath = env.RC_TEST_CHROMIUM || '/usr/bin/chromium';
const PROBE_TIMEOUT_MS = 3000;
const RUN_TIMEOUT_MS = Number(env.RC_TEST_RUN_TIMEOUT_MS || 45 * 60 * 1000);

const log = (line = '') => process.stdout.write(`${line}\n`);
const heading = (text) => log(`\n== ${text}`);

/** Runs a command with inherited output; resolves with its exit code (signal or timeout: 1). */
function run(cmd, args, options = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, stdio: 'inherit', ...options });
    const timer = options.timeoutMs
      ? setTimeout(() => {
          log(`run-tests: ${args.join(' ')} still running after ${options.timeoutMs} ms; stopping it`);
          child.kill('SIGTERM');
          setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
        }, options.timeoutMs)
      : undefined;
    child.on('error', (err) => {
      log(`run-tests: could not start ${cmd}: ${err.message}`);
      resolve(1);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const redact = (url) => url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
const reason = (err) =>
  (
    (err &&
      (err.code && !String(err.message).includes(err.code) ? `${err.code}: ${err.message}` : err.message)) ||
    String(err)
  ).replace(/\.$/, '');

async function probeMysql(url) {
  const { createConnection } = await import('mysql2/promise');
  const u = new URL(url);
  let conn;
  try {
    conn = await withTimeout(
      createConnection({
        host: u.hostname,
        port: Number(u.port || 3306),
        user: decodeURIComponent(u.username),
        password: decodeURIComponent(u.password),
        connectTimeout: PROBE_TIMEOUT_MS,
      }),
      PROBE_TIMEOUT_MS + 500,
      'connect',
    );
    await withTimeout(conn.query('SELECT 1'), PROBE_TIMEOUT_MS, 'SELECT 1');
  } finally {
    conn?.destroy();
  }
}

async function probeRedis(url) {
  const { Redis } = await import('ioredis');
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: PROBE_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  let lastError;
  redis.on('error', (err) => (lastError = err)); // names the cause better than "Connection is closed"
  try {
    await withTimeout(redis.connect(), PROBE_TIMEOUT_MS + 500, 'connect').catch((err) => {
      throw lastError ?? err;
    });
    const pong = await withTimeout(redis.ping(), PROBE_TIMEOUT_MS, 'PING');
    if (pong !== 'PONG') throw new Error(`PING answered ${pong}`);
  } finally {
    redis.disconnect();
  }
}

/** Runs `chromium --version`: the binary (Debian's is a wrapper script) starts, without a display. */
function probeChromium(path) {
  return new Promise((resolve, reject) => {
    execFile(path, ['--version'], { timeout: PROBE_TIMEOUT_MS * 3 }, (err, stdout) => {
      if (err) reject(err);
      else if (!/chrom/i.test(stdout))
        reject(new Error(`--version printed ${JSON.stringify(stdout.trim())}`));
      else resolve();
    });
  });
}

async function probe(name, url, fn) {
  try {
    await fn(url);
    log(`  ${name.padEnd(8)} ${redact(url)}: ok`);
    return undefined;
  } catch (err) {
    const why = reason(err);
    log(`  ${name.padEnd(8)} ${redact(url)}: NOT AVAILABLE (${why})`);
    return `${name} at ${redact(url)}: ${why}`;
  }
}

/**
 * Test files whose source matches `marker`: the mysql+redis variants use MODES or
 * servicesAvailable (test/support/services), the browser suites browserAvailable (test/support/browser).
 */
function suitesUsing(marker) {
  const found = [];
  const walk = (dir) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'node_modules' && e.name !== 'support') walk(p);
      } else if (/\.(spec|test)\.ts$/.test(e.name) && marker.test(readFileSync(p, 'utf8'))) {
        found.push(relative(root, p));
      }
    }
  };
  for (const d of ['test', 'src', 'libs']) walk(join(root, d));
  return found.sort();
}

function readReport(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

const problems = [];

// 1. Types ------------------------------------------------------------------------------------
if (truthy(env.SKIP_TYPECHECK)) {
  heading('type check skipped (SKIP_TYPECHECK)');
} else {
  heading('type check: tsc --noEmit -p tsconfig.json');
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const code = await run(process.execPath, [tsc, '--noEmit', '-p', 'tsconfig.json']);
  if (code === 0) log('type check: ok');
  else {
    log('type check: FAILED (errors above); the tests still run, but the run fails');
    problems.push('type check failed (tsc --noEmit)');
  }
}

// 2. Services ---------------------------------------------------------------------------------
heading('services');
const [mysqlDown, redisDown, browserDown] = await Promise.all([
  probe('MySQL', mysqlUrl, probeMysql),
  probe('Redis', redisUrl, probeRedis),
  probe('Chromium', chromiumPath, probeChromium),
]);
const down = [mysqlDown, redisDown].filter(Boolean);
if (requireServices && (down.length || browserDown)) {
  for (const d of [...down, browserDown].filter(Boolean)) log(`run-tests: REQUIRE_SERVICES=1 but ${d}`);
  log('run-tests: failing without running tests: the service-backed and browser suites are required');
  process.exit(1);
}
const childEnv = { ...env };
if (down.length === 0) {
  childEnv.RC_TEST_MYSQL_URL = mysqlUrl;
  childEnv.RC_TEST_REDIS_URL = redisUrl;
  log('service-backed variants (mysql+redis) run beside the embedded ones');
} else {
  delete childEnv.RC_TEST_MYSQL_URL;
  delete childEnv.RC_TEST_REDIS_URL;
  const suites = suitesUsing(/\b(MODES|servicesAvailable)\b/);
  log(`SKIPPED: the mysql+redis variants, because ${down.join('; ')}.`);
  log(
    suites.length
      ? `These suites run their embedded variant only:\n${suites.map((s) => `  - ${s}`).join('\n')}`
      : 'No suite has service-backed variants yet.',
  );
  log(
    'Start MySQL and Redis (or set RC_TEST_MYSQL_URL / RC_TEST_REDIS_URL) to run them; CI sets REQUIRE_SERVICES=1.',
  );
}
// Empty means "probed and missing": test/support/browser.ts then skips without looking itself.
childEnv.RC_TEST_CHROMIUM = browserDown ? '' : chromiumPath;
if (browserDown) {
  const suites = suitesUsing(/\bbrowserAvailable\b/);
  log(`SKIPPED: the browser suites, because ${browserDown}:`);
  log(suites.map((s) => `  - ${s}`).join('\n'));
  log('Install Chromium (apt-get install chromium, or set RC_TEST_CHROMIUM) to run them; CI installs it.');
}

// 3. Tests ------------------------------------------------------------------------------------
heading('vitest');
const tmp = mkdtempSync(join(tmpdir(), 'roomcast-vitest-'));
const reportFile = join(tmp, 'report.json');
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const vitestCode = await run(
  process.execPath,
  [
    vitest,
    'run',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${reportFile}`,
    ...process.argv.slice(2),
  ],
  { env: childEnv, timeoutMs: RUN_TIMEOUT_MS },
);
const report = readReport(reportFile);
rmSync(tmp, { recursive: true, force: true });

let passed = 0;
let failed = 0;
let skipped = 0;
if (!report) {
  problems.push(`vitest wrote no report (exit code ${vitestCode})`);
} else {
  passed = report.numPassedTests ?? 0;
  failed = report.numFailedTests ?? 0;
  skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  // A file that fails to load (import or syntax error, failing beforeAll) has no failed test of
  // its own: count it as one failure so that it cannot hide.
  for (const file of report.testResults ?? []) {
    const hasFailedTest = (file.assertionResults ?? []).some((t) => t.status === 'failed');
    if (file.status === 'failed' && !hasFailedTest) {
      failed += 1;
      const firstLine = String(file.message ?? '').split('\n')[0];
      problems.push(
        `${relative(root, file.name)} failed outside its tests${firstLine ? `: ${firstLine}` : ''}`,
      );
    }
  }
  if (vitestCode !== 0 && failed === 0) {
    problems.push(
      `vitest exited with ${vitestCode} (unhandled error or no test found; see its output above)`,
    );
  }
}
if (failed > 0) problems.push(`${failed} test(s) failed`);

heading('summary');
if (down.length) log(`skipped: mysql+redis variants (${down.join('; ')})`);
if (browserDown) log(`skipped: browser suites (${browserDown})`);
for (const p of problems) log(`FAILED: ${p}`);
if (problems.length === 0) log('all checks passed');
log(`tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(problems.length ? 1 : 0);
