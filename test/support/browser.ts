import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

const DEBIAN_CHROMIUM = '/usr/bin/chromium';

/**
 * Headless Chromium for the browser suites (Debian's package; playwright-core downloads no
 * browser). scripts/run-tests.mjs probes it like MySQL and Redis and passes the outcome in
 * RC_TEST_CHROMIUM: the path when it runs, empty when it does not (the suites are skipped and
 * named, or under REQUIRE_SERVICES=1 the run fails). A direct `vitest run` looks for Debian's.
 */
export const chromiumPath =
  process.env.RC_TEST_CHROMIUM ?? (existsSync(DEBIAN_CHROMIUM) ? DEBIAN_CHROMIUM : '');
export const browserAvailable = chromiumPath !== '';

/** Flags for a quiet browser in a container: no sandbox (root), no GPU, nothing fetched from outside. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: CHROMIUM_ARGS });
}
