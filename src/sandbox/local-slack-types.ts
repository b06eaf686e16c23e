// The local Slack's data: people, channels and messages as Slack shapes them, and what the parts say to each other.

export interface FakeUser {
  id: string;
  name: string;
  displayName: string;
  realName: string;
  /** profile.email in users.info (which a real app sees only with the users:read.email scope). */
  email?: string;
  isBot?: boolean;
  /** users.info's `tz` (IANA); `tz_label` and `tz_offset` follow from it. Absent: Slack gives none. */
  tz?: string;
}

/** A user group (`S…`), mentioned as `<!subteam^S…>`; `usergroups.users.list` gives its members. */
export interface FakeUsergroup {
  id: string;
  handle: string;
  users: string[];
}

export interface ChannelSpec {
  id: string;
  name: string;
  members?: string[];
}

/** A message as Slack stores it and returns it from `conversations.history`. */
export interface StoredMessage {
  type: 'message';
  ts: string;
  text: string;
  thread_ts?: string;
  blocks?: Record<string, unknown>[];
  user?: string;
  bot_id?: string;
  app_id?: string;
  subtype?: string;
  client_msg_id?: string;
  team?: string;
  edited?: { user: string; ts: string };
  reply_count?: number;
  latest_reply?: string;
  /** Message metadata as posted; returned by history and replies only with include_all_metadata, as Slack does. */
  metadata?: { event_type: string; event_payload: Record<string, unknown> };
}

/** What the sandbox UI hears about: a message posted or updated, or an ephemeral one shown to `visibleTo`. */
export interface MessageNotice extends StoredMessage {
  channel: string;
  change: 'posted' | 'updated' | 'ephemeral';
  visibleTo?: string;
}

export interface Channel {
  id: string;
  name: string;
  isIm: boolean;
  /** The person at the other end of an IM. */
  user?: string;
  members: Set<string>;
  created: number;
}

export interface Identity {
  teamId: string;
  botUserId: string;
  botId: string;
  appId: string;
  botToken: string;
  appToken: string;
}

export interface WorkspaceHooks {
  /** apps.connections.open: a one-time WebSocket URL. */
  openConnection(): string;
  changed(notice: MessageNotice): void;
  ephemeral(notice: MessageNotice): void;
  /** Slack's `message.im` event for a bot message in a DM (posted or edited), which the bot receives too. */
  imEvent(event: Record<string, unknown>): void;
}

export interface ApiReply {
  status: number;
  body: Record<string, unknown>;
  headers: Record<string, string>;
}
