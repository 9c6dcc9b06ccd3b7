import type { LocalPresence } from '../presence/presence.service.js';

/**
 * What the cluster needs to know of this node's own connections: how many there are for
 * its heartbeat, and all of them to reconcile presence with when Redis may have lost track of them. The
 * gateway provides it.
 */
export abstract class LocalNode {
  abstract connections(): number;
  abstract snapshot(): LocalPresence;
}
