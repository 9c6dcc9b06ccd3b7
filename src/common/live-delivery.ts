import type { ServerEventMap } from '#protocol';

/**
 * How domain services reach connected clients without knowing sockets. The gateway binds
 * it to its DeliveryService (this node's sockets); the cluster binds it to Redis routing.
 */
export abstract class LiveDelivery {
  /** Sends the event to the device if it is connected; false when it is not (keep it offline). */
  abstract toDevice<T extends keyof ServerEventMap>(
    deviceId: string,
    type: T,
    data: ServerEventMap[T],
  ): boolean;
  /** Sends the event to the room's members, except one session; returns how many got it. */
  abstract toRoom<T extends keyof ServerEventMap>(
    roomId: string,
    type: T,
    data: ServerEventMap[T],
    exceptSessionId?: string,
  ): number;
}
