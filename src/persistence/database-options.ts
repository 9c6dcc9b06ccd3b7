import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DataSource, DataSourceOptions } from 'typeorm';
import { MIGRATIONS } from '../../migrations/index.js';
import { ConnectionEntity } from '../audit/connection.entity.js';
import { RoomQueryEntity } from '../audit/room-query.entity.js';
import { DeviceEntity } from '../devices/device.entity.js';
import { MessageEntity } from '../messaging/message.entity.js';
import { OfflineItemEntity } from '../offline/offline-item.entity.js';
import { ReadStateEntity } from '../receipts/read-state.entity.js';
import { RoomMemberEntity } from '../rooms/room-member.entity.js';
import { RoomEntity } from '../rooms/room.entity.js';

export const ENTITIES = [
  RoomEntity,
  RoomMemberEntity,
  DeviceEntity,
  ConnectionEntity,
  MessageEntity,
  RoomQueryEntity,
  ReadStateEntity,
  OfflineItemEntity,
];

/** TypeORM options for DATABASE_URL: `mysql://user:pass@host:port/db` or `sqlite:<path>`. */
export function databaseOptions(databaseUrl: string, migrationsRun: boolean): DataSourceOptions {
  const common = {
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsRun,
    // Schema changes go through migrations only, on every database.
    synchronize: false,
  } as const;
  if (databaseUrl.startsWith('sqlite:')) {
    const database = databaseUrl.slice('sqlite:'.length);
    if (database !== ':memory:') mkdirSync(dirname(database), { recursive: true });
    return {
      ...common,
      type: 'better-sqlite3',
      database,
      // WAL lets readers (history, admin) run while the writer commits a batch.
      prepareDatabase: (db: { pragma(s: string): unknown }) => {
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = NORMAL');
        db.pragma('busy_timeout = 5000');
      },
    };
  }
  return {
    ...common,
    type: 'mysql',
    url: databaseUrl,
    charset: 'utf8mb4_unicode_ci',
    timezone: 'Z',
    dateStrings: false,
    // trace: mysql2's promise API (TypeORM's) captures a stack trace for every query, for
    // errors nobody reads with it (TypeORM wraps them): 2 % of a handshake burst's CPU.
    extra: { connectionLimit: 10, trace: false },
  };
}

/** Which of the two SQL dialects databaseOptions() can give, for statements written by hand. */
export function sqlDialect(dataSource: DataSource): 'mysql' | 'sqlite' {
  return dataSource.options.type === 'mysql' ? 'mysql' : 'sqlite';
}
