import { IsInt, IsOptional, Max, Min } from 'class-validator';

export class RollDto {
  @IsOptional()
  @IsInt()
  @Min(2)
  @Max(1000)
  sides?: number;
}
