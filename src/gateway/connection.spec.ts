import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { type BackpressureAction, Connection, type OutboundBudget } from './connection.js';

/** A socket whose unread bytes the test sets; it records what was written and how it closed. */
class FakeSocket {
  readyState = 1;
  bufferedAmount = 0;
  readonly sent: string[] = [];
  closedWith?: number;
  send(frame: string | Buffer) {
    this.sent.push(frame.toString());
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
  const conn = new Connection(socket as unknown as WebSocket, 's1', '127.0.0.1', 'n1', {
    maxBytes,
    policy,
    onAction: (_conn, action) => actions.push(action),
  });
  return { conn, socket, actions };
}

const frame = (text: string) => Buffer.from(text);
const KB = (n: number) => 'x'.repeat(n * 1024);

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
