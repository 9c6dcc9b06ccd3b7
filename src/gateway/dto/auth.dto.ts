import { IsString, Length } from 'class-validator';

export class AuthRefreshDto {
  @IsString()
  @Length(1, 8192)
  token: string;
}
