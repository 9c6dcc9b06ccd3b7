import { SetMetadata } from '@nestjs/common';
import type { JobName } from './job-registry.js';

export const JOB_HANDLER = Symbol('roomcast:job-handler');

/**
 * Marks a provider method as the handler of a job. Discovered at boot by JobHandlerRegistry;
 * a job with no handler, or with two, stops start-up. The method must throw on failure
 * (never swallow): a thrown error is what makes the job retry.
 */
export const JobHandler = (name: JobName) => SetMetadata(JOB_HANDLER, name);
