/** A read marker: rooms use `upToSeq`, peers `upToMessageId`; the other one is null. */
export interface ReadMarker {
  upToSeq: number | null;
  upToMessageId: string | null;
}

/** Whether `next` is further than `current` (a missing marker is the start of the scope). */
export function isFurther(next: ReadMarker, current: ReadMarker | undefined): boolean {
  if (next.upToSeq !== null) return next.upToSeq > (current?.upToSeq ?? 0);
  if (next.upToMessageId !== null)
    return current?.upToMessageId == null || next.upToMessageId > current.upToMessageId;
  return false;
}

/** The further of two markers of one scope. */
export function furthest(a: ReadMarker | undefined, b: ReadMarker | undefined): ReadMarker | undefined {
  if (!a) return b;
  if (!b) return a;
  return isFurther(b, a) ? b : a;
}

/**
 * The read markers this node knows (written here, or read from the database), so that a read
 * right after a write is consistent on this node while the write waits in the queue. Bounded:
 * least recently used devices are forgotten first, and each device keeps its most recently
 * set scopes. Forgetting is safe: the database has (or will have) every marker.
 */
export class ReadStateCache {
  private readonly devices = new Map<string, Map<string, ReadMarker>>();

  constructor(
    private readonly maxDevices = 10_000,
    private readonly maxScopesPerDevice = 1_000,
  ) {}

  get size(): number {
    return this.devices.size;
  }

  get(deviceId: string, scope: string): ReadMarker | undefined {
    return this.touch(deviceId)?.get(scope);
  }

  /** Every cached marker of the device, by scope. */
  scopes(deviceId: string): ReadonlyMap<string, ReadMarker> {
    return this.touch(deviceId) ?? new Map();
  }

  /** Keeps the further of the cached marker and `marker`. */
  merge(deviceId: string, scope: string, marker: ReadMarker): void {
    let scopes = this.touch(deviceId);
    if (!scopes) {
      scopes = new Map();
      this.devices.set(deviceId, scopes);
      if (this.devices.size > this.maxDevices) this.devices.delete(this.devices.keys().next().value!);
    }
    const kept = furthest(scopes.get(scope), marker)!;
    scopes.delete(scope);
    scopes.set(scope, kept);
    if (scopes.size > this.maxScopesPerDevice) scopes.delete(scopes.keys().next().value!);
  }

  /** Marks the device as most recently used. */
  private touch(deviceId: string): Map<string, ReadMarker> | undefined {
    const scopes = this.devices.get(deviceId);
    if (scopes) {
      this.devices.delete(deviceId);
      this.devices.set(deviceId, scopes);
    }
    return scopes;
  }
}
