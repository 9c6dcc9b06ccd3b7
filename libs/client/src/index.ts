export {
  RoomcastClient,
  type ClientEventMap,
  type ClientEventType,
  type CloseInfo,
  type EventHandler,
  type EventPredicate,
  type Handshake,
  type HelloOptions,
  type OfflineItem,
  type RequestOptions,
  type RoomcastClientOptions,
} from './roomcast-client.js';
export {
  ReconnectingClient,
  type LifecycleEventMap,
  type LifecycleEventType,
  type ReconnectState,
  type ReconnectingClientOptions,
  type ReconnectingEventHandler,
  type ReconnectingEventMap,
  type ReconnectingEventType,
  type ReconnectingHello,
  type TokenProvider,
} from './reconnecting-client.js';
export {
  backoffCap,
  backoffDelay,
  defaultShouldReconnect,
  NO_RECONNECT_CLOSE_CODES,
  type BackoffOptions,
} from './backoff.js';
export type { GapInfo } from './inbound-order.js';
export {
  RoomcastConnectError,
  RoomcastRequestError,
  RoomcastWaitError,
  type ClientErrorCode,
} from './errors.js';
export type { ReceivedEvent } from './mailbox.js';
export type { WebSocketConstructor, WebSocketLike } from './transport.js';
