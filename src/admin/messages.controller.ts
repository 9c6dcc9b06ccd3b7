import { Controller, Delete, Param } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty } from '@nestjs/swagger';
import { IsString, Length } from 'class-validator';
import { MessagingService } from '../messaging/messaging.service.js';
import { AdminApi } from './admin-token.guard.js';
import { ApiErrors } from './dto/error.dto.js';

export class MessageParamsDto {
  @ApiProperty({ description: 'Message id' })
  @IsString()
  @Length(1, 64)
  id: string;
}

export class RecallResultDto {
  @ApiProperty()
  message_id: string;

  @ApiProperty({ example: true })
  recalled: true;
}

@AdminApi('messages')
@Controller('api/messages')
export class MessagesController {
  constructor(private readonly messaging: MessagingService) {}

  @Delete(':id')
  @ApiOperation({
    summary: 'Recall a message (any message, at any time)',
    description:
      'The message keeps its place but loses its content; the room or the direct-message peer is told ' +
      'with message.recalled, as when its sender recalls it.',
  })
  @ApiOkResponse({ type: RecallResultDto })
  @ApiErrors({ 404: 'No such message' })
  async recall(@Param() params: MessageParamsDto): Promise<RecallResultDto> {
    await this.messaging.recall({ admin: 'admin' }, params.id);
    return { message_id: params.id, recalled: true };
  }
}
