import type { Redis } from 'ioredis';
import type { RedisKeys } from '../redis/redis.module.js';
import { type Eviction, type Member, type NodeInfo, PresenceStore, type Session } from './presence.store.js';

/*
 * Layout, every key under one hash tag so each script's keys share a slot (Redis Cluster):
 *   B:room:<room>    hash  device -> Member JSON
 *   B:occupied       hash  room -> member count
 *   B:sessions       hash  device -> Session JSON (the device -> node route)
 *   B:node:<node>    set   "r\t<room>\t<device>" and "d\t<device>": what to remove if it dies
 *   B:nodes          set   nodes with entries
 *   B:alive:<node>   string with a TTL, refreshed by the node's heartbeat
 *   B:info           hash  node -> NodeInfo JSON
 * Ids never contain a tab (room and device ids are [A-Za-z0-9_-]).
 */
const ADD = `
local room = KEYS[1] .. ':room:' .. ARGV[1]
local entry = 'r\\t' .. ARGV[1] .. '\\t' .. ARGV[2]
local old = redis.call('HGET', room, ARGV[2])
if old then
  local oldNode = cjson.decode(old).nodeId
  if oldNode ~= ARGV[5] then redis.call('SREM', KEYS[1] .. ':node:' .. oldNode, entry) end
else
  local capacity = tonumber(ARGV[4])
  if capacity > 0 and redis.call('HLEN', room) >= capacity then return -1 end
  redis.call('HINCRBY', KEYS[1] .. ':occupied', ARGV[1], 1)
end
redis.call('HSET', room, ARGV[2], ARGV[3])
redis.call('SADD', KEYS[1] .. ':node:' .. ARGV[5], entry)
redis.call('SADD', KEYS[1] .. ':nodes', ARGV[5])
return redis.call('HLEN', room)`;

const REMOVE = `
local room = KEYS[1] .. ':room:' .. ARGV[1]
local old = redis.call('HGET', room, ARGV[2])
if not old then return 0 end
local member = cjson.decode(old)
if member.sessionId ~= ARGV[3] then return 0 end
redis.call('HDEL', room, ARGV[2])
redis.call('SREM', KEYS[1] .. ':node:' .. member.nodeId, 'r\\t' .. ARGV[1] .. '\\t' .. ARGV[2])
if redis.call('HINCRBY', KEYS[1] .. ':occupied', ARGV[1], -1) <= 0 then
  redis.call('HDEL', KEYS[1] .. ':occupied', ARGV[1])
end
return 1`;

const CONNECT = `
local sessions = KEYS[1] .. ':sessions'
local entry = 'd\\t' .. ARGV[1]
local old = redis.call('HGET', sessions, ARGV[1])
if old then
  local oldNode = cjson.decode(old).nodeId
  if oldNode ~= ARGV[3] then redis.call('SREM', KEYS[1] .. ':node:' .. oldNode, entry) end
end
redis.call('HSET', sessions, ARGV[1], ARGV[2])
redis.call('SADD', KEYS[1] .. ':node:' .. ARGV[3], entry)
redis.call('SADD', KEYS[1] .. ':nodes', ARGV[3])
return 1`;

const DISCONNECT = `
local sessions = KEYS[1] .. ':sessions'
local old = redis.call('HGET', sessions, ARGV[1])
if not old then return 0 end
local session = cjson.decode(old)
if session.sessionId ~= ARGV[2] then return 0 end
redis.call('HDEL', sessions, ARGV[1])
redis.call('SREM', KEYS[1] .. ':node:' .. session.nodeId, 'd\\t' .. ARGV[1])
return 1`;

/** A route to a node whose heartbeat has lapsed leads nowhere: reported as not connected. */
const SESSION = `
local value = redis.call('HGET', KEYS[1] .. ':sessions', ARGV[1])
if not value then return nil end
if redis.call('EXISTS', KEYS[1] .. ':alive:' .. cjson.decode(value).nodeId) == 0 then return nil end
return value`;

const HEARTBEAT = `
local alive = KEYS[1] .. ':alive:' .. ARGV[1]
local was = redis.call('EXISTS', alive)
redis.call('SET', alive, '1', 'PX', ARGV[2])
redis.call('SADD', KEYS[1] .. ':nodes', ARGV[1])
redis.call('HSET', KEYS[1] .. ':info', ARGV[1], ARGV[3])
return was`;

const DEAD_NODES = `
local dead = {}
for _, node in ipairs(redis.call('SMEMBERS', KEYS[1] .. ':nodes')) do
  if redis.call('EXISTS', KEYS[1] .. ':alive:' .. node) == 0 then table.insert(dead, node) end
end
return dead`;

/** Returns "r\\t<room>\\t<member json>" and "s\\t<session json>" for each entry it removed. */
const EVICT = `
if ARGV[2] ~= '1' and redis.call('EXISTS', KEYS[1] .. ':alive:' .. ARGV[1]) == 1 then return {} end
local nodeSet = KEYS[1] .. ':node:' .. ARGV[1]
local removed = {}
for _, entry in ipairs(redis.call('SMEMBERS', nodeSet)) do
  if string.sub(entry, 1, 1) == 'r' then
    local tab = string.find(entry, '\\t', 3, true)
    local roomId = string.sub(entry, 3, tab - 1)
    local deviceId = string.sub(entry, tab + 1)
    local room = KEYS[1] .. ':room:' .. roomId
    local value = redis.call('HGET', room, deviceId)
    if value and cjson.decode(value).nodeId == ARGV[1] then
      redis.call('HDEL', room, deviceId)
      if redis.call('HINCRBY', KEYS[1] .. ':occupied', roomId, -1) <= 0 then
        redis.call('HDEL', KEYS[1] .. ':occupied', roomId)
      end
      table.insert(removed, 'r\\t' .. roomId .. '\\t' .. value)
    end
  else
    local deviceId = string.sub(entry, 3)
    local value = redis.call('HGET', KEYS[1] .. ':sessions', deviceId)
    if value and cjson.decode(value).nodeId == ARGV[1] then
      redis.call('HDEL', KEYS[1] .. ':sessions', deviceId)
      table.insert(removed, 's\\t' .. value)
    end
  end
end
redis.call('DEL', nodeSet)
redis.call('SREM', KEYS[1] .. ':nodes', ARGV[1])
redis.call('HDEL', KEYS[1] .. ':info', ARGV[1])
redis.call('DEL', KEYS[1] .. ':alive:' .. ARGV[1])
return removed`;

const SCRIPTS = {
  rcPresenceAdd: ADD,
  rcPresenceRemove: REMOVE,
  rcPresenceConnect: CONNECT,
  rcPresenceDisconnect: DISCONNECT,
  rcPresenceSession: SESSION,
  rcPresenceHeartbeat: HEARTBEAT,
  rcPresenceDeadNodes: DEAD_NODES,
  rcPresenceEvict: EVICT,
};

type Scripts = {
  [K in keyof typeof SCRIPTS]: (base: string, ...args: Array<string | number>) => Promise<unknown>;
};

/** Presence shared by every node of a cluster: each operation is one script, atomic in Redis. */
export class RedisPresenceStore extends PresenceStore {
  private readonly base: string;
  private readonly scripts: Scripts;

  constructor(
    private readonly redis: Redis,
    keys: RedisKeys,
  ) {
    super();
    this.base = keys.key('{presence}');
    for (const [name, lua] of Object.entries(SCRIPTS)) redis.defineCommand(name, { numberOfKeys: 1, lua });
    this.scripts = redis as unknown as Scripts;
  }

  async add(roomId: string, member: Member, capacity: number): Promise<number | null> {
    const total = Number(
      await this.scripts.rcPresenceAdd(
        this.base,
        roomId,
        member.deviceId,
        JSON.stringify(pickMember(member)),
        capacity,
        member.nodeId,
      ),
    );
    return total < 0 ? null : total;
  }

  async remove(roomId: string, deviceId: string, sessionId: string): Promise<boolean> {
    return Number(await this.scripts.rcPresenceRemove(this.base, roomId, deviceId, sessionId)) === 1;
  }

  async members(roomId: string): Promise<Member[]> {
    return (await this.redis.hvals(`${this.base}:room:${roomId}`)).map((v) => JSON.parse(v) as Member);
  }

  async count(roomId: string): Promise<number> {
    return this.redis.hlen(`${this.base}:room:${roomId}`);
  }

  async occupied(): Promise<Map<string, number>> {
    const counts = await this.redis.hgetall(`${this.base}:occupied`);
    return new Map(Object.entries(counts).map(([roomId, n]) => [roomId, Number(n)]));
  }

  async connect(session: Session): Promise<void> {
    await this.scripts.rcPresenceConnect(
      this.base,
      session.deviceId,
      JSON.stringify(session),
      session.nodeId,
    );
  }

  async disconnect(deviceId: string, sessionId: string): Promise<void> {
    await this.scripts.rcPresenceDisconnect(this.base, deviceId, sessionId);
  }

  async session(deviceId: string): Promise<Session | undefined> {
    const value = (await this.scripts.rcPresenceSession(this.base, deviceId)) as string | null;
    return value === null ? undefined : (JSON.parse(value) as Session);
  }

  async sessionCount(): Promise<number> {
    return this.redis.hlen(`${this.base}:sessions`);
  }

  async sessions(): Promise<Array<Session & { rooms: string[] }>> {
    const [all, nodes] = await Promise.all([
      this.redis.hvals(`${this.base}:sessions`),
      this.redis.smembers(`${this.base}:nodes`),
    ]);
    const entries = await Promise.all(nodes.map((node) => this.redis.smembers(`${this.base}:node:${node}`)));
    const rooms = new Map<string, string[]>();
    for (const entry of entries.flat()) {
      const [kind, roomId, deviceId] = entry.split('\t');
      if (kind === 'r') rooms.set(deviceId, [...(rooms.get(deviceId) ?? []), roomId]);
    }
    return all.map((v) => {
      const session = JSON.parse(v) as Session;
      return { ...session, rooms: rooms.get(session.deviceId) ?? [] };
    });
  }

  async heartbeat(info: NodeInfo, ttlMs: number): Promise<boolean> {
    return (
      Number(await this.scripts.rcPresenceHeartbeat(this.base, info.node_id, ttlMs, JSON.stringify(info))) ===
      1
    );
  }

  async nodes(): Promise<NodeInfo[]> {
    return (await this.redis.hvals(`${this.base}:info`)).map((v) => JSON.parse(v) as NodeInfo);
  }

  async deadNodes(): Promise<string[]> {
    return (await this.scripts.rcPresenceDeadNodes(this.base)) as string[];
  }

  async entries(nodeId: string): Promise<Eviction> {
    const index = await this.redis.smembers(`${this.base}:node:${nodeId}`);
    const reads = this.redis.pipeline();
    for (const entry of index) {
      const [kind, a, b] = entry.split('\t');
      if (kind === 'r') reads.hget(`${this.base}:room:${a}`, b);
      else reads.hget(`${this.base}:sessions`, a);
    }
    const values = index.length ? ((await reads.exec()) ?? []) : [];
    const entries: Eviction = { left: [], sessions: [] };
    index.forEach((entry, i) => {
      const value = values[i]?.[1] as string | null | undefined;
      if (!value) return;
      if (entry.startsWith('r\t')) {
        const member = JSON.parse(value) as Member;
        if (member.nodeId === nodeId) entries.left.push({ roomId: entry.split('\t')[1], member });
      } else {
        const session = JSON.parse(value) as Session;
        if (session.nodeId === nodeId) entries.sessions.push(session);
      }
    });
    return entries;
  }

  async evict(nodeId: string, force = false): Promise<Eviction> {
    const removed = (await this.scripts.rcPresenceEvict(this.base, nodeId, force ? '1' : '0')) as string[];
    const eviction: Eviction = { left: [], sessions: [] };
    for (const entry of removed) {
      if (entry.startsWith('r\t')) {
        const tab = entry.indexOf('\t', 2);
        eviction.left.push({
          roomId: entry.slice(2, tab),
          member: JSON.parse(entry.slice(tab + 1)) as Member,
        });
      } else {
        eviction.sessions.push(JSON.parse(entry.slice(2)) as Session);
      }
    }
    return eviction;
  }
}

/** Only the Member fields are kept per room: a Session passed as a member must not bloat the hash. */
function pickMember(m: Member): Member {
  return { deviceId: m.deviceId, identity: m.identity, sessionId: m.sessionId, nodeId: m.nodeId };
}
