export * from './envelope.js';
export * from './events.js';
export * from './messages.js';
export * from './requests.js';
