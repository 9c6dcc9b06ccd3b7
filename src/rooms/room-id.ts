import { randomInt } from 'node:crypto';
import { applyDecorators } from '@nestjs/common';
import { IsString, Matches } from 'class-validator';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** A fresh room id: 8 characters of [A-Z0-9] (36^8 ≈ 2.8e12 ids), from a CSPRNG so ids can't be guessed. */
export function generateRoomId(): string {
  let id = '';
  for (let i = 0; i < 8; i++) id += ALPHABET[randomInt(ALPHABET.length)];
  return id;
}

/** Ids a client may choose: the generated shape and any other short, URL-safe name. */
export const CLIENT_ROOM_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** class-validator rule for a client-chosen room id, with one wording everywhere. */
export const IsRoomId = () =>
  applyDecorators(
    IsString(),
    Matches(CLIENT_ROOM_ID, { message: '$property must be 1-64 characters of [A-Za-z0-9_-]' }),
  );
