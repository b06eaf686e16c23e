// Applies what arrives (Slack DMs and button presses, the terminal's requests and lines) to the chats: in one
// store transaction each, a re-delivery is dropped, the engine steps and its effects are queued; then the lanes run.
import { type Refusal, Responders, refusePress } from '../access.js';
import { isOpen, step } from '../chat/engine.js';
import type { Actor, Chat, ChatEvent, PersonClock } from '../chat/types.js';
import { personClock } from '../chat/working-hours.js';
import { oneLine } from '../log.js';
import { addToTranscript, enqueue, lanesOf } from '../outbox.js';
import type { Inbound } from '../slack/envelope.js';
import { addSnooze, DAY_MS } from '../snoozes.js';
import { type AlertRecord, alertsOfPerson, type Snooze, type SnoozeActor, type StoreData } from '../store/port.js';
import { type Ack, type AppContext, noAck } from './context.js';
import { type DmTarget, dmTarget } from './dm-target.js';
import type { LaneClaim, Lanes, Work } from './lanes.js';
import type { Escalated, Moves } from './moves.js';
import { snoozedText } from './thread-text.js';

/** How long a seen Slack event id is remembered; Slack re-delivers within minutes. */
const SEEN_EVENTS_TTL_MS = 24 * 60 * 60 * 1000;
/** How often this process clears out expired event ids, in the transaction of an event. */
const PRUNE_SEEN_EVERY_MS = 60 * 1000;

/** How long Snooze 24 h snoozes, and the reason it records. */
export const SLACK_SNOOZE_MS = DAY_MS;
export const SLACK_SNOOZE_REASON = 'snoozed from Slack';

export type Applied =
  | { kind: 'applied'; alertId: string; before: Chat['state']; after: Chat['state']; effects: number }
  | { kind: 'duplicate' }
  | { kind: 'no_alert' }
  | { kind: 'refused'; alertId: string; refusal: Refusal };

export type Action = 'start' | 'start_now' | 'dismiss' | 'end';

type Zone = { found?: AlertRecord['personTz']; name?: string | undefined };

export class InboundEvents {
  /** When this process last cleared out expired event ids (never, at first). */
  private prunedAt = Number.NEGATIVE_INFINITY;
  private readonly responders: Responders;

  constructor(
    private readonly ctx: AppContext,
    private readonly moves: Moves,
    private readonly lanes: Lanes,
  ) {
    this.responders = new Responders(
      ctx.options.responders,
      (id) => ctx.whenSlackAllows('usergroups.users.list', undefined, () => ctx.ports.slack.usergroupMembers(id)),
      ctx.ports.clock,
    );
  }

  /**
   * Acts on one decoded Socket Mode envelope. `ack` is called once what arrived is safely in the store (or is
   * known to need nothing), before any slow work: a crash after that loses nothing, a re-delivery is dropped.
   */
  async handleInbound(inbound: Inbound, ack: Ack = noAck): Promise<void> {
    const { log } = this.ctx.ports;
    if (inbound.kind === 'ignored') {
      await ack();
      log(`ignored: ${inbound.reason}`, { event: 'ignored' });
      return;
    }
    if (inbound.kind === 'dm') {
      // What the DM is to the chat it belongs to, as the transaction (its last run) found it.
      const found: { as: DmTarget['as'] } = { as: 'answer' };
      const outcome = await this.apply(
        (data) => {
          const target = dmTarget(alertsOfPerson(data, inbound.userId), inbound.ts, this.ctx.ports.clock().getTime());
          found.as = target?.as ?? 'answer';
          return target?.record;
        },
        () => ({ type: DM_EVENTS[found.as], text: inbound.text, at: this.ctx.now(), ts: inbound.ts }),
        inbound.eventId,
        ack,
      );
      const { as } = found;
      const what =
        outcome.kind === 'applied' && outcome.effects > 0 && as !== 'answer'
          ? DM_OUTCOMES[as](outcome.alertId)
          : undefined;
      log(`dm from ${inbound.userId} (${inbound.eventId}): ${what ?? describeOutcome(outcome)}`, {
        event: 'dm',
        ...alertOf(outcome),
      });
      return;
    }
    const notResponder = await this.responders.refuse(inbound.userId);
    if (notResponder) {
      await ack();
      await this.refuse(inbound, notResponder);
      return;
    }
    if (inbound.action === 'snooze') {
      await this.snoozeFromSlack(inbound, ack);
      return;
    }
    const by: Actor = { id: inbound.userId, via: 'slack' };
    // The alert's own person, or a press on another alert's message, is refused in the transaction that finds it.
    const outcome = await this.request(inbound.alertId, inbound.action, by, inbound.dedupeKey, ack, (record) =>
      refusePress(record, inbound),
    );
    if (outcome.kind === 'refused') {
      await this.refuse(inbound, outcome.refusal);
      return;
    }
    log(`button ${inbound.action} on ${inbound.alertId} by ${inbound.userId}: ${describeOutcome(outcome)}`, {
      event: 'button',
      alert: inbound.alertId,
    });
  }

  /** A press that may not act: logged, and an ephemeral line tells the presser why; nothing changes. */
  private async refuse(inbound: Extract<Inbound, { kind: 'button' }>, refusal: Refusal): Promise<void> {
    const what = `button ${inbound.action} on ${inbound.alertId} by ${inbound.userId}`;
    this.ctx.ports.log(`${what}: ${refusal.detail}, refused`, {
      event: 'button_refused',
      alert: inbound.alertId,
      level: 'warn',
    });
    await this.ctx.whenSlackAllows('chat.postEphemeral', undefined, () =>
      this.ctx.ports.slack.ephemeral({
        channel: inbound.channelId ?? this.ctx.options.feedChannelId,
        user: inbound.userId,
        text: refusal.text,
      }),
    );
  }

  /**
   * Start, Start Chat now, Do Nothing or End, from a button or the terminal; `refuse` may turn it down once the
   * alert is found.
   */
  request(
    alertId: string,
    action: Action,
    by: Actor,
    dedupeKey?: string,
    ack: Ack = noAck,
    refuse?: (record: AlertRecord) => Refusal | undefined,
  ): Promise<Applied> {
    // Slack is asked for the person's zone before the transaction, which must stay short.
    if (action === 'start' && this.ctx.options.workingHours) {
      return this.personZone(alertId).then((zone) => this.requested(alertId, action, by, zone, dedupeKey, ack, refuse));
    }
    return this.requested(alertId, action, by, undefined, dedupeKey, ack, refuse);
  }

  private requested(
    alertId: string,
    action: Action,
    by: Actor,
    zone: Zone | undefined,
    dedupeKey: string | undefined,
    ack: Ack,
    refuse: ((record: AlertRecord) => Refusal | undefined) | undefined,
  ): Promise<Applied> {
    return this.apply(
      (data) => data.alerts[alertId],
      (record, data) => {
        const at = this.ctx.now();
        // Whoever starts it, an auto_chat start that a crash could have lost is asked for now.
        if (action === 'start' && record.ts !== null) delete record.pending;
        if (action === 'dismiss') return { type: 'DismissRequested', by, at };
        if (action === 'end') return { type: 'EndRequested', by, at };
        if (action === 'start_now') {
          const busy = alertsOfPerson(data, record.userId).some((o) => o.id !== record.id && o.chat.state === 'active');
          return { type: 'StartNowRequested', by, at, ...(busy ? { personBusy: true } : {}) };
        }
        // An urgent alert does not wait for a chat that itself waits for the person's working hours: that one
        // waits its turn instead when its hour comes (sweep.ts).
        const blocks = (other: AlertRecord) =>
          isOpen(other.chat) && !(record.urgent === true && other.chat.state === 'scheduled');
        const personBusy = alertsOfPerson(data, record.userId).some((other) => other.id !== record.id && blocks(other));
        let person: PersonClock | undefined;
        if (zone) {
          if (zone.found) record.personTz = zone.found;
          // The same users.info named the person: an escalation before any greeting still says who.
          if (zone.name && !record.personName) record.personName = zone.name;
          person = personClock(zone.found?.tz);
        }
        return {
          type: 'StartRequested',
          by,
          at,
          personBusy,
          ...(person ? { person } : {}),
          ...(record.urgent ? { urgent: true } : {}),
        };
      },
      dedupeKey,
      ack,
      refuse,
    );
  }

  /**
   * With working hours set: the person's zone, kept on the alert once Slack gave it; `found` is undefined when
   * users.info failed (then UTC, with a note). Undefined without working hours, or for an unknown alert.
   */
  private async personZone(alertId: string): Promise<Zone | undefined> {
    const { ports } = this.ctx;
    if (!this.ctx.options.workingHours) return undefined;
    const record = (await ports.store.read()).alerts[alertId];
    if (record?.chat.state !== 'posted') return undefined;
    if (record.personTz) return { found: record.personTz };
    const lookup = ports.slack.userZone?.bind(ports.slack);
    if (!lookup) return {};
    try {
      const { tz, offset, name } = await this.ctx.whenSlackAllows('users.info', undefined, () => lookup(record.userId));
      return { found: { tz, offset }, name };
    } catch (err) {
      ports.log(`users.info ${record.userId} failed, reading their working hours in UTC: ${oneLine(err)}`, {
        event: 'zone_lookup_failed',
        alert: alertId,
        level: 'warn',
      });
      return {};
    }
  }

  /** A line typed by the analyst in `irbot chat`, sent to the person. */
  say(alertId: string, text: string, by: Actor): Promise<Applied> {
    return this.apply(
      (data) => data.alerts[alertId],
      () => ({ type: 'AnalystMessage', text, by, at: this.ctx.now() }),
    );
  }

  /**
   * The one way state changes: in a single transaction, drop a re-delivered event, find the alert, step the
   * engine, queue its effects; then perform them.
   */
  private async apply(
    locate: (data: StoreData) => AlertRecord | undefined,
    build: (record: AlertRecord, data: StoreData) => ChatEvent,
    dedupeKey?: string,
    ack: Ack = noAck,
    refuse?: (record: AlertRecord) => Refusal | undefined,
  ): Promise<Applied> {
    const { ctx, moves, lanes } = this;
    const said: Escalated[] = [];
    const { applied, work, claims } = await ctx.ports.store.transact(
      (data): { applied: Applied; work: Work[]; claims: LaneClaim[] } => {
        said.length = 0; // the transaction may run again
        const nothing = (outcome: Applied) => ({ applied: outcome, work: [], claims: [] });
        const now = ctx.ports.clock();
        if (dedupeKey !== undefined) {
          if (data.seenEvents[dedupeKey]) return nothing({ kind: 'duplicate' });
          if (now.getTime() - this.prunedAt >= PRUNE_SEEN_EVERY_MS) {
            forgetOldEvents(data, now.getTime());
            this.prunedAt = now.getTime();
          }
          data.seenEvents[dedupeKey] = now.toISOString();
        }
        const found = locate(data);
        // Fetched again by id, so that the store writes this alert and not every alert the search looked at.
        const record = found && data.alerts[found.id];
        if (!record) return nothing({ kind: 'no_alert' });
        const refusal = refuse?.(record);
        if (refusal) return nothing({ kind: 'refused', alertId: record.id, refusal });
        const event = build(record, data);
        const before = record.chat.state;
        const { chat, effects } = step(record.chat, event, ctx.rules);
        // An early line stays out of the transcript: the judged conversation starts with the chat's first DM.
        if ((event.type === 'DirectMessage' || event.type === 'LateMessage') && effects.length > 0) {
          addToTranscript(record.transcript, [
            { from: 'person', text: event.text, at: event.at, ...(event.ts ? { ts: event.ts } : {}) },
          ]);
        }
        const was = record.chat;
        record.chat = chat;
        enqueue(record, effects);
        moves.moved(record, before, effects, data);
        const escalated = moves.escalate(record, was, said);
        moves.noteIfClosed(record);
        if (effects.length > 0) record.lastActivityAt = now.toISOString();
        const lanesWithWork = lanesOf(effects);
        if (escalated && !lanesWithWork.includes('thread')) lanesWithWork.push('thread');
        const work = [{ id: record.id, lanes: lanesWithWork }];
        return {
          applied: { kind: 'applied', alertId: record.id, before, after: chat.state, effects: effects.length },
          work,
          claims: lanes.claimIdle(data, work),
        };
      },
    );
    moves.kickDeliveries();
    await ack();
    moves.logEscalated(said);
    await lanes.startLanes(work, claims);
    return applied;
  }

  /**
   * Snooze 24 h on the alert message: the alert's template is snoozed for its person, in the transaction that
   * records the press (re-deliveries dropped by event id), and the thread says who did it, until when and why.
   */
  private async snoozeFromSlack(inbound: Extract<Inbound, { kind: 'button' }>, ack: Ack): Promise<void> {
    const { ports } = this.ctx;
    const now = ports.clock();
    const by: SnoozeActor = { id: inbound.userId, via: 'slack' };
    type Result =
      | { kind: 'duplicate' | 'no_alert' }
      | { kind: 'refused'; refusal: Refusal }
      | { kind: 'snoozed'; snooze: Snooze };
    const result = await ports.store.transact((data): Result => {
      if (data.seenEvents[inbound.dedupeKey]) return { kind: 'duplicate' };
      data.seenEvents[inbound.dedupeKey] = now.toISOString();
      const record = data.alerts[inbound.alertId];
      if (!record) return { kind: 'no_alert' };
      const refusal = refusePress(record, inbound);
      if (refusal) return { kind: 'refused', refusal };
      const snooze = addSnooze(
        data,
        {
          template: record.template,
          user: record.userId,
          forMs: SLACK_SNOOZE_MS,
          reason: SLACK_SNOOZE_REASON,
          by,
          alertId: record.id,
        },
        now,
        ports.newId,
      );
      enqueue(record, [{ type: 'PostInThread', kind: 'snoozed', text: snoozedText(snooze, record) }]);
      record.lastActivityAt = now.toISOString();
      return { kind: 'snoozed', snooze: structuredClone(snooze) };
    });
    await ack();
    const what = `button snooze on ${inbound.alertId} by ${inbound.userId}`;
    if (result.kind === 'refused') {
      await this.refuse(inbound, result.refusal);
      return;
    }
    if (result.kind !== 'snoozed') {
      const why = result.kind === 'duplicate' ? 'already handled (re-delivery), dropped' : 'no such alert, ignored';
      ports.log(`${what}: ${why}`, { event: 'button', alert: inbound.alertId });
      return;
    }
    const { snooze } = result;
    ports.log(`${what}: snooze ${snooze.id} of ${snooze.template} for ${snooze.user} until ${snooze.until}`, {
      event: 'snoozed',
      alert: inbound.alertId,
    });
    await this.lanes.drain(inbound.alertId, ['thread']);
  }
}

function alertOf(outcome: Applied): { alert?: string } {
  return outcome.kind === 'applied' || outcome.kind === 'refused' ? { alert: outcome.alertId } : {};
}

/** The chat event of a DM, by what it is to its chat (dm-target.ts). */
const DM_EVENTS = { answer: 'DirectMessage', late: 'LateMessage', early: 'EarlyMessage' } as const;

/** What the log says of a DM relayed without being judged. */
const DM_OUTCOMES = {
  late: (id: string) => `alert ${id} has ended: relayed in its thread as a late reply`,
  early: (id: string) => `alert ${id}: written before its first DM reached them, relayed, not taken as an answer`,
};

function describeOutcome(outcome: Applied): string {
  if (outcome.kind === 'duplicate') return 'already handled (re-delivery), dropped';
  if (outcome.kind === 'no_alert') return 'no open chat or alert for it, ignored';
  if (outcome.kind === 'refused') return `${outcome.refusal.detail}, refused`;
  if (outcome.effects === 0) return `alert ${outcome.alertId} is ${outcome.before}, nothing to do`;
  return `alert ${outcome.alertId} ${outcome.before} → ${outcome.after}`;
}

function forgetOldEvents(data: StoreData, now: number): void {
  // ISO times in UTC compare as strings: no date parsing for each of a day's event ids.
  const cutoff = new Date(now - SEEN_EVENTS_TTL_MS).toISOString();
  for (const [key, at] of Object.entries(data.seenEvents)) if (at < cutoff) delete data.seenEvents[key];
}
