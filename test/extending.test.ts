import { Injectable, Module } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiceModule } from '../examples/dice/dice.module.js';
import { MessageHandler } from '../src/gateway/index.js';
import { ClientPool } from './support/clients.js';
import { startTestServer, testEnvironment, type TestEnvironment, type TestServer } from './support/app.js';

describe('extending Roomcast with a module (docs/extending.md)', () => {
  let env: TestEnvironment;
  let server: TestServer;
  let pool: ClientPool;

  beforeAll(async () => {
    env = await testEnvironment('embedded');
    server = await startTestServer(env, {}, [DiceModule]);
    pool = new ClientPool(server.wsUrl);
  });

  afterAll(async () => {
    await pool?.closeAll();
    await server?.stop();
    await env?.dispose();
  });

  it('routes a custom frame type to its handler, with validation, and lets it use the public services', async () => {
    const a = await pool.connect({ device_id: 'dice-a', identity: 'web', room_id: 'DICEROOM' });
    const b = await pool.connect({ device_id: 'dice-b', identity: 'web', room_id: 'DICEROOM' });
    const roll = await a.client.rawRequest<{ value: number; sides: number }>('dice.roll', { sides: 20 });
    expect(roll.sides).toBe(20);
    expect(roll.value).toBeGreaterThanOrEqual(1);
    expect(roll.value).toBeLessThanOrEqual(20);
    expect(await b.client.waitFor('system')).toMatchObject({
      kind: 'dice',
      payload: { device_id: 'dice-a', sides: 20, value: roll.value },
    });
    await expect(a.client.rawRequest('dice.roll', { sides: 1 })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
  });

  it('delivers lifecycle events to the module', async () => {
    const a = await pool.connect({ device_id: 'dice-c', identity: 'web', room_id: 'DICEROO2' });
    await a.client.request('message.send', { room_id: 'DICEROO2', kind: 'text', content: 'one' });
    await a.client.request('message.send', { room_id: 'DICEROO2', kind: 'text', content: 'two' });
    expect(await a.client.rawRequest('dice.stats')).toEqual({ messages: 2 });
  });

  it('refuses to start when two handlers claim one type', async () => {
    @Injectable()
    class Impostor {
      @MessageHandler('room.join')
      join() {
        return {};
      }
    }
    @Module({ providers: [Impostor] })
    class ImpostorModule {}
    await expect(startTestServer(env, {}, [ImpostorModule])).rejects.toThrow(/room\.join.*declared twice/);
  });
});
