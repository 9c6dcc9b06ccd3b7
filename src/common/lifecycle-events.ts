import type { MessagePayload } from '#protocol';

/**
 * In-process lifecycle events (published with @nestjs/event-emitter). Any module may
 * subscribe with `@OnEvent(Lifecycle.MessageCreated)`; audit, metrics and custom modules do.
 */
export const Lifecycle = {
  Connected: 'roomcast.connected',
  Disconnected: 'roomcast.disconnected',
  Joined: 'roomcast.joined',
  Left: 'roomcast.left',
  MessageCreated: 'roomcast.message',
  RoomQueried: 'roomcast.room_queried',
} as const;

export interface ConnectedEvent {
  sessionId: string;
  deviceId: string;
  identity: string;
  roomId: string;
  clientIp: string;
  connectedAt: Date;
}

export interface DisconnectedEvent extends ConnectedEvent {
  disconnectedAt: Date;
  closeCode: number;
}

export interface MembershipEvent {
  roomId: string;
  deviceId: string;
  identity: string;
  sessionId: string;
}

export interface MessageCreatedEvent {
  message: MessagePayload;
  /** The sending session: it has the ack and is not sent the message again. */
  sessionId: string;
  /** The client's own id of the send, when it gave one. */
  requestId?: string;
  /**
   * Room-manager relays: the frame exactly as the client sent it, which is what the other
   * members receive (instead of a `message` event).
   */
  relayFrame?: string;
}

export interface RoomQueriedEvent {
  roomId: string;
  deviceId: string;
  totalClients: number;
  queriedAt: Date;
}
