import { describe, expect, it } from 'vitest';
import { Receiver, type WebSocket } from 'ws';
import { type BackpressureAction, Connection, type OutboundBudget, WireFrame } from './connection.js';

/** The payloads of WireFrames as a client reads them (ws's own frame parser). */
function readFrames(bytes: Buffer): Array<{ text: string; binary: boolean }> {
  const read: Array<{ text: string; binary: boolean }> = [];
  const receiver = new Receiver({ isServer: false, skipUTF8Validation: false });
  receiver.on('message', (data: Buffer, binary: boolean) => read.push({ text: data.toString(), binary }));
  receiver.write(bytes);
  return read;
}

/**
 * A socket whose unread bytes the test sets; it records what was written (through ws, or as
 * WireFrames to the transport) and how it closed.
 */
class FakeSocket {
  readyState = 1;
  bufferedAmount = 0;
  readonly sent: string[] = [];
  closedWith?: number;
  send(frame: string | Buffer) {
    this.sent.push(frame.toString());
  }
  write(bytes: Buffer) {
    this.sent.push(...readFrames(bytes).map((f) => f.text));
    return true;
  }
  close(code: number) {
    this.closedWith = code;
    this.readyState = 2;
  }
  terminate() {
    this.readyState = 3;
  }
}

function connection(maxBytes: number, policy: OutboundBudget['policy']) {
  const socket = new FakeSocket();
  const actions: BackpressureAction[] = [];
  const conn = new Connection(socket as unknown as WebSocket, socket, 's1', '127.0.0.1', 'n1', {
    maxBytes,
    policy,
    onAction: (_conn, action) => actions.push(action),
  });
  return { conn, socket, actions };
}

const frame = (text: string) => new WireFrame(Buffer.from(text));
const KB = (n: number) => 'x'.repeat(n * 1024);

describe('WireFrame', () => {
  it.each([0, 5, 125, 126, 65_535, 65_536, 200_000])(
    'is a frame a client reads back (payload of %i bytes)',
    (size) => {
      const text = 'é'.repeat(size >> 1) + 'x'.repeat(size & 1);
      const wire = new WireFrame(Buffer.from(text));
      expect(readFrames(wire.bytes)).toEqual([{ text, binary: false }]);
    },
  );

  it('marks a binary frame as binary', () => {
    const wire = new WireFrame(Buffer.from([0, 1, 2]), true);
    expect(readFrames(wire.bytes)).toEqual([{ text: '\u0000\u0001\u0002', binary: true }]);
  });
});

describe('Connection outbound budget', () => {
  it('writes while the client keeps up, and a frame larger than the budget when nothing is pending', () => {
    const { conn, socket, actions } = connection(1024, 'drop');
    conn.deliver(frame(KB(4)));
    expect(socket.sent).toHaveLength(1);
    expect(actions).toEqual([]);
  });

  it('drop: skips frames that would pass the budget, then writes again once the client has read', () => {
    const { conn, socket, actions } = connection(10 * 1024, 'drop');
    socket.bufferedAmount = 9 * 1024;
    conn.deliver(frame(KB(2)));
    conn.sendRaw(KB(2));
    expect(socket.sent).toEqual([]);
    expect(actions).toEqual(['dropped', 'dropped']);
    socket.bufferedAmount = 0;
    conn.deliver(frame('after'));
    expect(socket.sent).toEqual(['after']);
    expect(socket.closedWith).toBeUndefined();
  });

  it('skips typing and presence past half the budget, before anything else', () => {
    const { conn, socket, actions } = connection(10 * 1024, 'disconnect');
    socket.bufferedAmount = 6 * 1024;
    conn.deliver(frame('typing'), { volatile: true });
    conn.deliver(frame('message'));
    expect(socket.sent).toEqual(['message']);
    expect(actions).toEqual(['dropped_volatile']);
    expect(socket.closedWith).toBeUndefined();
  });

  it('disconnect: closes with 1013 and writes nothing more', () => {
    const { conn, socket, actions } = connection(10 * 1024, 'disconnect');
    socket.bufferedAmount = 9 * 1024;
    conn.deliver(frame(KB(2)));
    expect(socket.closedWith).toBe(1013);
    expect(actions).toEqual(['disconnected']);
    socket.bufferedAmount = 0;
    socket.readyState = 1;
    conn.deliver(frame('late'));
    expect(socket.sent).toEqual([]);
  });

  it('counts frames held during the handshake against the budget', () => {
    const { conn, socket, actions } = connection(3 * 1024, 'drop');
    conn.held = [];
    conn.deliver(frame(KB(2)));
    conn.deliver(frame(KB(2)));
    expect(actions).toEqual(['dropped']);
    conn.release();
    expect(socket.sent).toHaveLength(1);
  });

  it('has no budget at 0', () => {
    const { conn, socket, actions } = connection(0, 'disconnect');
    socket.bufferedAmount = 100 * 1024 * 1024;
    conn.deliver(frame('x'), { volatile: true });
    expect(socket.sent).toEqual(['x']);
    expect(actions).toEqual([]);
  });
});
