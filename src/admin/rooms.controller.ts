import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Post, Put, Query } from '@nestjs/common';
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
  RoomMemberListDto,
  RoomMemberParamsDto,
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

  @Get(':id/members')
  @ApiOperation({ summary: "A private room's member list: the devices that may join it" })
  @ApiOkResponse({ type: RoomMemberListDto })
  @ApiErrors({ 400: 'Invalid room id', 404: 'No such room' })
  members(@Param() params: RoomParamsDto): Promise<RoomMemberListDto> {
    return this.rooms.memberList(params.id);
  }

  @Put(':id/members/:device_id')
  @ApiOperation({ summary: 'Let a device into a private room (idempotent); answers the list' })
  @ApiOkResponse({ type: RoomMemberListDto })
  @ApiErrors({ 400: 'Invalid ids, or the room is not private', 404: 'No such room' })
  addMember(@Param() params: RoomMemberParamsDto): Promise<RoomMemberListDto> {
    return this.rooms.addMember(params.id, params.device_id);
  }

  @Delete(':id/members/:device_id')
  @ApiOperation({
    summary:
      "Take a device off a private room's list: it may not join again (kick it to end a session in the room now); answers the list",
  })
  @ApiOkResponse({ type: RoomMemberListDto })
  @ApiErrors({ 400: 'Invalid ids', 404: 'Not a member' })
  removeMember(@Param() params: RoomMemberParamsDto): Promise<RoomMemberListDto> {
    return this.rooms.removeMember(params.id, params.device_id);
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
