// What a move of a chat sets off inside the transaction that makes it: sink events, the escalation, the snooze of
// `confirm_backoff_hours`; and, once the transaction is done, the log lines and the delivery drain's kick.
import { isClosed, needsReview, stepUpFailed } from '../chat/engine.js';
import type { Chat, ChatState, Effect } from '../chat/types.js';
import type { EscalationOutcome } from '../config/types.js';
import { enqueueSinkEvent, eventsOfMove } from '../deliver/events.js';
import type { DeliveryEvent } from '../deliver/port.js';
import { type EscalationPolicy, escalateIfClosed } from '../escalation/escalate.js';
import { type Completion, enqueue } from '../outbox.js';
import { addSnooze, HOUR_MS } from '../snoozes.js';
import type { AlertRecord, SnoozeActor, StoreData } from '../store/port.js';
import type { AppContext } from './context.js';
import { snoozedText } from './thread-text.js';

/** Who made a snooze of `confirm_backoff_hours`. */
export const IRBOT_SNOOZER: SnoozeActor = { id: 'irbot', via: 'irbot' };

/** How many recently closed chats a process remembers, for the pacer's priority. */
const MAX_CLOSED_REMEMBERED = 10_000;

/** An alert escalated in a transaction, for its log line once the transaction is done. */
export interface Escalated {
  id: string;
  outcome: EscalationOutcome;
  reason: string;
}

export class Moves {
  /** Chats this process saw close lately: their posts waiting for Slack's budget go first (see the pacer). */
  private readonly closed = new Set<string>();
  /** A transaction of this process queued deliveries: the drain is kicked once it has committed. */
  private deliveriesQueued = false;

  constructor(private readonly ctx: AppContext) {}

  private get escalation(): EscalationPolicy {
    const { options } = this.ctx;
    return { on: options.escalateOn ?? [], mention: this.ctx.mention || null, pagerduty: options.pagerduty === true };
  }

  /**
   * In the transaction of a step: escalates the alert if its chat just closed in a way `[escalation] on` names
   * (see src/escalation/escalate.ts). `said` collects a line to log once the transaction is done.
   */
  escalate(record: AlertRecord, before: Chat, said: Escalated[], opts: { threadReachable?: boolean } = {}): boolean {
    const escalation = escalateIfClosed(record, before, this.escalation, this.ctx.now(), opts);
    if (!escalation) return false;
    said.push({ id: record.id, outcome: escalation.outcome, reason: escalation.reason });
    if (escalation.pagerduty) this.deliveriesQueued = true;
    // A sink hears `escalated` after `ended`, which waits for the summary when one is being written.
    if (!record.outbox.some((item) => item.effect.type === 'Summarise')) this.queueEvent(record, 'escalated');
    return true;
  }

  logEscalated(said: Escalated[]): void {
    for (const { id, outcome, reason } of said) {
      const where = this.ctx.options.pagerduty ? 'the thread and PagerDuty' : 'the thread';
      this.ctx.ports.log(`alert ${id}: escalated (${outcome}: ${reason}) to ${where}`, {
        event: 'escalated',
        alert: id,
        level: 'warn',
      });
    }
  }

  /** Queues a sink event about the alert, in the caller's transaction; the drain is kicked once it has committed. */
  queueEvent(record: AlertRecord, event: DeliveryEvent, summary?: string | null): void {
    if (enqueueSinkEvent(record, event, this.ctx.options.sinks ?? [], this.ctx.now(), summary) > 0)
      this.deliveriesQueued = true;
  }

  /** The sink events of a move of the chat (started, dismissed, ended: see eventsOfMove). */
  moved(record: AlertRecord, before: ChatState, effects: Effect[], data: StoreData): void {
    for (const event of eventsOfMove(before, record.chat, effects)) this.queueEvent(record, event);
    this.backOffConfirmed(data, record, before);
  }

  /**
   * `confirm_backoff_hours`: once the person confirmed "it was me" (verified by the step-up when it applies), the
   * same template for the same person is snoozed, by irbot, with the alert id as the reason; the thread says so.
   */
  private backOffConfirmed(data: StoreData, record: AlertRecord, before: ChatState): void {
    const hours = this.ctx.options.confirmBackoffHours ?? 0;
    const { chat } = record;
    if (hours <= 0 || before === 'ended' || chat.state !== 'ended') return;
    if (chat.outcome !== 'answered' || chat.aware !== true || needsReview(chat)) return;
    if (this.ctx.stepUpApplies(record) ? chat.verified !== 'approved' : stepUpFailed(chat)) return;
    const snooze = addSnooze(
      data,
      {
        template: record.template,
        user: record.userId,
        forMs: hours * HOUR_MS,
        reason: record.id,
        by: IRBOT_SNOOZER,
        alertId: record.id,
      },
      this.ctx.ports.clock(),
      this.ctx.ports.newId,
    );
    // After the summary, which the person lane writes first (thread posts wait for it).
    enqueue(record, [{ type: 'PostInThread', kind: 'snoozed', text: snoozedText(snooze, record) }]);
  }

  /** A closed chat's summary is written: its `ended` event goes out now, carrying it (null if it was given up). */
  summaryWritten(data: StoreData, alertId: string, completion: Completion): void {
    const record = data.alerts[alertId];
    if (!record) return;
    const post = completion.next?.find((effect) => effect.type === 'PostInThread' && effect.kind === 'summary');
    const summary = post?.type === 'PostInThread' ? post.text : null;
    this.queueEvent(record, 'ended', summary);
    if (record.escalation) this.queueEvent(record, 'escalated', summary);
  }

  /** After a transaction that queued deliveries: the drain looks for them (a process without one leaves them queued). */
  kickDeliveries(): void {
    if (!this.deliveriesQueued) return;
    this.deliveriesQueued = false;
    this.ctx.ports.deliveries?.kick();
  }

  noteIfClosed(record: AlertRecord | undefined): void {
    if (!record || !isClosed(record.chat)) return;
    this.closed.add(record.id);
    // Only chats whose posts may still wait matter: the oldest are let go, so memory stays flat.
    if (this.closed.size > MAX_CLOSED_REMEMBERED) this.closed.delete(this.closed.values().next().value as string);
  }

  /** Whether this process saw the alert's chat close lately. */
  sawClose(alertId: string): boolean {
    return this.closed.has(alertId);
  }
}
