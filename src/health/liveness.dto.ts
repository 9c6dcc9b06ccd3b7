import { ApiProperty } from '@nestjs/swagger';

export class LivenessDto {
  @ApiProperty({ enum: ['ok', 'shutting_down'] })
  status: 'ok' | 'shutting_down';

  @ApiProperty({ type: 'integer', description: 'Seconds since the process started' })
  uptime_s: number;
}
