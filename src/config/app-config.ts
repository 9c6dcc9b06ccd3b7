import { hostname } from 'node:os';
import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, Matches, Max, Min, MinLength } from 'class-validator';

export type Role = 'all' | 'gateway' | 'worker';
export type BackpressurePolicy = 'disconnect' | 'drop';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'log' | 'debug' | 'verbose';

const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
const toBool = ({ value }: { value: unknown }) => {
  if (typeof value !== 'string') return value;
  const v = value.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  return value;
};

/** MESSAGE_BATCH_WAIT_MS when it is unset and Redis is configured. */
const CLUSTER_MESSAGE_BATCH_WAIT_MS = 10;

/**
 * Every setting of the server. Property names are the environment variable names, so an
 * error names the key an operator has to fix. Loaded and validated once at start-up
 * (load-config.ts); everything else receives this typed object through DI.
 */
export class AppConfig {
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT = 8080;

  @IsString()
  @Matches(/^(mysql:\/\/|sqlite:)/, { message: 'DATABASE_URL must start with mysql:// or sqlite:' })
  DATABASE_URL = 'sqlite:./data/roomcast.sqlite';

  @IsOptional()
  @IsString()
  @Matches(/^rediss?:\/\//, { message: 'REDIS_URL must start with redis:// or rediss://' })
  REDIS_URL?: string;

  @IsString()
  @MinLength(1)
  NODE_ID = `${hostname()}-${process.pid}`;

  @IsIn(['all', 'gateway', 'worker'])
  ROLE: Role = 'all';

  @IsOptional()
  @IsString()
  @MinLength(16, { message: 'JWT_SECRET must be at least 16 characters' })
  JWT_SECRET?: string;

  @IsOptional()
  @IsString()
  JWT_PUBLIC_KEY?: string;

  /** Path of a local JWKS JSON file (RS256/ES256 keys chosen by `kid`); never fetched over the network. */
  @IsOptional()
  @IsString()
  JWT_JWKS_FILE?: string;

  /** When set, a token's `iss` must equal it. */
  @IsOptional()
  @IsString()
  JWT_ISSUER?: string;

  /** When set, a token's `aud` must contain it. */
  @IsOptional()
  @IsString()
  JWT_AUDIENCE?: string;

  /** Seconds of clock skew allowed on `exp` and `nbf`. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(300)
  JWT_CLOCK_TOLERANCE_S = 5;

  /** A connection whose token expires is told (`token_expiring`) this long before. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(24 * 60 * 60 * 1000)
  JWT_EXPIRY_WARNING_MS = 60_000;

  /** Comma-separated origins allowed to open /ws from a browser; unset allows every origin. */
  @IsOptional()
  @IsString()
  ALLOWED_ORIGINS?: string;

  /** Open sockets per client address on this node; 0 means no limit. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  MAX_CONNECTIONS_PER_IP = 0;

  /** Connections per token `sub` on this node; 0 means no limit. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  MAX_CONNECTIONS_PER_SUBJECT = 0;

  /** Defaults to true only when no JWT key is configured (see load-config.ts). */
  @IsOptional()
  @Transform(toBool)
  @IsBoolean()
  AUTH_ANONYMOUS?: boolean;

  @IsOptional()
  @IsString()
  @MinLength(8, { message: 'ADMIN_TOKEN must be at least 8 characters' })
  ADMIN_TOKEN?: string;

  @Transform(toBool)
  @IsBoolean()
  DB_MIGRATIONS_RUN = true;

  /** Trust X-Forwarded-For for the client address (only behind a proxy you control). */
  @Transform(toBool)
  @IsBoolean()
  TRUST_PROXY = false;

  @Transform(toBool)
  @IsBoolean()
  RELAY_UNKNOWN_TYPES = false;

  @Transform(toInt)
  @IsInt()
  @Min(100)
  HEARTBEAT_MS = 30_000;

  @Transform(toInt)
  @IsInt()
  @Min(100)
  HANDSHAKE_TIMEOUT_MS = 10_000;

  @Transform(toInt)
  @IsInt()
  @Min(256)
  MAX_PAYLOAD_BYTES = 64 * 1024;

  /** Deepest nesting of objects and arrays in a frame (the frame itself is level 1); deeper: BAD_REQUEST. */
  @Transform(toInt)
  @IsInt()
  @Min(4)
  @Max(10_000)
  FRAME_MAX_DEPTH = 64;

  /** 0 means no limit. A room's own max_clients overrides it. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  ROOM_MAX_CLIENTS = 0;

  /** Empty rooms idle this long are deleted. */
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  ROOM_IDLE_TTL_MS = 24 * 60 * 60 * 1000;

  @Transform(toInt)
  @IsInt()
  @Min(100)
  ROOM_SWEEP_INTERVAL_MS = 60_000;

  /** How long a client `id` on a send is remembered for de-duplication. */
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

  /** Longest `text` message, in characters. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  TEXT_MAX_CHARS = 10_000;

  /** Largest `content` of any message kind, in bytes of JSON (the frame limit still applies). */
  @Transform(toInt)
  @IsInt()
  @Min(16)
  CONTENT_MAX_BYTES = 32 * 1024;

  /** Offline items (direct messages, notifications, mentions) are dropped after this. */
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  OFFLINE_TTL_MS = 7 * 24 * 60 * 60 * 1000;

  /** How often expired offline items are removed. */
  @Transform(toInt)
  @IsInt()
  @Min(100)
  OFFLINE_EXPIRY_INTERVAL_MS = 60_000;

  /** Offline items sent per batch at the handshake. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(10_000)
  OFFLINE_BATCH_SIZE = 200;

  /** A sender may recall a message for this long after sending it. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  RECALL_WINDOW_MS = 2 * 60 * 1000;

  /** Recent messages kept per room for resume (Redis stream or memory); older ones come from the database. */
  @Transform(toInt)
  @IsInt()
  @Min(10)
  @Max(1_000_000)
  ROOM_LOG_SIZE = 1000;

  /** A room's recent messages are dropped from Redis after this long without a new one. */
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  ROOM_LOG_TTL_MS = 24 * 60 * 60 * 1000;

  /** Most messages replayed for one room at a handshake; beyond it `resumed.complete` is false. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  RESUME_MAX_MESSAGES = 5000;

  /** At most one `typing` event per sender per room reaches the others in this time. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  TYPING_INTERVAL_MS = 1000;

  @Transform(toInt)
  @IsInt()
  @Min(0)
  SHUTDOWN_TIMEOUT_MS = 10_000;

  /** Attempts for every persistence job before it is dead-lettered. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(100)
  JOB_ATTEMPTS = 8;

  /** Base of the exponential backoff between attempts. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  JOB_BACKOFF_MS = 500;

  /**
   * BullMQ job lock: a worker that dies (kill -9) holds its active jobs this long before
   * another worker takes them over (the stalled-job check runs as often).
   */
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  JOB_LOCK_MS = 30_000;

  /** Rows per INSERT (and per transaction) in the message writer. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(5000)
  MESSAGE_BATCH_SIZE = 500;

  /**
   * How long an idle message writer waits for more rows before it writes; rows that arrive
   * while a write is under way go into the next one either way. Unset: see messageBatchWaitMs.
   */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(1000)
  MESSAGE_BATCH_WAIT_MS?: number;

  /**
   * With Redis: how long the first add of a batch waits for others to share its BullMQ jobs
   * (packs) and its addBulk. 0: sent at the end of the tick. A few ms cut BullMQ's Redis work
   * per message (its ~40 commands per job) at moderate rates, for that much more latency.
   */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(100)
  JOB_ADD_LINGER_MS = 0;

  /**
   * Embedded mode (SQLite file): how often a thread of its own copies the WAL into the
   * database file. 0: SQLite does it inside the commit that fills the WAL, which stalls the
   * event loop for a sync of the file. Shorter intervals copy often-written pages more often.
   */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(60_000)
  SQLITE_CHECKPOINT_MS = 1000;

  /** Redis key prefix for queues and every other key, so deployments (and test runs) can share a server. */
  @IsString()
  @Matches(/^[A-Za-z0-9_.:-]+$/)
  REDIS_PREFIX = 'roomcast';

  @Transform(toInt)
  @IsInt()
  @Min(0)
  STATUS_INTERVAL_MS = 60_000;

  /**
   * Cluster: a node whose heartbeat has not been refreshed for this long is dead, and the
   * survivors remove its presence entries and device routes. Heartbeats go out every fifth.
   */
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  CLUSTER_NODE_TIMEOUT_MS = 15_000;

  /**
   * Cluster: how long a node holds a room message that arrived ahead of a missing seq (sent
   * through another node) before it gives up on the missing one and delivers in order.
   */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(10_000)
  CLUSTER_REORDER_WAIT_MS = 500;

  /** Cluster: sharded pub/sub (SSUBSCRIBE, Redis 7+, works on Redis Cluster) or classic; auto picks by server version. */
  @IsIn(['auto', 'sharded', 'classic'])
  CLUSTER_PUBSUB: 'auto' | 'sharded' | 'classic' = 'auto';

  // Rate limits (0 turns a limit off). Each is a fixed one-second window; a burst is the
  // number of extra frames allowed above the rate, refilled every RATE_BURST_WINDOW_MS.
  // In cluster mode the counters live in Redis, so a limit holds across every node.

  /** Per device: `message.send` and relayed frames (typeless, `text`, binary). */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  RATE_SEND_PER_SEC = 20;

  @Transform(toInt)
  @IsInt()
  @Min(0)
  RATE_SEND_BURST = 40;

  /** Per device: every other request after the handshake. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  RATE_REQUESTS_PER_SEC = 50;

  @Transform(toInt)
  @IsInt()
  @Min(0)
  RATE_REQUESTS_BURST = 100;

  /** How often the burst allowance of the per-device limits refills. */
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  RATE_BURST_WINDOW_MS = 10_000;

  /** Per room: messages (and relayed frames) fanned out into one room, from all its members together. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  RATE_ROOM_MSGS_PER_SEC = 200;

  /** Per client IP: new WebSocket connections. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  RATE_CONNECT_PER_SEC = 20;

  /** Per client IP: admin API calls under /api. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  RATE_ADMIN_PER_SEC = 20;

  /** A connection refused RATE_LIMITED more than this many times within RATE_ABUSE_WINDOW_MS is closed with 4429. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  RATE_ABUSE_STRIKES = 20;

  @Transform(toInt)
  @IsInt()
  @Min(1000)
  RATE_ABUSE_WINDOW_MS = 10_000;

  /**
   * Outbound budget per connection: bytes written to its socket and not yet taken by the
   * client (ws bufferedAmount) plus frames held during its handshake. 0 = unbounded.
   */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  OUTBOUND_BUFFER_MAX_BYTES = 1024 * 1024;

  /** What happens to a connection over its outbound budget: closed with 1013, or frames skipped. */
  @IsIn(['disconnect', 'drop'])
  BACKPRESSURE_POLICY: BackpressurePolicy = 'disconnect';

  /** Sockets written per event-loop turn when one frame goes to a room's local members. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  FANOUT_SLICE_SIZE = 500;

  @IsIn(['fatal', 'error', 'warn', 'log', 'debug', 'verbose'])
  LOG_LEVEL: LogLevel = 'log';

  /** The window /api/stats and the cluster heartbeat average a node's load over (lag, CPU, frame rates). */
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(600_000)
  LOAD_WINDOW_MS = 10_000;

  /** `json`: one pino JSON object per line (node_id on each); `text`: Nest's coloured console lines. */
  @IsIn(['json', 'text'])
  LOG_FORMAT: 'json' | 'text' = 'json';

  /** Wrap each handled frame in an OpenTelemetry span (no-op unless an SDK is registered). */
  @Transform(toBool)
  @IsBoolean()
  OTEL_TRACING = false;

  get embedded(): boolean {
    return !this.REDIS_URL;
  }

  /**
   * 0 in embedded mode, where a send's ack waits for its write. With Redis the message is
   * durable in its queue before the ack and history reads recent messages from the room
   * log, so the writer can wait: at 1,000 sends/s an INSERT then carries ~10 messages
   * instead of ~1, which takes a quarter off MariaDB + Redis's CPU (docs/performance.md).
   */
  get messageBatchWaitMs(): number {
    return this.MESSAGE_BATCH_WAIT_MS ?? (this.embedded ? 0 : CLUSTER_MESSAGE_BATCH_WAIT_MS);
  }

  get authAnonymous(): boolean {
    return this.AUTH_ANONYMOUS ?? !(this.JWT_SECRET || this.JWT_PUBLIC_KEY || this.JWT_JWKS_FILE);
  }

  /** ALLOWED_ORIGINS as a set; undefined when every origin is allowed. */
  get allowedOrigins(): Set<string> | undefined {
    const list = this.ALLOWED_ORIGINS?.split(',')
      .map((o) => o.trim())
      .filter(Boolean);
    return list?.length ? new Set(list) : undefined;
  }

  get runsGateway(): boolean {
    return this.ROLE !== 'worker';
  }

  get runsWorkers(): boolean {
    return this.ROLE !== 'gateway';
  }
}
