/**
 * Test servers run with the rate limits off: many tests send hundreds of frames from one
 * device and open many sockets from 127.0.0.1. test/rate-limit.test.ts sets each limit it tests.
 */
export const NO_RATE_LIMITS: Record<string, string> = {
  RATE_SEND_PER_SEC: '0',
  RATE_REQUESTS_PER_SEC: '0',
  RATE_ROOM_MSGS_PER_SEC: '0',
  RATE_CONNECT_PER_SEC: '0',
  RATE_ADMIN_PER_SEC: '0',
};
