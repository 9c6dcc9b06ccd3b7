import { Injectable, type Type } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { describe, expect, it } from 'vitest';
import { AppConfig } from '../config/app-config.js';
import { loadConfig } from '../config/load-config.js';
import { JobHandler } from './job-handler.decorator.js';
import { JobHandlerRegistry } from './job-handler.registry.js';
import { type DeviceSeenJob, JobName } from './job-registry.js';

@Injectable()
class AllButDeviceSeen {
  readonly ran: unknown[] = [];

  @JobHandler(JobName.PersistMessage)
  async persist(data: unknown) {
    this.ran.push(data);
  }
  @JobHandler(JobName.ConnectionOpened)
  async opened() {}
  @JobHandler(JobName.ConnectionClosed)
  async closed() {}
  @JobHandler(JobName.RoomQueried)
  async queried() {}
  @JobHandler(JobName.OfflineDelivered)
  async offlineDelivered() {}
  @JobHandler(JobName.OfflineExpire)
  async offlineExpire() {}
  @JobHandler(JobName.MessageRecalled)
  async recalled() {}
  @JobHandler(JobName.ReadStateUpdated)
  async read() {}
}

@Injectable()
class DeviceSeenHandler {
  @JobHandler(JobName.DeviceSeen)
  async seen(_job: DeviceSeenJob) {
    throw new Error('handler failed');
  }
}

@Injectable()
class SecondDeviceSeenHandler {
  @JobHandler(JobName.DeviceSeen)
  async alsoSeen() {}
}

async function boot(providers: Type[], env: Record<string, string> = {}) {
  const moduleRef = await Test.createTestingModule({
    imports: [DiscoveryModule],
    providers: [{ provide: AppConfig, useValue: loadConfig(env) }, JobHandlerRegistry, ...providers],
  }).compile();
  await moduleRef.init();
  return moduleRef;
}

describe('JobHandlerRegistry', () => {
  it('dispatches each job to its handler and passes its failure on', async () => {
    const moduleRef = await boot([AllButDeviceSeen, DeviceSeenHandler]);
    const registry = moduleRef.get(JobHandlerRegistry);
    const message = { messageId: 'm1' };
    await registry.run(JobName.PersistMessage, message as never);
    expect(moduleRef.get(AllButDeviceSeen).ran).toEqual([message]);
    await expect(registry.run(JobName.DeviceSeen, {} as DeviceSeenJob)).rejects.toThrow('handler failed');
    expect(registry.isJobName('device.seen')).toBe(true);
    expect(registry.isJobName('nope')).toBe(false);
    await moduleRef.close();
  });

  it('fails start-up when a job has no handler in a process that runs workers', async () => {
    await expect(boot([AllButDeviceSeen])).rejects.toThrow(/no @JobHandler for job\(s\): device\.seen/);
  });

  it('lets a gateway-only process start without handlers', async () => {
    const moduleRef = await boot([], { ROLE: 'gateway', REDIS_URL: 'redis://127.0.0.1:6379' });
    await expect(
      moduleRef.get(JobHandlerRegistry).run(JobName.DeviceSeen, {} as DeviceSeenJob),
    ).rejects.toThrow(/no @JobHandler for job device\.seen/);
    await moduleRef.close();
  });

  it('fails start-up when a job has two handlers', async () => {
    await expect(boot([AllButDeviceSeen, DeviceSeenHandler, SecondDeviceSeenHandler])).rejects.toThrow(
      /job device\.seen has two @JobHandler methods: DeviceSeenHandler\.seen and SecondDeviceSeenHandler\.alsoSeen/,
    );
  });
});
