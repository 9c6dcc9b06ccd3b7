import { RoomcastClient, type Handshake } from '#client';
import type { HelloData } from '#protocol';

/** Clients opened by a test, closed together at the end. */
export class ClientPool {
  private readonly clients: RoomcastClient[] = [];

  constructor(private readonly wsUrl: string) {}

  async connect(hello: HelloData): Promise<{ client: RoomcastClient; handshake: Handshake }> {
    const result = await RoomcastClient.connect(this.wsUrl, hello);
    this.clients.push(result.client);
    return result;
  }

  /** Opens a socket without a handshake. */
  async open(): Promise<RoomcastClient> {
    const client = await RoomcastClient.open(this.wsUrl);
    this.clients.push(client);
    return client;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.clients.splice(0).map((c) => c.close()));
  }
}

/** Polls `probe` until it returns a value that passes `done`, or fails after `timeoutMs`. */
export async function eventually<T>(
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T;
  do {
    last = await probe();
    if (done(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  } while (Date.now() < deadline);
  throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(last)}`);
}
