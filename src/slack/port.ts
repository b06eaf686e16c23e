// The Slack Web API as irbot uses it: a handful of calls, nothing else.

/** A Block Kit block; built in blocks.ts, passed through untouched. */
export type Block = Record<string, unknown>;

export interface PostedMessage {
  channel: string;
  ts: string;
}

export interface SlackPort {
  /**
   * chat.postMessage; `channel` may be a user ID, which Slack turns into the DM with the bot. `key` travels in
   * the message's metadata, so that `wasPosted` can tell after a crash whether the post landed.
   */
  post(args: {
    channel: string;
    text: string;
    threadTs?: string;
    blocks?: Block[];
    key?: string;
  }): Promise<PostedMessage>;
  /**
   * Whether a message posted with `key` since `since` (an ISO time) is in the thread (or, for a user ID, in the
   * DM). `beforeCall` is awaited before each Web API call it makes, with the method: the caller paces them.
   */
  wasPosted(args: {
    channel: string;
    threadTs?: string;
    key: string;
    since: string;
    beforeCall?: (method: string) => Promise<unknown>;
  }): Promise<boolean>;
  /**
   * The top-level message posted with `key` in `channel` (conversations.history) no earlier than `since` (ISO time),
   * if it landed: after a crash, the alert message it may have posted, and its ts.
   */
  findPost(args: {
    channel: string;
    key: string;
    since: string;
    beforeCall?: (method: string) => Promise<unknown>;
  }): Promise<PostedMessage | undefined>;
  /** chat.update of a message the bot posted. */
  update(args: { channel: string; ts: string; text: string; blocks: Block[] }): Promise<void>;
  /** chat.postEphemeral: a line only `user` sees. */
  ephemeral(args: { channel: string; user: string; text: string }): Promise<void>;
  /** users.info: display name, else real name, else name, else the user ID itself. */
  userName(userId: string): Promise<string>;
  /**
   * users.info's `tz` (IANA, e.g. "Europe/Paris") and `tz_offset` (seconds east of UTC), null when Slack gives
   * none; cached with the name. Optional: a port without it gives every person UTC.
   */
  userZone?(userId: string): Promise<UserZone>;
  /** users.info's profile email (needs the users:read.email scope); undefined when Slack gives none. */
  userEmail(userId: string): Promise<string | undefined>;
  /** usergroups.users.list: the user IDs in a user group (`S…`). */
  usergroupMembers(usergroupId: string): Promise<string[]>;
  /**
   * Loads what calls need (the SDK loads on first use): called before a call waits for its turn, so that the call
   * goes out the moment its token is taken, not after seconds of loading that bunch it up with later ones.
   */
  ready?(): Promise<void>;
}

/** A person's time zone as Slack's users.info gives it. */
export interface UserZone {
  tz: string | null;
  offset: number | null;
  /** The name userName gives, from the same users.info. */
  name?: string;
}
