import { applyDecorators } from '@nestjs/common';
import { IsString, Matches } from 'class-validator';

/** What a device id may be: it appears in Redis keys, URLs and logs. */
export const DEVICE_ID = /^[A-Za-z0-9_.:@-]{1,128}$/;

/** class-validator rule for a device id (one or, with `each`, every element of an array). */
export const IsDeviceId = (each = false) =>
  applyDecorators(
    IsString({ each }),
    Matches(DEVICE_ID, { each, message: '$property must be 1-128 characters of [A-Za-z0-9_.:@-]' }),
  );
