// What a failed effect comes to: a retry later (with backoff, or when Slack's Retry-After says), the effect given
// up, or the chat failed; and whether the post may have landed anyway.
import { isClosed } from '../chat/engine.js';
import type { Effect } from '../chat/types.js';
import { type Completion, MAX_ATTEMPTS, retryBackoffMs, slackCallOf } from '../outbox.js';
import {
  CheckFailed,
  classifySlackError,
  describeSlackFailure,
  forPerson,
  isRateLimited,
  isWorkspaceWide,
} from '../slack/errors.js';
import type { AlertRecord, OutboxItem } from '../store/port.js';
import type { AppContext } from './context.js';

/** What an attempt came to; `committed`: said once its completion is recorded, when only then it is true. */
export interface Attempt {
  completion: Completion;
  committed?: () => void;
}

/**
 * Turns an error into what happens next: a retry later, the effect given up, or the chat failed. `checkSince`:
 * the post may have landed since then, so its retry asks Slack first.
 */
export function failed(
  ctx: AppContext,
  record: AlertRecord,
  item: OutboxItem,
  err: unknown,
  checkSince?: string,
): Attempt {
  const { log, clock } = ctx.ports;
  // A DM goes to the person's user ID: there, channel_not_found means no such person, not a wrong feed channel.
  const toPerson = item.effect.type === 'SendDm';
  const failure = toPerson ? forPerson(classifySlackError(err), record.userId) : classifySlackError(err);
  const doing = err instanceof CheckFailed ? `checking whether its ${item.effect.type} landed` : item.effect.type;
  const what = `alert ${record.id}: ${doing} failed with ${describeSlackFailure(failure)}`;
  const fields = { alert: record.id, effect: item.effect.type, code: failure.code, level: 'warn' as const };
  const unsure = checkSince !== undefined ? { checkSince } : {};
  if (failure.retryAfterMs !== undefined) {
    // Slack said "not yet", not "no": wait what it asks, hold that bucket back too, and keep the attempts.
    const call = err instanceof CheckFailed ? { method: err.method } : slackCallOf(item.effect, record);
    if (call) ctx.pacer.backOff(call.method, call.channel, failure.retryAfterMs);
    log(`${what}; Slack asks to wait ${failure.retryAfterMs} ms`, { ...fields, event: 'rate_limited' });
    const retryAt = new Date(clock().getTime() + failure.retryAfterMs).toISOString();
    return { completion: { retryAt, attempts: item.attempts ?? 0, ...unsure } };
  }
  const attempts = (item.attempts ?? 0) + 1;
  const delay = failure.kind === 'retry' ? retryBackoffMs(attempts) : undefined;
  if (delay !== undefined) {
    log(`${what}; retrying in ${Math.round(delay / 1000)} s (attempt ${attempts} of ${MAX_ATTEMPTS})`, {
      ...fields,
      event: 'effect_retry',
    });
    return { completion: { retryAt: new Date(clock().getTime() + delay).toISOString(), attempts, ...unsure } };
  }
  // A chat that has ended cannot fail: its closing posts go on without this one.
  if (failure.kind === 'fatal' && !isClosed(record.chat)) {
    const reason = `${failedCall(item.effect, record.userId)} failed with ${describeSlackFailure(failure)}`;
    const feedReachable = toPerson && !isWorkspaceWide(failure);
    return {
      completion: { events: [{ type: 'Failed', reason, at: ctx.now(), feedReachable }] },
      // Said once the transaction that marks it has committed: `irbot status` then shows what the log says.
      committed: () =>
        log(`${what}; the chat is marked failed, other chats go on`, {
          ...fields,
          event: 'chat_failed',
          level: 'error',
        }),
    };
  }
  log(`${what}; gave up on this ${item.effect.type}`, {
    ...fields,
    event: 'effect_dropped',
    level: 'error',
  });
  return { completion: {} };
}

/** The Slack call an effect made, in words, for a failed chat's reason. */
function failedCall(effect: Effect, userId: string): string {
  if (effect.type === 'SendDm') return `the DM to ${userId}`;
  if (effect.type === 'PostInThread') return 'a post in the alert’s thread';
  if (effect.type === 'UpdateAlert') return 'the update of the alert message';
  return effect.type;
}

/** Whether a post that failed may still have reached Slack: anything but a 429 or an answer that refused it. */
export function postMayHaveLanded(item: OutboxItem, err: unknown): boolean {
  if (item.effect.type !== 'SendDm' && item.effect.type !== 'PostInThread') return false;
  return classifySlackError(err).kind === 'retry' && !isRateLimited(err);
}
