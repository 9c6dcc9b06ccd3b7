import { randomBytes } from 'node:crypto';
import { createConnection } from 'mysql2/promise';
import { Redis } from 'ioredis';

/**
 * Real MySQL/Redis for service-backed tests. scripts/run-tests.mjs probes the servers and
 * sets RC_TEST_MYSQL_URL / RC_TEST_REDIS_URL only when both answer; without them only the
 * embedded-mode variants run (and the runner names what it skipped).
 */
export const servicesAvailable = Boolean(process.env.RC_TEST_MYSQL_URL && process.env.RC_TEST_REDIS_URL);

export type Mode = 'embedded' | 'mysql+redis';
export const MODES: Mode[] = servicesAvailable ? ['embedded', 'mysql+redis'] : ['embedded'];

export interface Services {
  databaseUrl: string;
  redisUrl: string;
  redisPrefix: string;
  /** Drops the database and deletes every key under the prefix. */
  dispose(): Promise<void>;
}

/** A database and a Redis key prefix of their own for one test file. */
export async function provisionServices(): Promise<Services> {
  const mysqlUrl = new URL(process.env.RC_TEST_MYSQL_URL!);
  const redisUrl = process.env.RC_TEST_REDIS_URL!;
  const tag = `${process.pid}_${randomBytes(4).toString('hex')}`;
  const db = `rc_test_${tag}`;
  const admin = await createConnection({
    host: mysqlUrl.hostname,
    port: Number(mysqlUrl.port || 3306),
    user: decodeURIComponent(mysqlUrl.username),
    password: decodeURIComponent(mysqlUrl.password),
  });
  await admin.query(`CREATE DATABASE \`${db}\` CHARACTER SET utf8mb4`);
  const databaseUrl = new URL(mysqlUrl.toString());
  databaseUrl.pathname = `/${db}`;
  const redisPrefix = `rc-test-${tag}`;
  return {
    databaseUrl: databaseUrl.toString(),
    redisUrl,
    redisPrefix,
    async dispose() {
      await admin.query(`DROP DATABASE IF EXISTS \`${db}\``);
      await admin.end();
      await deleteRedisKeys(redisUrl, redisPrefix);
    },
  };
}

/** A Redis key prefix no other test uses: `rc-test-<pid>_<random>`. */
export const uniquePrefix = () => `rc-test-${process.pid}_${randomBytes(4).toString('hex')}`;

/** Deletes every key under `prefix`. */
export async function deleteRedisKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
  await redis.quit();
}
