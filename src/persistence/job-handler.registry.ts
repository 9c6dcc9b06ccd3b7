import { Injectable, OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { AppConfig } from '../config/app-config.js';
import { JOB_HANDLER } from './job-handler.decorator.js';
import { JobName, type JobPayloads } from './job-registry.js';

type Handler = (data: unknown) => Promise<unknown>;

const JOB_NAMES = new Set<string>(Object.values(JobName));

export class JobRegistryError extends Error {
  override name = 'JobRegistryError';
}

/**
 * Finds every `@JobHandler(JobName.X)` method of every provider at boot. In a process that
 * runs workers, a job with no handler stops start-up: it would otherwise sit in its queue
 * forever. Two handlers for one job stop start-up in every role, since which one ran
 * would depend on discovery order.
 */
@Injectable()
export class JobHandlerRegistry implements OnModuleInit {
  private readonly handlers = new Map<JobName, { handler: Handler; owner: string }>();

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.discover();
    if (!this.config.runsWorkers) return;
    const missing = Object.values(JobName).filter((name) => !this.handlers.has(name));
    if (missing.length > 0) {
      throw new JobRegistryError(`no @JobHandler for job(s): ${missing.join(', ')}`);
    }
  }

  isJobName(name: string): name is JobName {
    return JOB_NAMES.has(name);
  }

  /** Runs the handler of `name`; its rejection is the job's failure. */
  async run<N extends JobName>(name: N, data: JobPayloads[N]): Promise<void> {
    const entry = this.handlers.get(name);
    if (!entry) throw new JobRegistryError(`no @JobHandler for job ${name}`);
    await entry.handler(data);
  }

  private discover(): void {
    // An alias provider (useExisting) shows the same instance under a second wrapper.
    const seen = new Set<object>();
    for (const wrapper of this.discovery.getProviders()) {
      const instance: unknown = wrapper.instance;
      if (
        !wrapper.isDependencyTreeStatic() ||
        !instance ||
        typeof instance !== 'object' ||
        seen.has(instance)
      ) {
        continue;
      }
      seen.add(instance);
      const methods = instance as Record<string, unknown>;
      for (const key of this.scanner.getAllMethodNames(Object.getPrototypeOf(instance))) {
        const method = methods[key];
        if (typeof method !== 'function') continue;
        const name = this.reflector.get<JobName | undefined>(JOB_HANDLER, method);
        if (name !== undefined)
          this.register(name, method.bind(instance) as Handler, `${instance.constructor.name}.${key}`);
      }
    }
  }

  private register(name: JobName, handler: Handler, owner: string): void {
    const existing = this.handlers.get(name);
    if (existing) {
      throw new JobRegistryError(`job ${name} has two @JobHandler methods: ${existing.owner} and ${owner}`);
    }
    this.handlers.set(name, { handler, owner });
  }
}
