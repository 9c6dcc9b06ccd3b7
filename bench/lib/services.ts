/** A MySQL database and a Redis key prefix of a benchmark's own, removed afterwards. */
import { Redis } from 'ioredis';
import { createConnection, type Connection } from 'mysql2/promise';

export class BenchDatabase {
  private constructor(
    readonly admin: Connection,
    readonly name: string,
    /** The server's DATABASE_URL. */
    readonly url: string,
  ) {}

  /** Creates database `name` on the server of `mysqlUrl` (a URL without a database). */
  static async create(mysqlUrl: string, name: string): Promise<BenchDatabase> {
    const url = new URL(mysqlUrl);
    const admin = await createConnection({
      host: url.hostname,
      port: Number(url.port || 3306),
      user: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
    });
    await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`);
    const databaseUrl = new URL(url.toString());
    databaseUrl.pathname = `/${name}`;
    return new BenchDatabase(admin, name, databaseUrl.toString());
  }

  async drop(): Promise<void> {
    try {
      await this.admin.query(`DROP DATABASE IF EXISTS \`${this.name}\``);
    } finally {
      await this.admin.end().catch(() => undefined);
    }
  }
}

export async function redisMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
}

/** Counts (and with `del`, removes) the keys under `prefix`. */
export async function redisKeys(redis: Redis, prefix: string, del = false): Promise<number> {
  let cursor = '0';
  let count = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 5000);
    cursor = next;
    count += keys.length;
    if (del && keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
  return count;
}
