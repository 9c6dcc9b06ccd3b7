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
  RoomcastConnectError,
  RoomcastRequestError,
  RoomcastWaitError,
  type ClientErrorCode,
} from './errors.js';
export type { ReceivedEvent } from './mailbox.js';
export type { WebSocketConstructor, WebSocketLike } from './transport.js';
