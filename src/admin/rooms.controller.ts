import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { AdminApi } from './admin-token.guard.js';
import { AdminRoomsService } from './admin-rooms.service.js';
import { ApiErrors } from './dto/error.dto.js';
import {
  CloseRoomResultDto,
  CreateRoomDto,
  HistoryQueryDto,
  ListRoomsQueryDto,
  MessagePageDto,
  RoomDetailDto,
  RoomDto,
  RoomListDto,
  RoomParamsDto,
} from './dto/rooms.dto.js';

@AdminApi('rooms')
@Controller('api/rooms')
export class RoomsController {
  constructor(private readonly rooms: AdminRoomsService) {}

  @Get()
  @ApiOperation({ summary: 'List rooms, oldest first, with their connected members count' })
  @ApiOkResponse({ type: RoomListDto })
  @ApiErrors({ 400: 'Invalid limit or offset' })
  list(@Query() query: ListRoomsQueryDto): Promise<RoomListDto> {
    return this.rooms.list(query.limit, query.offset);
  }

  @Post()
  @ApiOperation({ summary: 'Create a room' })
  @ApiCreatedResponse({ type: RoomDto })
  @ApiErrors({ 400: 'Invalid body', 409: 'A room with this id exists' })
  create(@Body() body: CreateRoomDto): Promise<RoomDto> {
    return this.rooms.create(body);
  }

  @Get(':id')
  @ApiOperation({ summary: 'A room and its members' })
  @ApiOkResponse({ type: RoomDetailDto })
  @ApiErrors({ 400: 'Invalid room id', 404: 'No such room' })
  detail(@Param() params: RoomParamsDto): Promise<RoomDetailDto> {
    return this.rooms.detail(params.id);
  }

  @Delete(':id')
  @ApiOperation({
    summary:
      'Close a room: members get `system` kind `room_closed` and leave it (they stay connected); messages are kept',
  })
  @ApiOkResponse({ type: CloseRoomResultDto })
  @ApiErrors({ 400: 'Invalid room id', 404: 'No such room' })
  close(@Param() params: RoomParamsDto): Promise<CloseRoomResultDto> {
    return this.rooms.close(params.id);
  }

  @Get(':id/messages')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: "A page of the room's stored messages (also of a deleted room)" })
  @ApiOkResponse({ type: MessagePageDto })
  @ApiErrors({ 400: 'Invalid cursor or limit, or both before_seq and after_seq' })
  messages(@Param() params: RoomParamsDto, @Query() query: HistoryQueryDto): Promise<MessagePageDto> {
    return this.rooms.history(params.id, query);
  }
}
