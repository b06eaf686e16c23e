// Posts a batch of alerts in order, each once (dedupe keys), and starts the chats of those marked auto_chat.
import { type App, type Applied, AUTO_CHAT_ACTOR } from '../app.js';
import type { AlertInput } from '../config/alerts.js';
import { quote } from '../config/errors.js';
import type { AlertRecord, Snooze } from '../store/port.js';

/** What posting needs of the app; tests hand in the real App over in-memory ports. */
export type AlertSink = Pick<App, 'postAlert' | 'request'>;

export interface Posted {
  alert: AlertRecord;
  /** An alert with the same dedupe key was already posted (or is being posted here): nothing posted, no chat started. */
  duplicate: boolean;
  /** The chat being started, for an auto_chat alert posted now; the per-person queue still applies. */
  chat?: Promise<Applied>;
  /** The active snooze that matched it: recorded as suppressed, not posted, no chat. */
  suppressed?: Snooze;
}

/** Posting alert `index` (0-based) failed; `posted` holds the alerts before it, which stay posted. */
export class BatchError extends Error {
  override readonly name = 'BatchError';

  constructor(
    readonly index: number,
    readonly total: number,
    readonly input: AlertInput,
    readonly posted: Posted[],
    override readonly cause: unknown,
  ) {
    const which = total > 1 ? `alert #${index + 1} of ${total} (id ${quote(input.id)})` : `alert ${quote(input.id)}`;
    const before = posted.length > 0 ? ` after ${posted.length} posted` : '';
    super(`posting ${which} failed${before}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/**
 * Posts `alerts` one after the other (Slack keeps a channel's messages in the order they arrive) and starts each
 * auto_chat chat as soon as its alert is posted, without waiting for it. `onPosting` reports progress (1-based).
 */
export async function postAlerts(
  app: AlertSink,
  alerts: ReadonlyArray<AlertInput>,
  onPosting: (number: number, total: number) => void = () => undefined,
): Promise<Posted[]> {
  const posted: Posted[] = [];
  for (const [index, input] of alerts.entries()) {
    onPosting(index + 1, alerts.length);
    const { dedupeKey, ...template } = input;
    let result: Awaited<ReturnType<AlertSink['postAlert']>>;
    try {
      result = await app.postAlert(template, {
        ...(dedupeKey ? { dedupeKey } : {}),
        ...(input.autoChat ? { autoChat: true } : {}),
      });
    } catch (err) {
      throw new BatchError(index, alerts.length, input, posted, err);
    }
    const entry: Posted = {
      alert: result.alert,
      duplicate: result.duplicate,
      ...(result.suppressed ? { suppressed: result.suppressed } : {}),
    };
    if (input.autoChat && !result.duplicate && !result.suppressed) {
      entry.chat = app.request(result.alert.id, 'start', AUTO_CHAT_ACTOR);
      // Awaited by the caller; this keeps a failure from being unhandled while later alerts are posted.
      entry.chat.catch(() => undefined);
    }
    posted.push(entry);
  }
  return posted;
}

/** One line about a chat that auto_chat started. */
export function describeStart(alertId: string, applied: Applied): string {
  if (applied.kind !== 'applied') return `alert ${alertId}: auto_chat found no alert to start`;
  if (applied.after === 'queued') return `alert ${alertId}: auto_chat queued (the person is in another chat)`;
  if (applied.after === 'active') return `alert ${alertId}: auto_chat started the chat`;
  return `alert ${alertId}: auto_chat, chat is ${applied.after}`;
}
