/** The gateway's public API for modules that add frame types or act on sessions (docs/extending.md). */
export type { Connection } from './connection.js';
export { EventReply, type HandlerContext } from './handler-context.js';
export { MessageHandler, type MessageHandlerOptions } from './message-handler.decorator.js';
export { SessionsService, type ClientInfo } from './sessions.service.js';
