import { InitialSchema1763800000000 } from './1763800000000-InitialSchema.js';
import { Messaging1763900000000 } from './1763900000000-Messaging.js';
import { DirectMessageIndex1764000000000 } from './1764000000000-DirectMessageIndex.js';
import { PrivateRooms1764100000000 } from './1764100000000-PrivateRooms.js';
import { SendRecords1764200000000 } from './1764200000000-SendRecords.js';
import { PartialDirectIndexes1764300000000 } from './1764300000000-PartialDirectIndexes.js';

/** Every migration, in order. Listed explicitly so the same array works compiled and under the test runner. */
export const MIGRATIONS = [
  InitialSchema1763800000000,
  Messaging1763900000000,
  DirectMessageIndex1764000000000,
  PrivateRooms1764100000000,
  SendRecords1764200000000,
  PartialDirectIndexes1764300000000,
];
