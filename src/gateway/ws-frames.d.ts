import type { Writable } from 'node:stream';

/**
 * ws's frame writer and reader: exported by the package (`import { Sender, Receiver } from
 * 'ws'`), not declared by @types/ws. Only what Roomcast uses.
 */
declare module 'ws' {
  interface FrameOptions {
    fin: boolean;
    opcode: number;
    mask: boolean;
    readOnly: boolean;
    rsv1: boolean;
  }

  export class Sender {
    /** The frame's header and payload (one or two buffers, to be written in this order). */
    static frame(data: Buffer, options: FrameOptions): Buffer[];
  }

  export class Receiver extends Writable {
    constructor(options: { isServer: boolean; skipUTF8Validation?: boolean });
    on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): this;
  }
}
