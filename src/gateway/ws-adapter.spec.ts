import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
/** The `ws` that WsAdapter's WebSocketServer (and so every server-side socket) comes from. */
const adapterWs = createRequire(require.resolve('@nestjs/platform-ws')).resolve('ws');

describe('the ws package under the adapter', () => {
  // @nestjs/platform-ws pins ws 8.22.0, whose receiver keeps the mask of a client's last frame:
  // a view that pins the whole read buffer it came in (up to 64 KiB) for as long as the
  // connection stays idle. package.json's `overrides` puts the project's ws there instead.
  it("is the project's own ws", () => {
    expect(adapterWs).toBe(require.resolve('ws'));
  });

  it('keeps no view into a read buffer once a frame is read', () => {
    const { Receiver } = require(adapterWs) as typeof import('ws');
    const receiver = new Receiver({ isServer: true }) as InstanceType<typeof Receiver> & { _mask?: Buffer };
    const read = Buffer.alloc(64 * 1024);
    // A masked text frame of 2 bytes ("hi" under the mask 1 2 3 4), then the rest of the read.
    Buffer.from([0x81, 0x82, 1, 2, 3, 4, 'h'.charCodeAt(0) ^ 1, 'i'.charCodeAt(0) ^ 2]).copy(read);
    const messages: string[] = [];
    receiver.on('message', (data: Buffer) => messages.push(data.toString()));
    receiver.write(read.subarray(0, 8));
    expect(messages).toEqual(['hi']);
    expect(receiver._mask).toBeUndefined();
  });
});
