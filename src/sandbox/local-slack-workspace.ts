// The local Slack's state (people, channels, messages) and the Web API methods that read and change it.

import { randomBytes } from 'node:crypto';
import { MANIFEST_SCOPES } from '../slack/scopes.js';
import { blockProblems } from './local-slack-blocks.js';
import type {
  ApiReply,
  Channel,
  ChannelSpec,
  FakeUser,
  FakeUsergroup,
  Identity,
  MessageNotice,
  StoredMessage,
  WorkspaceHooks,
} from './local-slack-types.js';

type Args = Record<string, unknown>;

export class SlackApiError extends Error {
  constructor(
    readonly code: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(code);
  }
}

export const BOT_SCOPES = MANIFEST_SCOPES.join(',');
/** Slack refuses a message's text past 40,000 characters (or truncates it): here it is always refused. */
const MAX_TEXT = 40_000;
const TEAM_NAME = 'Local Sandbox';
const TEAM_DOMAIN = 'local-sandbox';

export class Workspace {
  readonly users = new Map<string, FakeUser>();
  readonly channels = new Map<string, Channel>();
  readonly usergroups = new Map<string, FakeUsergroup>();
  readonly ephemerals: MessageNotice[] = [];
  private readonly messages = new Map<string, StoredMessage[]>();
  /** The same messages by channel and ts: a campaign's feed channel holds thousands, looked up at every update. */
  private readonly byTs = new Map<string, Map<string, StoredMessage>>();
  private lastMicros = 0;
  private readonly methods: Record<string, { token: 'bot' | 'app'; run: (args: Args) => Args }> = {
    'auth.test': { token: 'bot', run: () => this.authTest() },
    'apps.connections.open': { token: 'app', run: () => ({ url: this.hooks.openConnection() }) },
    'chat.postMessage': { token: 'bot', run: (args) => this.postMessage(args) },
    'chat.update': { token: 'bot', run: (args) => this.update(args) },
    'chat.postEphemeral': { token: 'bot', run: (args) => this.postEphemeral(args) },
    'users.info': { token: 'bot', run: (args) => ({ user: this.userJson(this.userFor(args.user)) }) },
    'conversations.open': { token: 'bot', run: (args) => this.open(args) },
    'conversations.info': {
      token: 'bot',
      run: (args) => ({ channel: this.channelJson(this.channelFor(args.channel)) }),
    },
    'conversations.history': { token: 'bot', run: (args) => this.history(args) },
    'usergroups.users.list': { token: 'bot', run: (args) => ({ users: [...this.usergroupFor(args.usergroup).users] }) },
    'conversations.replies': { token: 'bot', run: (args) => this.replies(args) },
  };

  constructor(
    readonly identity: Identity,
    users: FakeUser[],
    channels: ChannelSpec[],
    private readonly hooks: WorkspaceHooks,
    private readonly now: () => number,
    /** Sent as `x-oauth-scopes` with every bot-token call, as Slack does; comma-separated. */
    private readonly scopes: string = BOT_SCOPES,
  ) {
    for (const user of users) this.users.set(user.id, user);
    if (!this.users.has(identity.botUserId)) {
      this.users.set(identity.botUserId, {
        id: identity.botUserId,
        name: 'irbot',
        displayName: 'irbot',
        realName: 'irbot',
        isBot: true,
      });
    }
    const people = users.filter((u) => u.isBot !== true).map((u) => u.id);
    for (const spec of channels) {
      const members = new Set(spec.members ?? [identity.botUserId, ...people]);
      this.channels.set(spec.id, { id: spec.id, name: spec.name, isIm: false, members, created: this.seconds() });
    }
  }

  /** Runs one Web API method as Slack would: token check, then the method; never throws a SlackApiError. */
  call(method: string, args: Args, token: string | undefined): ApiReply {
    const entry = Object.hasOwn(this.methods, method) ? this.methods[method] : undefined;
    if (entry === undefined) return failure('unknown_method');
    const authError = this.tokenError(entry.token, token);
    if (authError !== undefined) return failure(authError);
    const headers: Record<string, string> = entry.token === 'bot' ? { 'x-oauth-scopes': this.scopes } : {};
    try {
      return { status: 200, body: { ok: true, ...entry.run(args) }, headers };
    } catch (err) {
      if (!(err instanceof SlackApiError)) throw err;
      return { status: 200, body: { ok: false, error: err.code, ...err.extra }, headers };
    }
  }

  /** Slack timestamps: seconds.microseconds, unique and strictly increasing within a workspace. */
  nextTs(): string {
    const micros = Math.max(Math.floor(this.now() * 1000), this.lastMicros + 1);
    this.lastMicros = micros;
    return `${Math.floor(micros / 1e6)}.${String(micros % 1e6).padStart(6, '0')}`;
  }

  seconds(): number {
    return Math.floor(this.now() / 1000);
  }

  /** The IM between the bot and a person, created on first use; undefined for unknown users and the bot itself. */
  openIm(userId: string): Channel | undefined {
    if (!this.users.has(userId) || userId === this.identity.botUserId) return undefined;
    const id = `D${userId.slice(1)}`;
    let im = this.channels.get(id);
    if (im === undefined) {
      const members = new Set([this.identity.botUserId, userId]);
      im = { id, name: id, isIm: true, user: userId, members, created: this.seconds() };
      this.channels.set(id, im);
    }
    return im;
  }

  messagesIn(channelId: string): StoredMessage[] {
    return this.messages.get(channelId) ?? [];
  }

  find(channelId: string, ts: string): StoredMessage | undefined {
    return this.byTs.get(channelId)?.get(ts);
  }

  /** Stores a message someone (person or bot) wrote, threading it under its parent. */
  store(channel: Channel, message: StoredMessage): StoredMessage {
    const list = this.messages.get(channel.id) ?? [];
    this.messages.set(channel.id, list);
    list.push(message);
    const byTs = this.byTs.get(channel.id) ?? new Map<string, StoredMessage>();
    this.byTs.set(channel.id, byTs);
    // Timestamps are unique within a workspace (nextTs); the first message of a ts stays the one found, as before.
    if (!byTs.has(message.ts)) byTs.set(message.ts, message);
    if (message.thread_ts !== undefined && message.thread_ts !== message.ts) {
      const parent = byTs.get(message.thread_ts);
      if (parent !== undefined) {
        parent.thread_ts = parent.ts;
        parent.reply_count = (parent.reply_count ?? 0) + 1;
        parent.latest_reply = message.ts;
      }
    }
    this.hooks.changed({ ...structuredClone(message), channel: channel.id, change: 'posted' });
    return message;
  }

  /**
   * The channel `ref` names. Only posting methods (`loose`: chat.postMessage, chat.postEphemeral) take a user ID
   * for the DM with that user, or a channel's name, as Slack does; the others want the conversation's ID
   * (chat.update's docs: "ensure that this value is a DM ID (starts with D) instead of a User ID").
   */
  channelFor(ref: unknown, loose = false): Channel {
    const raw = typeof ref === 'string' ? ref : '';
    const id = loose ? raw.replace(/^#/, '') : raw;
    const found =
      this.channels.get(id) ??
      (loose && /^[UW]/.test(id) ? this.openIm(id) : undefined) ??
      (loose ? [...this.channels.values()].find((c) => !c.isIm && c.name === id) : undefined);
    if (found === undefined) throw new SlackApiError('channel_not_found');
    return found;
  }

  userFor(ref: unknown): FakeUser {
    const user = typeof ref === 'string' ? this.users.get(ref) : undefined;
    if (user === undefined) throw new SlackApiError('user_not_found');
    return user;
  }

  usergroupFor(ref: unknown): FakeUsergroup {
    const group = typeof ref === 'string' ? this.usergroups.get(ref) : undefined;
    if (group === undefined) throw new SlackApiError('no_such_subteam');
    return group;
  }

  private tokenError(kind: 'bot' | 'app', token: string | undefined): string | undefined {
    if (token === undefined || token === '') return 'not_authed';
    const [expected, other] =
      kind === 'bot'
        ? [this.identity.botToken, this.identity.appToken]
        : [this.identity.appToken, this.identity.botToken];
    if (token === expected) return undefined;
    return token === other ? 'not_allowed_token_type' : 'invalid_auth';
  }

  private authTest(): Args {
    const { teamId, botUserId, botId } = this.identity;
    return {
      url: `https://${TEAM_DOMAIN}.slack.com/`,
      team: TEAM_NAME,
      user: this.users.get(botUserId)?.name ?? 'irbot',
      team_id: teamId,
      user_id: botUserId,
      bot_id: botId,
      is_enterprise_install: false,
    };
  }

  private postMessage(args: Args): Args {
    const channel = this.channelFor(args.channel, true);
    this.requireBot(channel);
    const { text, blocks } = this.content(args);
    const threadTs = this.threadRoot(channel, args.thread_ts);
    const message = this.store(channel, {
      type: 'message',
      ts: this.nextTs(),
      text,
      ...(blocks !== undefined && { blocks }),
      ...(threadTs !== undefined && { thread_ts: threadTs }),
      ...metadataOf(args.metadata),
      ...this.botAuthor(),
    });
    if (channel.isIm) this.hooks.imEvent(this.imEventOf(channel, message));
    return { channel: channel.id, ts: message.ts, message: structuredClone(message) };
  }

  private update(args: Args): Args {
    const channel = this.channelFor(args.channel);
    const message = typeof args.ts === 'string' ? this.find(channel.id, args.ts) : undefined;
    if (message === undefined) throw new SlackApiError('message_not_found');
    if (message.bot_id !== this.identity.botId) throw new SlackApiError('cant_update_message');
    if (args.text === undefined && args.blocks === undefined) throw new SlackApiError('no_text');
    if (args.text !== undefined && String(args.text).length > MAX_TEXT) throw new SlackApiError('msg_too_long');
    const blocks = this.blocksArg(args.blocks);
    const previous = structuredClone(message);
    if (args.text !== undefined) message.text = String(args.text);
    // As chat.update's docs say: blocks left out with a new text are removed (as an empty array removes them);
    // left out without one, they stay.
    if (blocks !== undefined && blocks.length > 0) message.blocks = blocks;
    else if (blocks !== undefined || args.text !== undefined) delete message.blocks;
    message.edited = { user: this.identity.botUserId, ts: this.nextTs() };
    this.hooks.changed({ ...structuredClone(message), channel: channel.id, change: 'updated' });
    if (channel.isIm) {
      const ts = this.nextTs();
      this.hooks.imEvent({
        type: 'message',
        subtype: 'message_changed',
        hidden: true,
        channel: channel.id,
        channel_type: 'im',
        message: structuredClone(message),
        previous_message: previous,
        ts,
        event_ts: ts,
      });
    }
    return { channel: channel.id, ts: message.ts, text: message.text, message: structuredClone(message) };
  }

  private postEphemeral(args: Args): Args {
    const channel = this.channelFor(args.channel, true);
    const user = this.userFor(args.user);
    this.requireBot(channel);
    if (!channel.members.has(user.id)) throw new SlackApiError('user_not_in_channel');
    const { text, blocks } = this.content(args);
    const threadTs = this.threadRoot(channel, args.thread_ts);
    const notice: MessageNotice = {
      type: 'message',
      ts: this.nextTs(),
      text,
      ...(blocks !== undefined && { blocks }),
      ...(threadTs !== undefined && { thread_ts: threadTs }),
      ...this.botAuthor(),
      channel: channel.id,
      change: 'ephemeral',
      visibleTo: user.id,
    };
    this.ephemerals.push(notice);
    this.hooks.ephemeral(structuredClone(notice));
    return { message_ts: notice.ts };
  }

  private open(args: Args): Args {
    if (args.channel !== undefined) return { channel: { id: this.channelFor(args.channel).id } };
    const ids = String(args.users ?? '')
      .split(',')
      .map((id) => id.trim())
      .filter((id) => id !== '' && id !== this.identity.botUserId);
    const [userId] = ids;
    if (userId === undefined) throw new SlackApiError('users_list_not_supplied');
    if (ids.length > 1) throw new SlackApiError('not_implemented', { detail: 'the local Slack has no group DMs' });
    const existed = this.channels.has(`D${userId.slice(1)}`);
    const im = this.openIm(userId);
    if (im === undefined) throw new SlackApiError('user_not_found');
    const channel = args.return_im === true || args.return_im === 'true' ? this.channelJson(im) : { id: im.id };
    return { no_op: existed, already_open: existed, channel };
  }

  private history(args: Args): Args {
    const channel = this.channelFor(args.channel);
    this.requireBot(channel);
    const oldest = Number(args.oldest ?? 0);
    const latest = args.latest === undefined ? Number.POSITIVE_INFINITY : Number(args.latest);
    const inclusive = args.inclusive === true || args.inclusive === 'true';
    const inRange = (ts: number) => (inclusive ? ts >= oldest && ts <= latest : ts > oldest && ts < latest);
    const topLevel = this.messagesIn(channel.id)
      .filter((m) => m.thread_ts === undefined || m.thread_ts === m.ts)
      .filter((m) => inRange(Number(m.ts)))
      .reverse();
    return page(topLevel, args);
  }

  private replies(args: Args): Args {
    const channel = this.channelFor(args.channel);
    this.requireBot(channel);
    const message = typeof args.ts === 'string' ? this.find(channel.id, args.ts) : undefined;
    if (message === undefined) throw new SlackApiError('thread_not_found');
    const root = message.thread_ts ?? message.ts;
    // oldest and latest narrow the replies; the parent comes first whatever they say.
    const oldest = Number(args.oldest ?? 0);
    const latest = args.latest === undefined ? Number.POSITIVE_INFINITY : Number(args.latest);
    const inRange = (ts: number) => ts >= oldest && ts <= latest;
    const thread = this.messagesIn(channel.id).filter(
      (m) => m.ts === root || (m.thread_ts === root && inRange(Number(m.ts))),
    );
    return page(thread, args);
  }

  private requireBot(channel: Channel): void {
    if (!channel.members.has(this.identity.botUserId)) throw new SlackApiError('not_in_channel');
  }

  private content(args: Args): { text: string; blocks: Record<string, unknown>[] | undefined } {
    const text = args.text === undefined ? '' : String(args.text);
    if (text.length > MAX_TEXT) throw new SlackApiError('msg_too_long');
    const blocks = this.blocksArg(args.blocks);
    if (text === '' && (blocks === undefined || blocks.length === 0) && args.attachments === undefined) {
      throw new SlackApiError('no_text');
    }
    return { text, blocks };
  }

  private blocksArg(value: unknown): Record<string, unknown>[] | undefined {
    if (value === undefined) return undefined;
    const problems = blockProblems(value);
    if (problems.length > 0) throw new SlackApiError('invalid_blocks', { response_metadata: { messages: problems } });
    // Slack gives every block without a block_id a random one, and block_actions payloads carry it.
    return (value as Record<string, unknown>[]).map((block) => ({
      ...structuredClone(block),
      block_id: typeof block.block_id === 'string' ? block.block_id : randomBytes(3).toString('base64url'),
    }));
  }

  /** A reply to a reply joins the parent's thread, as in Slack. */
  private threadRoot(channel: Channel, threadTs: unknown): string | undefined {
    if (threadTs === undefined || threadTs === '') return undefined;
    const parent = this.find(channel.id, String(threadTs));
    if (parent === undefined) throw new SlackApiError('thread_not_found');
    return parent.thread_ts ?? parent.ts;
  }

  private botAuthor(): Pick<StoredMessage, 'user' | 'bot_id' | 'app_id' | 'team'> {
    const { botUserId, botId, appId, teamId } = this.identity;
    return { user: botUserId, bot_id: botId, app_id: appId, team: teamId };
  }

  private imEventOf(channel: Channel, message: StoredMessage): Record<string, unknown> {
    return {
      ...structuredClone(message),
      bot_profile: {
        id: this.identity.botId,
        app_id: this.identity.appId,
        name: 'irbot',
        team_id: this.identity.teamId,
      },
      channel: channel.id,
      channel_type: 'im',
      event_ts: message.ts,
    };
  }

  userJson(user: FakeUser): Args {
    return {
      id: user.id,
      team_id: this.identity.teamId,
      name: user.name,
      deleted: false,
      real_name: user.realName,
      ...(user.tz ? zoneJson(user.tz, this.now()) : {}),
      is_bot: user.isBot === true,
      is_app_user: false,
      profile: {
        display_name: user.displayName,
        display_name_normalized: user.displayName,
        real_name: user.realName,
        real_name_normalized: user.realName,
        // Only with users:read.email, as Slack gives it.
        ...(user.email && this.scopes.split(',').includes('users:read.email') ? { email: user.email } : {}),
        team: this.identity.teamId,
      },
    };
  }

  channelJson(channel: Channel): Args {
    if (channel.isIm) {
      return { id: channel.id, created: channel.created, is_im: true, user: channel.user, is_user_deleted: false };
    }
    return {
      id: channel.id,
      name: channel.name,
      created: channel.created,
      is_channel: !channel.id.startsWith('G'),
      is_group: false,
      is_im: false,
      is_private: channel.id.startsWith('G'),
      is_archived: false,
      is_member: channel.members.has(this.identity.botUserId),
      num_members: channel.members.size,
    };
  }
}

function failure(error: string): ApiReply {
  return { status: 200, body: { ok: false, error }, headers: {} };
}

/** Slack keeps metadata that has an event_type and an object payload. */
function metadataOf(value: unknown): { metadata?: StoredMessage['metadata'] } {
  if (typeof value !== 'object' || value === null) return {};
  const { event_type: type, event_payload: payload } = value as Record<string, unknown>;
  if (typeof type !== 'string' || typeof payload !== 'object' || payload === null) return {};
  return { metadata: { event_type: type, event_payload: payload as Record<string, unknown> } };
}

/** Cursor pagination as Slack does it; the cursor is an opaque offset here. */
function page(messages: StoredMessage[], args: Args): Args {
  const limit = Math.min(Math.max(Number(args.limit ?? 100) || 100, 1), 1000);
  const offset = typeof args.cursor === 'string' && args.cursor !== '' ? Number.parseInt(args.cursor, 10) || 0 : 0;
  const withMetadata = args.include_all_metadata === true || args.include_all_metadata === 'true';
  const slice = messages
    .slice(offset, offset + limit)
    .map(({ metadata, ...message }) => (withMetadata && metadata ? { ...message, metadata } : message));
  const hasMore = offset + limit < messages.length;
  return {
    messages: structuredClone(slice),
    has_more: hasMore,
    response_metadata: { next_cursor: hasMore ? String(offset + limit) : '' },
  };
}

/** users.info's `tz`, `tz_label` and `tz_offset` (seconds east of UTC, at `ms`) for an IANA zone. */
function zoneJson(tz: string, ms: number): Args {
  const name = (style: 'long' | 'longOffset') =>
    new Intl.DateTimeFormat('en-US', { timeZone: tz, timeZoneName: style })
      .formatToParts(new Date(ms))
      .find((part) => part.type === 'timeZoneName')?.value ?? '';
  const offset = /GMT([+-])(\d{2}):?(\d{2})?/.exec(name('longOffset'));
  const seconds = offset ? (offset[1] === '-' ? -1 : 1) * (Number(offset[2]) * 3600 + Number(offset[3] ?? 0) * 60) : 0;
  return { tz, tz_label: name('long'), tz_offset: seconds };
}
