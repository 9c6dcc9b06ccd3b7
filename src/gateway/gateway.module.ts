import { Global, Module } from '@nestjs/common';
import { LiveDelivery } from '../common/live-delivery.js';
import { DiscoveryModule } from '@nestjs/core';
import { ClusterModule } from '../cluster/cluster.module.js';
import { LocalNode } from '../cluster/local-node.js';
import { AuthModule } from '../auth/auth.module.js';
import { DevicesModule } from '../devices/devices.module.js';
import { MessagingModule } from '../messaging/messaging.module.js';
import { NotificationsModule } from '../notifications/notifications.module.js';
import { OfflineModule } from '../offline/offline.module.js';
import { PresenceModule } from '../presence/presence.module.js';
import { RateLimitModule } from '../rate-limit/rate-limit.module.js';
import { ReceiptsModule } from '../receipts/receipts.module.js';
import { RoomsModule } from '../rooms/rooms.module.js';
import { TypingModule } from '../typing/typing.module.js';
import { ConnectionCaps } from './connection-caps.js';
import { ConnectionRegistry } from './connection-registry.js';
import { DeliveryService } from './delivery.service.js';
import { FrameRouter } from './frame-router.js';
import { FrameTracer } from './frame-tracer.js';
import { GatewayMetrics } from './gateway.metrics.js';
import { AuthHandlers } from './handlers/auth.handlers.js';
import { MessagingHandlers } from './handlers/messaging.handlers.js';
import { InvitationsHandlers } from './handlers/invitations.handlers.js';
import { PingHandler } from './handlers/ping.handler.js';
import { ReceiptsHandlers } from './handlers/receipts.handlers.js';
import { RoomsHandlers } from './handlers/rooms.handlers.js';
import { TypingHandlers } from './handlers/typing.handlers.js';
import { HandshakeService } from './handshake.service.js';
import { RoomcastGateway } from './roomcast.gateway.js';
import { SessionsService } from './sessions.service.js';
import { TokenExpiry } from './token-expiry.js';

/** Global so domain modules can inject LiveDelivery without importing the gateway (and without a cycle). */
@Global()
@Module({
  imports: [
    DiscoveryModule,
    ClusterModule,
    AuthModule,
    PresenceModule,
    RoomsModule,
    DevicesModule,
    MessagingModule,
    OfflineModule,
    ReceiptsModule,
    TypingModule,
    NotificationsModule,
    RateLimitModule,
  ],
  providers: [
    RoomcastGateway,
    ConnectionRegistry,
    { provide: LocalNode, useExisting: ConnectionRegistry },
    FrameRouter,
    FrameTracer,
    HandshakeService,
    DeliveryService,
    { provide: LiveDelivery, useExisting: DeliveryService },
    GatewayMetrics,
    SessionsService,
    RoomsHandlers,
    MessagingHandlers,
    PingHandler,
    InvitationsHandlers,
    ReceiptsHandlers,
    TypingHandlers,
    AuthHandlers,
    ConnectionCaps,
    TokenExpiry,
  ],
  exports: [SessionsService, LiveDelivery, LocalNode],
})
export class GatewayModule {}
