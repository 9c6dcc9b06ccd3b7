import type { MessageKind } from './messages.js';
import type { RoomInfoEvent } from './events.js';

export interface HelloData {
  device_id: string;
  identity: string;
  room_id?: string;
  token?: string;
  /** room_id -> last seq seen */
  resume?: Record<string, number>;
}

export interface RoomJoinData {
  room_id: string;
}
export interface RoomJoinAck {
  room_id: string;
  total_clients: number;
  last_seq: number;
}
export interface RoomLeaveData {
  room_id: string;
}
export interface RoomCreateData {
  room_id?: string;
  name?: string;
  max_clients?: number;
  /** Only the creator, the devices it invites and those an operator adds may join. */
  private?: boolean;
}
export interface QueryRoomData {
  room_id?: string;
}
export interface RoomInviteData {
  room_id: string;
  /** The device invited. */
  device_id: string;
}
/** `delivered`: the invitee had it live; false: it is kept for its next handshake. */
export interface RoomInviteAck {
  ok: true;
  delivered: boolean;
}
export interface MessageSendData {
  room_id?: string;
  to_device_id?: string;
  kind: MessageKind;
  content: unknown;
  mentions?: string[];
}
export interface MessageSendAck {
  message_id: string;
  seq?: number;
  ts: number;
}

/** `message.read`: a room up to a seq, or a direct conversation up to a message. */
export type MessageReadData =
  { room_id: string; up_to_seq: number } | { peer_device_id: string; up_to_message_id: string };

/** `typing`: to a room (its other members) or to one device. */
export type TypingData = ({ room_id: string } | { to_device_id: string }) & { state: 'start' | 'stop' };

/** `auth.refresh`: a new token for the connection (same `sub`), sent before the current one expires. */
export interface AuthRefreshData {
  token: string;
}
/** `expires_at`: the new token's `exp` in ms since the epoch; null when it does not expire. */
export interface AuthRefreshAck {
  expires_at: number | null;
}

/**
 * Requests the server answers, by `type`: what `data` carries and what the ack carries.
 * `query_room` is answered by a `room_info` event with the request id instead of an ack.
 */
export interface RequestMap {
  'room.join': { data: RoomJoinData; ack: RoomJoinAck };
  'room.leave': { data: RoomLeaveData; ack: { room_id: string } };
  'room.create': { data: RoomCreateData; ack: { room_id: string } };
  query_room: { data: QueryRoomData; ack: RoomInfoEvent };
  'room.invite': { data: RoomInviteData; ack: RoomInviteAck };
  'message.send': { data: MessageSendData; ack: MessageSendAck };
  'message.read': { data: MessageReadData; ack: { ok: true } };
  'auth.refresh': { data: AuthRefreshData; ack: AuthRefreshAck };
  /** Fire-and-forget: no ack ever comes (a refused frame gets an `error`), so send it with `send()`, not `request()`. */
  typing: { data: TypingData; ack: never };
}
export type RequestType = keyof RequestMap;
