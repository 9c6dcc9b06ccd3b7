export const MESSAGE_KINDS = ['text', 'image', 'file', 'custom'] as const;
export type MessageKind = (typeof MESSAGE_KINDS)[number];

export interface Sender {
  device_id: string;
  identity: string;
}

/** A message as clients see it, live (`message` event), in history and in replays. */
export interface MessagePayload {
  message_id: string;
  room_id?: string;
  to_device_id?: string;
  from: Sender;
  /** Per-room sequence, gap-free; absent on direct messages. */
  seq?: number;
  /** Server time of acceptance, ms since epoch. */
  ts: number;
  kind: MessageKind;
  /** null once the message is recalled. */
  content: unknown;
  mentions?: string[];
  /** Present (true) on a recalled message: it keeps its place, without its content. */
  recalled?: boolean;
}
