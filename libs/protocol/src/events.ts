import type { ErrorBody } from './envelope.js';
import type { MessagePayload, Sender } from './messages.js';

export interface ConnectionEvent {
  session_id: string;
  device_id: string;
  identity: string;
  node_id: string;
  heartbeat_ms: number;
  server_time: number;
}

export interface RoomEvent {
  room_id: string;
  created: boolean;
  total_clients: number;
  /** The room's last message seq when the client joined: its resume point. */
  last_seq: number;
}

export interface RoomClient {
  device_id: string;
  identity: string;
}

export interface RoomInfoEvent {
  room_id: string;
  total_clients: number;
  clients: RoomClient[];
}

export interface PresenceChangeEvent {
  room_id: string;
  device_id: string;
  identity: string;
}

export interface ResumedEvent {
  room_id: string;
  from_seq: number;
  to_seq: number;
  complete: boolean;
}

/** `system` payload of kind `token_expiring`: refresh with `auth.refresh` before `expires_at` (ms), or be closed with 4401. */
export interface TokenExpiringPayload {
  expires_at: number;
}

export interface SystemEvent {
  kind: string;
  payload: unknown;
  ts: number;
}

/** Every event the server sends, by `type`. The server and the client SDK share this map. */
export interface ServerEventMap {
  connection: ConnectionEvent;
  room: RoomEvent;
  room_info: RoomInfoEvent;
  message: MessagePayload;
  'presence.join': PresenceChangeEvent;
  'presence.leave': PresenceChangeEvent;
  resumed: ResumedEvent;
  offline_done: { count: number };
  system: SystemEvent;
  pong: { ts: number };
  error: ErrorBody;
  /** Typeless frames relayed verbatim (room-manager compatibility) arrive with their own shape. */
  relay: Record<string, unknown>;
  typing: { room_id?: string; from: Sender; state: 'start' | 'stop' };
  receipt: {
    room_id?: string;
    peer_device_id?: string;
    device_id: string;
    up_to_seq?: number;
    up_to_message_id?: string;
  };
  'message.recalled': { message_id: string; room_id?: string; by: string };
  mention: MessagePayload;
}
export type ServerEventType = keyof ServerEventMap;
