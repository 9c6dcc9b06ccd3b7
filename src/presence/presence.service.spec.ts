import { EventEmitter2 } from '@nestjs/event-emitter';
import { describe, expect, it } from 'vitest';
import { Lifecycle } from '../common/lifecycle-events.js';
import { RoomcastError } from '../common/roomcast-error.js';
import { PresenceService } from './presence.service.js';
import { InMemoryPresenceStore } from './presence.store.js';

const member = (deviceId: string, sessionId = `s-${deviceId}`) => ({
  deviceId,
  identity: 'web',
  sessionId,
  nodeId: 'n1',
});

describe('PresenceService', () => {
  it('counts members, refuses past capacity and publishes joins and leaves', async () => {
    const events = new EventEmitter2();
    const seen: string[] = [];
    events.on(Lifecycle.Joined, (e) => seen.push(`join:${e.deviceId}`));
    events.on(Lifecycle.Left, (e) => seen.push(`leave:${e.deviceId}`));
    const presence = new PresenceService(new InMemoryPresenceStore(), events);

    expect(await presence.join('R1', member('a'), 2)).toBe(1);
    expect(await presence.join('R1', member('b'), 2)).toBe(2);
    await expect(presence.join('R1', member('c'), 2)).rejects.toMatchObject({ code: 'ROOM_FULL' });
    await expect(presence.join('R1', member('c'), 2)).rejects.toBeInstanceOf(RoomcastError);
    // A device already in the room may re-join (takeover) even when the room is full.
    expect(await presence.join('R1', member('b', 's-b2'), 2)).toBe(2);

    expect(await presence.leave('R1', member('b'))).toBe(false); // old session: no effect
    expect(await presence.leave('R1', member('b', 's-b2'))).toBe(true);
    expect(await presence.count('R1')).toBe(1);
    expect(seen).toEqual(['join:a', 'join:b', 'join:b', 'leave:b']);
  });

  it('forgets empty rooms', async () => {
    const presence = new PresenceService(new InMemoryPresenceStore(), new EventEmitter2());
    await presence.join('R1', member('a'), 0);
    await presence.leave('R1', member('a'));
    expect((await presence.occupied()).size).toBe(0);
  });
});
