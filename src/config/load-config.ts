import { readFileSync } from 'node:fs';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { parse as parseYaml } from 'yaml';
import { AppConfig } from './app-config.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const KEYS = Object.keys(new AppConfig()).concat([
  'REDIS_URL',
  'JWT_SECRET',
  'JWT_PUBLIC_KEY',
  'JWT_JWKS_FILE',
  'JWT_ISSUER',
  'JWT_AUDIENCE',
  'ALLOWED_ORIGINS',
  'AUTH_ANONYMOUS',
  'ADMIN_TOKEN',
  'MESSAGE_BATCH_WAIT_MS',
]);

function readYaml(path: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`CONFIG_FILE ${path}: ${(err as Error).message}`);
  }
  if (doc == null) return {};
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new ConfigError(`CONFIG_FILE ${path}: expected a mapping`);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(doc)) {
    const name = key.toUpperCase();
    if (!KEYS.includes(name)) throw new ConfigError(`CONFIG_FILE ${path}: unknown key ${key}`);
    out[name] = typeof value === 'string' ? value : String(value);
  }
  return out;
}

/**
 * Builds the configuration from the environment, on top of the optional YAML file named by
 * CONFIG_FILE (the environment wins). Throws a ConfigError naming every bad key.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const fromFile = env.CONFIG_FILE ? readYaml(env.CONFIG_FILE) : {};
  const raw: Record<string, unknown> = { ...fromFile };
  for (const key of KEYS) {
    const value = env[key];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const config = plainToInstance(AppConfig, raw);
  const errors = validateSync(config, { forbidUnknownValues: false });
  if (errors.length) {
    const lines = errors.map((e) => `${e.property}: ${Object.values(e.constraints ?? {}).join('; ')}`);
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const jwtKeys = (['JWT_SECRET', 'JWT_PUBLIC_KEY', 'JWT_JWKS_FILE'] as const).filter((k) => config[k]);
  if (jwtKeys.length > 1) {
    // One key kind per server: accepting HS256 and RS256 side by side invites algorithm confusion.
    throw new ConfigError(`${jwtKeys.join(', ')}: set only one of them`);
  }
  if (config.embedded && config.ROLE !== 'all') {
    throw new ConfigError(
      'ROLE: gateway and worker roles need REDIS_URL (embedded mode runs jobs in process)',
    );
  }
  return config;
}
