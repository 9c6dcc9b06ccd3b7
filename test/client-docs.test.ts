import { describe, expect, it } from 'vitest';
import type { MessagePayload } from '#protocol';
import { joinChat } from '../examples/client/node-chat.js';
import { serve } from './support/app.js';
import { eventually } from './support/clients.js';
import { MODES } from './support/services.js';

describe.each(MODES)('docs/client.md: the Node example (examples/client/node-chat.ts) (%s)', (mode) => {
  const served = serve(mode);

  it('joins a room, says hello and hears the others', async () => {
    const heardByA: MessagePayload[] = [];
    const a = await joinChat(served.server.wsUrl, 'example-a', 'EXAMPLES', (m) => heardByA.push(m));
    const b = await joinChat(served.server.wsUrl, 'example-b', 'EXAMPLES', () => undefined);
    try {
      const [hello] = await eventually(
        async () => heardByA,
        (heard) => heard.length > 0,
      );
      expect(hello).toMatchObject({
        room_id: 'EXAMPLES',
        from: { device_id: 'example-b', identity: 'node-example' },
        kind: 'text',
        content: 'hello from example-b',
      });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
