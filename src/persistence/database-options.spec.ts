import { createPool } from 'mysql2';
import { describe, expect, it } from 'vitest';
import { databaseOptions } from './database-options.js';

describe('databaseOptions', () => {
  it("turns off mysql2's stack capture on every query of the pool TypeORM creates", async () => {
    const options = databaseOptions('mysql://root@127.0.0.1:3306/roomcast', false);
    const extra = (options as { extra: Record<string, unknown> }).extra;
    expect(extra).toMatchObject({ trace: false });
    // The pool is created from `extra` as it is (no connection is opened here).
    const pool = createPool({ uri: 'mysql://root@127.0.0.1:3306/roomcast', ...extra });
    expect(
      (pool as unknown as { config: { connectionConfig: { trace: boolean } } }).config.connectionConfig.trace,
    ).toBe(false);
    await pool.promise().end();
  });
});
