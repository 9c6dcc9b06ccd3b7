import type { ServerEventMap } from '#protocol';

/** For an event a device must not miss: how its inbox keeps it if it is not connected after all. */
export interface KeepOffline {
  dedupeKey: string;
}

/**
 * How domain services reach connected clients without knowing sockets or nodes. The gateway
 * binds it to its DeliveryService: this node's sockets, and the others' through the cluster
 * bus.
 */
export abstract class LiveDelivery {
  /**
   * Sends the event to the device wherever it is connected; false when it is not (keep it
   * offline). With `keep`, a device that disconnects while the event travels to its node
   * gets it in its inbox there, so true never means lost.
   */
  abstract toDevice<T extends keyof ServerEventMap>(
    deviceId: string,
    type: T,
    data: ServerEventMap[T],
    keep?: KeepOffline,
  ): Promise<boolean>;
  /** Sends the event to the room's members on every node, except one session. */
  abstract toRoom<T extends keyof ServerEventMap>(
    roomId: string,
    type: T,
    data: ServerEventMap[T],
    exceptSessionId?: string,
  ): Promise<void>;
}
