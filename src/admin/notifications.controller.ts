import { Body, Controller, HttpCode, HttpStatus, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { NotificationsService } from '../notifications/notifications.service.js';
import { AdminApi } from './admin-token.guard.js';
import { ApiErrors } from './dto/error.dto.js';
import { NotifyDto, NotifyResultDto } from './dto/notifications.dto.js';

@AdminApi('notifications')
@Controller('api/notifications')
export class NotificationsController {
  constructor(private readonly notifications: NotificationsService) {}

  /** 200, not 202: when it answers, the live deliveries are made and the offline items durable. */
  @Post()
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary:
      'Send a `system` event to devices, a room or everyone: live to connected clients, kept offline for devices that are not',
  })
  @ApiOkResponse({ type: NotifyResultDto })
  @ApiErrors({
    400: 'Invalid body, or not exactly one of device_ids, room_id and everyone',
    404: 'No such room',
    503: 'The offline items could not be stored (live deliveries already made stay made)',
  })
  async notify(@Body() body: NotifyDto): Promise<NotifyResultDto> {
    const result = await this.notifications.notify({
      deviceIds: body.device_ids,
      roomId: body.room_id,
      everyone: body.everyone,
      kind: body.kind,
      payload: body.payload,
    });
    return { notification_id: result.notificationId, delivered: result.delivered, stored: result.stored };
  }
}
