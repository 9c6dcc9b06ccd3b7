import { RoomcastClient } from '#client';
import { ADMIN_TOKEN } from './app.js';
import { spawnServer, stopServer, type ExitInfo, type ServerProcess, type StopOptions } from './process.js';
import { provisionServices, type Services } from './services.js';

export { ADMIN_TOKEN };

export interface ClusterNode {
  /** NODE_ID: `node-<i>`, 1-based. */
  id: string;
  /** HTTP base, `http://127.0.0.1:<port>`. */
  url: string;
  /** WebSocket endpoint, `ws://127.0.0.1:<port>/ws`. */
  ws: string;
  port: number;
  child: ServerProcess['child'];
  process: ServerProcess;
  /** Sends a signal (default SIGKILL: the node dies without a word). */
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM, wait for the exit (SIGKILL after a timeout). */
  stop(options?: StopOptions): Promise<ExitInfo & { forced: boolean }>;
  alive(): boolean;
  exited: Promise<ExitInfo>;
  output(): string;
}

export interface Cluster {
  nodes: ClusterNode[];
  services: Services;
  /** The environment every node got (before its NODE_ID). */
  env: Record<string, string>;
  /** fetch() on node `nodeIndex` (0-based) with the admin token. */
  admin(nodeIndex: number, path: string, init?: RequestInit): Promise<Response>;
  /** The same, with the JSON body parsed. */
  adminJson<T = unknown>(
    nodeIndex: number,
    path: string,
    init?: RequestInit,
  ): Promise<{ status: number; body: T }>;
  /**
   * A RoomcastClient of device `device` (identity `id-<device>`) on node `nodeIndex`, in
   * `roomId` when given; fails unless that node answered the handshake. Closed by
   * `closeClients()` or `dispose()`.
   */
  connect(nodeIndex: number, device: string, roomId?: string): Promise<RoomcastClient>;
  /** Closes every client `connect` opened. */
  closeClients(): Promise<void>;
  /** Closes the clients, stops every node (SIGTERM, then SIGKILL), drops the database and the Redis keys. */
  dispose(): Promise<void>;
}

/**
 * `n` server processes of one cluster: one MySQL database and one Redis prefix of their own
 * (provisionServices), so test files can run side by side. Node 1 starts first and applies
 * the migrations; the others start once it listens, with DB_MIGRATIONS_RUN=false. `extraEnv`
 * goes to every node and overrides the defaults (REDIS_URL for a private Redis, for example).
 *
 * Needs RC_TEST_MYSQL_URL and RC_TEST_REDIS_URL (see `servicesAvailable`).
 */
export async function startCluster(n: number, extraEnv: Record<string, string> = {}): Promise<Cluster> {
  const services = await provisionServices();
  const env: Record<string, string> = {
    PORT: '0',
    ROLE: 'all',
    DATABASE_URL: services.databaseUrl,
    REDIS_URL: services.redisUrl,
    REDIS_PREFIX: services.redisPrefix,
    ADMIN_TOKEN,
    STATUS_INTERVAL_MS: '0',
    CLUSTER_NODE_TIMEOUT_MS: '3000',
    LOG_LEVEL: 'warn',
    ...extraEnv,
  };
  const nodes: ClusterNode[] = [];
  const spawned: ServerProcess[] = [];
  let disposed: Promise<void> | undefined;

  const dispose = () =>
    (disposed ??= (async () => {
      await Promise.all(spawned.map((p) => stopServer(p).catch(() => undefined)));
      await services.dispose();
    })());
  liveClusters.add(dispose);

  const startNode = async (i: number, nodeEnv: Record<string, string>): Promise<ClusterNode> => {
    const id = `node-${i}`;
    const proc = spawnServer({ ...env, ...nodeEnv, NODE_ID: id });
    spawned.push(proc);
    let port: number;
    try {
      port = await proc.port;
    } catch (err) {
      throw new Error(`${id} did not start: ${(err as Error).message}`, { cause: err });
    }
    return {
      id,
      url: `http://127.0.0.1:${port}`,
      ws: `ws://127.0.0.1:${port}/ws`,
      port,
      child: proc.child,
      process: proc,
      kill: (signal = 'SIGKILL') => void proc.child.kill(signal),
      stop: (options) => stopServer(proc, options),
      alive: proc.alive,
      exited: proc.exited,
      output: proc.output,
    };
  };

  try {
    nodes.push(await startNode(1, {}));
    nodes.push(
      ...(await Promise.all(
        Array.from({ length: n - 1 }, (_, k) => startNode(k + 2, { DB_MIGRATIONS_RUN: 'false' })),
      )),
    );
  } catch (err) {
    await dispose().catch(() => undefined);
    liveClusters.delete(dispose);
    throw err;
  }

  const admin = (nodeIndex: number, path: string, init: RequestInit = {}) => {
    const node = nodes[nodeIndex];
    if (!node) throw new Error(`no node ${nodeIndex} (0-based) in a cluster of ${nodes.length}`);
    return fetch(`${node.url}${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${ADMIN_TOKEN}`,
        ...(init.body ? { 'content-type': 'application/json' } : {}),
        ...(init.headers as Record<string, string> | undefined),
      },
      signal: init.signal ?? AbortSignal.timeout(10_000),
    });
  };

  const clients: RoomcastClient[] = [];
  const closeClients = async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  };

  return {
    nodes,
    services,
    env,
    admin,
    async connect(nodeIndex, device, roomId) {
      const node = nodes[nodeIndex];
      const { client, handshake } = await RoomcastClient.connect(node.ws, {
        device_id: device,
        identity: `id-${device}`,
        ...(roomId ? { room_id: roomId } : {}),
      });
      clients.push(client);
      if (handshake.connection.node_id !== node.id)
        throw new Error(`${device} was answered by ${handshake.connection.node_id}, not ${node.id}`);
      return client;
    },
    closeClients,
    async adminJson<T>(nodeIndex: number, path: string, init?: RequestInit) {
      const res = await admin(nodeIndex, path, init);
      const text = await res.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      return { status: res.status, body: body as T };
    },
    async dispose() {
      await closeClients();
      await dispose();
      liveClusters.delete(dispose);
    },
  };
}

/** Clusters not disposed yet; the process 'exit' hook in process.ts kills their children anyway. */
const liveClusters = new Set<() => Promise<void>>();

/** Disposes every cluster this file started and did not dispose (for an afterAll safety net). */
export async function disposeAllClusters(): Promise<void> {
  await Promise.all([...liveClusters].map((d) => d().catch(() => undefined)));
  liveClusters.clear();
}

/** Every room message a node stored, oldest first, paging the admin API (100 per page). */
export async function storedMessages(
  cluster: Cluster,
  roomId: string,
  nodeIndex = 0,
): Promise<Array<{ message_id: string; seq: number; content: unknown; from: { device_id: string } }>> {
  const all: Array<{ message_id: string; seq: number; content: unknown; from: { device_id: string } }> = [];
  let after = 0;
  for (;;) {
    const { status, body } = await cluster.adminJson<{
      messages: typeof all;
      next_cursor: number | null;
    }>(nodeIndex, `/api/rooms/${roomId}/messages?after_seq=${after}&limit=100`);
    if (status !== 200) throw new Error(`GET messages of ${roomId}: ${status} ${JSON.stringify(body)}`);
    all.push(...body.messages);
    if (body.next_cursor === null || body.messages.length === 0) return all;
    after = body.next_cursor;
  }
}
