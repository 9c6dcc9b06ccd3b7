// The Node example of docs/client.md, run by test/client-docs.test.ts. Run it against a server:
//   node --conditions=roomcast-source --import @swc-node/register/esm-register \
//     examples/client/node-chat.ts ws://localhost:8080/ws LOBBY
import { ReconnectingClient } from '#client';
import type { MessagePayload } from '#protocol';

/**
 * One chat participant: connects (and reconnects, resuming where it stopped, for as long as it
 * runs), joins `room`, hands every message of the others to `onMessage` and says hello once.
 */
export async function joinChat(
  url: string,
  deviceId: string,
  room: string,
  onMessage: (message: MessagePayload) => void,
): Promise<ReconnectingClient> {
  const client = await ReconnectingClient.connect(url, { device_id: deviceId, identity: 'node-example' });
  // Every message of the room once, in seq order, its own included (fetched to fill the seq).
  client.on('message', (m) => m.from.device_id !== deviceId && onMessage(m));
  client.on('reconnecting', ({ attempt, delayMs, code }) =>
    console.warn(`connection lost (${code}); attempt ${attempt} in ${delayMs} ms`),
  );
  // Joined again by the client after every reconnect.
  await client.request('room.join', { room_id: room });
  // Acked once durable; a resend after a reconnect keeps its id, so it is stored once.
  const ack = await client.request('message.send', {
    room_id: room,
    kind: 'text',
    content: `hello from ${deviceId}`,
  });
  console.log(`said hello as message ${ack.message_id}, seq ${ack.seq}`);
  return client;
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const [url = 'ws://localhost:8080/ws', room = 'LOBBY'] = process.argv.slice(2);
  const client = await joinChat(url, `node-${process.pid}`, room, (m) =>
    console.log(`${m.from.identity} (${m.from.device_id}): ${JSON.stringify(m.content)}`),
  );
  process.once('SIGINT', () => void client.close().then(() => process.exit(0)));
}
