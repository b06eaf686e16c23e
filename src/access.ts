// Who may press an alert's buttons: never the person the alert is about, only on the alert's own message, and,
// when `responders` is set, only a listed user or a member of a listed user group.
import { classifySlackError } from './slack/errors.js';
import type { AlertRecord } from './store/port.js';

/** A button press, as decoded from Slack's block_actions payload. */
export interface Press {
  alertId: string;
  userId: string;
  channelId: string | undefined;
  messageTs: string | undefined;
}

export interface Refusal {
  why: 'subject' | 'wrong_message' | 'not_responder' | 'unchecked';
  /** For the log: what was refused and why. */
  detail: string;
  /** The ephemeral line the presser sees. */
  text: string;
}

export const NOT_ALLOWED =
  'Sorry, only the responders listed in irbot’s config.toml can use these buttons. Nothing was changed.';
export const NOT_YOURS =
  'Sorry, this alert is about you, so the security team acts on it, not you. Nothing was changed.';
export const WRONG_MESSAGE = 'Sorry, this button does not belong to the alert it names. Nothing was changed.';

/** How long a user group's members are trusted before `usergroups.users.list` is asked again. */
export const USERGROUP_TTL_MS = 60_000;

/**
 * Refuses a press by the alert's own person (whatever `responders` says: nobody clears their own alert), and one
 * whose button value names an alert other than the message it was pressed on.
 */
export function refusePress(
  record: Pick<AlertRecord, 'userId' | 'channelId' | 'ts'>,
  press: Press,
): Refusal | undefined {
  if (record.ts === null || press.channelId !== record.channelId || press.messageTs !== record.ts) {
    const where = `${press.channelId ?? 'no channel'}/${press.messageTs ?? 'no ts'}`;
    return refusal('wrong_message', `pressed on message ${where}, not on the alert's own message`, WRONG_MESSAGE);
  }
  if (press.userId === record.userId) return refusal('subject', 'the alert is about them', NOT_YOURS);
  return undefined;
}

const refusal = (why: Refusal['why'], detail: string, text: string): Refusal => ({ why, detail, text });

/** `responders` from config.toml: user IDs, and user groups resolved through Slack, their members cached briefly. */
export class Responders {
  private readonly groups = new Map<string, { members: Set<string>; until: number }>();

  constructor(
    private readonly ids: readonly string[],
    private readonly members: (usergroupId: string) => Promise<string[]>,
    private readonly clock: () => Date,
  ) {}

  /** Empty means anyone but the alert's person. */
  get all(): boolean {
    return this.ids.length === 0;
  }

  /** Why `userId` may not press, or undefined when they may; a group that cannot be read refuses (fails closed). */
  async refuse(userId: string): Promise<Refusal | undefined> {
    if (this.all || this.ids.includes(userId)) return undefined;
    for (const id of this.ids) {
      if (!isUsergroup(id)) continue;
      let members: Set<string>;
      try {
        members = await this.groupMembers(id);
      } catch (err) {
        const { code } = classifySlackError(err);
        return refusal(
          'unchecked',
          `usergroups.users.list ${id} failed with ${code}${code === 'missing_scope' ? ' (add the usergroups:read scope and reinstall the app)' : ''}`,
          `Sorry, irbot could not check whether you are a responder (${code}). Nothing was changed.`,
        );
      }
      if (members.has(userId)) return undefined;
    }
    return refusal('not_responder', 'not a responder', NOT_ALLOWED);
  }

  private async groupMembers(id: string): Promise<Set<string>> {
    const now = this.clock().getTime();
    const cached = this.groups.get(id);
    if (cached && cached.until > now) return cached.members;
    const members = new Set(await this.members(id));
    this.groups.set(id, { members, until: now + USERGROUP_TTL_MS });
    return members;
  }
}

export function isUsergroup(id: string): boolean {
  return id.startsWith('S');
}

/** A responder as a mention: `<@U…>` pings a person, `<!subteam^S…>` a user group. */
export function mentionOf(id: string): string {
  return isUsergroup(id) ? `<!subteam^${id}>` : `<@${id}>`;
}
