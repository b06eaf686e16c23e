// Socket Mode envelopes → the few things irbot acts on. Pure: anything unexpected becomes `ignored` with a reason.
import { ACTION_IDS } from './blocks.js';
import { fromSlackText } from './mrkdwn.js';

/**
 * How long an inbound may take to be recorded before it is answered: Slack waits 3 s. An event not recorded by
 * then is left for Slack to re-deliver (a duplicate by its event id if it is recorded meanwhile); a button press,
 * which Slack never re-delivers, is answered anyway and applied when it is, rather than show the clicker an error.
 */
export const ACK_WITHIN_MS = 2_500;

export type ButtonAction = 'start' | 'start_now' | 'dismiss' | 'end' | 'snooze';

export type Inbound =
  | {
      kind: 'button';
      action: ButtonAction;
      /** The alert id carried in the button's value. */
      alertId: string;
      userId: string;
      /** Where it was pressed: the channel and ts of the message that holds the button. */
      channelId: string | undefined;
      messageTs: string | undefined;
      /** Stable across re-deliveries of the same click. */
      dedupeKey: string;
    }
  | { kind: 'dm'; eventId: string; userId: string; channelId: string; text: string; ts: string }
  | { kind: 'ignored'; reason: string };

const ACTIONS: Record<string, ButtonAction> = {
  [ACTION_IDS.start]: 'start',
  [ACTION_IDS.dismiss]: 'dismiss',
  [ACTION_IDS.end]: 'end',
  [ACTION_IDS.snooze]: 'snooze',
  [ACTION_IDS.startNow]: 'start_now',
};

/** Longest person message irbot relays; Slack itself caps messages at 40,000 characters. */
export const MAX_TEXT = 40_000;

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const str = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);
/** A value for a log line: strings as they are (cut short), anything else by its type; never throws. */
const shown = (value: unknown): string => (typeof value === 'string' ? value.slice(0, 80) : typeof value);

/** Cuts at `max` UTF-16 units without splitting a surrogate pair. */
function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const code = text.charCodeAt(max - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}

export function decodeEnvelope(type: unknown, payload: unknown): Inbound {
  if (!isObject(payload)) return { kind: 'ignored', reason: 'envelope without a payload' };
  if (type === 'interactive') return decodeInteraction(payload);
  if (type === 'events_api') return decodeEvent(payload);
  return { kind: 'ignored', reason: `envelope type ${shown(type)}` };
}

function decodeInteraction(payload: Json): Inbound {
  if (payload.type !== 'block_actions') return { kind: 'ignored', reason: `interaction ${shown(payload.type)}` };
  const action = Array.isArray(payload.actions) ? payload.actions[0] : undefined;
  if (!isObject(action)) return { kind: 'ignored', reason: 'block_actions without an action' };
  const actionId = str(action.action_id);
  const which = actionId && Object.hasOwn(ACTIONS, actionId) ? ACTIONS[actionId] : undefined;
  if (!which) return { kind: 'ignored', reason: `unknown action ${shown(actionId)}` };
  const userId = isObject(payload.user) ? str(payload.user.id) : undefined;
  const alertId = str(action.value);
  if (!userId || !alertId) return { kind: 'ignored', reason: `${actionId} without a user or an alert id` };
  // Where the button was pressed: src/app/inbound.ts acts only when that is the named alert's own message. Slack says it twice
  // (the container, and the channel and message); when the two disagree, the place is unknown.
  const container = isObject(payload.container) ? payload.container : {};
  const channelId = agreed(str(container.channel_id), isObject(payload.channel) ? str(payload.channel.id) : undefined);
  const messageTs = agreed(str(container.message_ts), isObject(payload.message) ? str(payload.message.ts) : undefined);
  const actionTs = str(action.action_ts) ?? str(payload.trigger_id) ?? '';
  return {
    kind: 'button',
    action: which,
    alertId,
    userId,
    channelId,
    messageTs,
    dedupeKey: `action:${actionId}:${userId}:${alertId}:${actionTs}`,
  };
}

/** One of two accounts of the same fact: either if only one is given, none if they differ. */
function agreed(a: string | undefined, b: string | undefined): string | undefined {
  return a !== undefined && b !== undefined && a !== b ? undefined : (a ?? b);
}

/** Message subtypes that are the person speaking. */
const PERSON_SUBTYPES = new Set(['file_share', 'thread_broadcast', 'me_message']);

function decodeEvent(payload: Json): Inbound {
  const event = payload.event;
  const eventId = str(payload.event_id);
  if (!isObject(event) || !eventId) return { kind: 'ignored', reason: 'events_api without an event or event_id' };
  if (event.type !== 'message') return { kind: 'ignored', reason: `event ${shown(event.type)}` };
  // Bots (irbot itself included), edits, joins and every other subtype are not the person speaking. A message with a
  // file (a screenshot) is, and its words count like any other's; so is a thread reply sent to the DM too ("Also send
  // as direct message": Slack sends it once, as thread_broadcast), and a /me line.
  if (
    event.bot_id !== undefined ||
    (event.subtype !== undefined && !(typeof event.subtype === 'string' && PERSON_SUBTYPES.has(event.subtype)))
  ) {
    return { kind: 'ignored', reason: `message ${shown(event.subtype ?? 'from a bot')}` };
  }
  if (event.channel_type !== 'im') return { kind: 'ignored', reason: 'message outside a DM' };
  const userId = str(event.user);
  const channelId = str(event.channel);
  const ts = str(event.ts);
  if (!userId || !channelId || !ts || typeof event.text !== 'string') {
    return { kind: 'ignored', reason: 'DM without user, channel, ts or text' };
  }
  const text = truncate(withAttachments(fromSlackText(event.text), event.files), MAX_TEXT);
  if (text.trim() === '') return { kind: 'ignored', reason: 'empty DM' };
  return { kind: 'dm', eventId, userId, channelId, text, ts };
}

/**
 * The person's words, then the names of the files they sent with them (`[attached: screenshot.png]`): the thread
 * and the LLM learn that a file came, never its contents or its private URL, which the analyst opens in Slack.
 */
function withAttachments(text: string, files: unknown): string {
  if (!Array.isArray(files) || files.length === 0) return text;
  const names = files.map((file) => (isObject(file) ? (str(file.name) ?? str(file.title)) : undefined) ?? 'a file');
  const line = `[attached: ${names.map((name) => name.replace(/\s+/g, ' ').slice(0, 200)).join(', ')}]`;
  return text.trim() === '' ? line : `${text}\n${line}`;
}

/** An inbound for a log line: `dm <event id>`, `button <action> on <alert id>`, or `ignored`. */
export function describeInbound(inbound: Inbound): string {
  if (inbound.kind === 'dm') return `dm ${inbound.eventId}`;
  if (inbound.kind === 'button') return `button ${inbound.action} on ${inbound.alertId}`;
  return 'ignored';
}
