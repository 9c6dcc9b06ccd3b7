import type { Member, Session } from '../presence/presence.store.js';

/**
 * What the cluster needs to know of this node's own connections: how many there are for
 * its heartbeat, and all of them to put back into presence when Redis lost them. The
 * gateway provides it.
 */
export abstract class LocalNode {
  abstract connections(): number;
  abstract snapshot(): { sessions: Session[]; memberships: Array<[roomId: string, member: Member]> };
}
