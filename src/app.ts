// Wiring: runs Slack and terminal events through the engine inside store transactions, and drains each alert's
// outbox through the ports, one recorded effect at a time, so that any process can drive any chat.
import { mentionOf, type Refusal, Responders, refusePress } from './access.js';
import { expiredReason, isClosed, isOpen, needsReview, newChat, step, stepUpFailed } from './chat/engine.js';
import type { Actor, Chat, ChatEvent, ChatState, Effect, PersonClock, Rules, ThreadPost } from './chat/types.js';
import { personClock, type WorkingHours } from './chat/working-hours.js';
import type { AlertTemplate, EscalationOutcome, SinkConfig } from './config/types.js';
import type { Drain } from './deliver/drain.js';
import { enqueueSinkEvent, eventsOfMove } from './deliver/events.js';
import type { DeliveryEvent } from './deliver/port.js';
import { hasFailedDeliveries, hasPendingDeliveries } from './deliver/queue.js';
import { type EscalationPolicy, escalateIfClosed, escalationText } from './escalation/escalate.js';
import { type AlertFacts, type Line, MALFORMED_CLASSIFICATION, type Writer, type Written } from './llm/port.js';
import { type Log, oneLine } from './log.js';
import {
  addToTranscript,
  type Claimed,
  type Completion,
  claim,
  complete,
  enqueue,
  extend,
  LANES,
  type Lane,
  lanesOf,
  slackCallOf,
} from './outbox.js';
import { alertPostKey, autoChatDue, isBeingPosted, releaseUnposted, takeUnposted, unpostedDue } from './pending.js';
import { alertBlocks, alertHeadline, detailsText, verdictText } from './slack/blocks.js';
import type { Inbound } from './slack/envelope.js';
import {
  CheckFailed,
  classifySlackError,
  describeSlackFailure,
  forPerson,
  isRateLimited,
  isWorkspaceWide,
  requestFailureOf,
  SlackCallError,
} from './slack/errors.js';
import { escapeText, quote } from './slack/mrkdwn.js';
import { type Pacer, unpaced } from './slack/pacer.js';
import type { PostedMessage, SlackPort } from './slack/port.js';
import { MAX_MESSAGE_CHARS, packMessages, splitMessage } from './slack/split.js';
import { activeSnoozeFor, addSnooze, DAY_MS, HOUR_MS, untilText } from './snoozes.js';
import { DEFAULT_STEP_UP, NO_VERIFIER, performStepUp, type StepUpPorts, type StepUpSettings } from './step-up.js';
import {
  type AlertRecord,
  alertsOf,
  archiveAlert,
  type OutboxItem,
  type Snooze,
  type SnoozeActor,
  type Store,
  type StoreData,
  type TranscriptEntry,
} from './store/port.js';
import type { Verifier } from './verify/port.js';

export interface Ports {
  slack: SlackPort;
  llm: Writer;
  store: Store;
  clock: () => Date;
  newId: () => string;
  log: Log;
  /** Paces Slack calls to Slack's rate limits; default: none (the SDK still honours 429s). */
  pacer?: Pacer;
  /** Runs `fn` after `ms` (a retry that is due); default: an unref'd timer, so it never keeps a process alive. */
  schedule?: (ms: number, fn: () => void) => void;
  /** Told when a call waits `ms` for Slack's Retry-After (a terminal shows it); default: a log line. */
  waiting?: (ms: number) => void;
  /** Waits `ms`; default: a timer. */
  sleep?: (ms: number) => Promise<void>;
  /**
   * A one-shot command, which exits once its alerts are posted: an alert's details that Slack asked to retry
   * later (Retry-After) are waited for, within MAX_RATE_LIMITED_WAIT_MS, instead of being left to the next listen.
   */
  oneShot?: boolean;
  /** Confirms "it was me" with a second factor (step-up); default: none, so an alert that asks for it is unverified. */
  verifier?: Verifier;
  /** Between two polls of a pending push; default 1 s. */
  pollEveryMs?: number;
  /**
   * Sends the deliveries (sink events, pages) queued with the alerts, apart from the Slack lanes; a process
   * without one (a one-shot command) only queues them, for `irbot listen` to send.
   */
  deliveries?: Drain;
}

export interface AppOptions {
  feedChannelId: string;
  maxNudges: number;
  /** Silence before a nudge. */
  nudgeAfterMs: number;
  /** Who may press the alert's buttons (user and user group IDs); empty means anyone but the alert's person. */
  responders: string[];
  /** Slack mention for chats that end without an answer or escalate; default: the responders. */
  escalationMention?: string;
  /** `[step_up]`: default provider none (no step-up unless an alert asks for it). */
  stepUp?: StepUpSettings;
  /** `[[sinks]]`: which outcome events each sink gets (src/deliver/events.ts). */
  sinks?: SinkConfig[];
  /** The chat outcomes that escalate (`[escalation] on`); default: none. */
  escalateOn?: readonly EscalationOutcome[];
  /** PAGERDUTY_ROUTING_KEY is set: escalations are paged too. */
  pagerduty?: boolean;
  /** `confirm_backoff_hours`: after a verified "it was me", the template is snoozed for the person this long; 0: off. */
  confirmBackoffHours?: number;
  /** `working_hours` and `working_days`, in each person's own zone; absent: always (no chat waits). */
  workingHours?: WorkingHours;
  /** `max_wait_hours`: the longest a chat waits for the person's working hours (default 12 h). */
  maxWaitMs?: number;
}

/** How long a seen Slack event id is remembered; Slack re-delivers within minutes. */
const SEEN_EVENTS_TTL_MS = 24 * 60 * 60 * 1000;
/** How often this process clears out expired event ids, in the transaction of an event. */
const PRUNE_SEEN_EVERY_MS = 60 * 1000;

/** How long a closed chat stays in the working set (for `irbot status` and `irbot chat`) before it is archived. */
export const ARCHIVE_AFTER_MS = 10 * 60 * 1000;
/** A failed chat waits for someone to follow up: plain `irbot status` lists it for a day. */
export const FAILED_ARCHIVE_AFTER_MS = 24 * 60 * 60 * 1000;

/** How many recently closed chats a process remembers, for the pacer's priority. */
const MAX_CLOSED_REMEMBERED = 10_000;

/** How long in all a call outside the outbox waits for Slack's Retry-After before its error is reported. */
export const MAX_RATE_LIMITED_WAIT_MS = 5 * 60_000;

/** A failing effect is retried with backoff (1 s doubling up to 5 min) this many times before it is given up. */
const MAX_ATTEMPTS = 12;
const MAX_BACKOFF_MS = 5 * 60 * 1000;

export type Ack = () => Promise<void>;

/** How to perform a post: under which key, and whether it is known to have landed already. */
interface PostPlan {
  key: string;
  posted: boolean;
  /** Taken over from a dead process: `posted` says whether the first message landed. */
  recovered?: boolean;
  /** Tried before (by a dead process, or failed midway): parts of a long post may have landed already. */
  resumed?: boolean;
  /** Since when those parts may have landed. */
  since?: string;
}

/** A message Slack still finds too long is halved down to this size at most, then given up. */
const MIN_SPLIT_CHARS = 1000;
const noAck: Ack = async () => undefined;

/** Between the relays of one coalesced thread message: a blank line (a quoted relay never holds one). */
export const RELAY_SEPARATOR = '\n\n';

export { NOT_ALLOWED } from './access.js';

export class App {
  /** Lanes being drained by this process: asking again while one runs makes it look once more. */
  private readonly draining = new Map<string, { done: Promise<void>; again: boolean }>();
  /** Chats this process saw close lately: their posts waiting for Slack's budget go first (see the pacer). */
  private readonly closed = new Set<string>();
  /** Lane loops this process has started: tells a claim taken in a transaction whether it may be stale. */
  private lanesStarted = 0;
  /** When this process last cleared out expired event ids (never, at first). */
  private prunedAt = Number.NEGATIVE_INFINITY;
  private readonly responders: Responders;
  /** Alerts this process is posting now (their own post): another delivery of one waits for it. */
  private readonly postingAlerts = new Map<string, Flight>();
  /** Settles when the process stops: a push being polled is left queued for the next one. */
  private readonly halted: Promise<void>;
  private stopPolling: () => void = () => undefined;
  /** A transaction of this process queued deliveries: the drain is kicked once it has committed. */
  private deliveriesQueued = false;

  constructor(
    private readonly ports: Ports,
    private readonly options: AppOptions,
  ) {
    this.halted = new Promise((resolve) => {
      this.stopPolling = resolve;
    });
    this.responders = new Responders(
      options.responders,
      (id) => this.whenSlackAllows('usergroups.users.list', undefined, () => ports.slack.usergroupMembers(id)),
      ports.clock,
    );
  }

  private now(): string {
    return this.ports.clock().toISOString();
  }

  private get pacer(): Pacer {
    return this.ports.pacer ?? unpaced;
  }

  /**
   * A call made outside the outbox (posting an alert, a name, a refusal): paced, and on a 429 tried again after
   * Retry-After, as often as Slack asks within MAX_RATE_LIMITED_WAIT_MS, since Slack only said "not yet".
   */
  private async whenSlackAllows<T>(method: string, channel: string | undefined, call: () => Promise<T>): Promise<T> {
    let waited = 0;
    if (this.ports.slack.ready) await this.ports.slack.ready();
    for (;;) {
      await this.pacer.take(method, channel);
      try {
        return await call();
      } catch (err) {
        if (!isRateLimited(err)) throw err;
        const ms = classifySlackError(err).retryAfterMs ?? 1000;
        if (waited + ms > MAX_RATE_LIMITED_WAIT_MS) throw err;
        waited += ms;
        this.pacer.backOff(method, channel, ms);
        this.slackWait(method, ms);
        await this.sleep(ms);
      }
    }
  }

  private schedule(ms: number, fn: () => void): void {
    if (this.ports.schedule) this.ports.schedule(ms, fn);
    else setTimeout(fn, Math.max(0, ms)).unref();
  }

  private get rules(): Rules {
    return {
      maxNudges: this.options.maxNudges,
      nudgeAfterMs: this.options.nudgeAfterMs,
      stepUpRetries: this.stepUpSettings.retries,
      ...(this.options.workingHours ? { workingHours: this.options.workingHours } : {}),
      ...(this.options.maxWaitMs !== undefined ? { maxWaitMs: this.options.maxWaitMs } : {}),
    };
  }

  private get stepUpSettings(): StepUpSettings {
    return this.options.stepUp ?? DEFAULT_STEP_UP;
  }

  /** Whether an *aware* answer on this alert must be confirmed: the alert's own `step_up`, else the config's. */
  private stepUpApplies(record: AlertRecord): boolean {
    return record.stepUp ?? this.stepUpSettings.provider !== 'none';
  }

  /** Stops polling pushes: what is under way is left queued for the next process (see step-up.ts). */
  halt(): void {
    this.stopPolling();
  }

  private get stepUpPorts(): StepUpPorts {
    return {
      verifier: this.ports.verifier ?? NO_VERIFIER,
      settings: this.stepUpSettings,
      clock: this.ports.clock,
      log: this.ports.log,
      sleep: (ms) => this.sleep(ms),
      email: (userId) => this.whenSlackAllows('users.info', undefined, () => this.ports.slack.userEmail(userId)),
      stillWaiting: async (alertId, push) => {
        const chat = (await this.ports.store.read()).alerts[alertId]?.chat;
        return chat?.state === 'active' && chat.stepUp?.phase === 'waiting' && chat.stepUp.push === push;
      },
      halted: this.halted,
      pollEveryMs: this.ports.pollEveryMs ?? 1000,
    };
  }

  /** Who is pinged in an alert's thread: the configured mention, else the responders (trusted: from config.toml). */
  private get mention(): string {
    return this.options.escalationMention ?? this.options.responders.map(mentionOf).join(' ');
  }

  private get escalation(): EscalationPolicy {
    return {
      on: this.options.escalateOn ?? [],
      mention: this.mention || null,
      pagerduty: this.options.pagerduty === true,
    };
  }

  /**
   * In the transaction of a step: escalates the alert if its chat just closed in a way `[escalation] on` names
   * (see src/escalation/escalate.ts). `said` collects a line to log once the transaction is done.
   */
  private escalate(
    record: AlertRecord,
    before: Chat,
    said: Escalated[],
    opts: { threadReachable?: boolean } = {},
  ): boolean {
    const escalation = escalateIfClosed(record, before, this.escalation, this.now(), opts);
    if (!escalation) return false;
    said.push({ id: record.id, outcome: escalation.outcome, reason: escalation.reason });
    if (escalation.pagerduty) this.deliveriesQueued = true;
    // A sink hears `escalated` after `ended`, which waits for the summary when one is being written.
    if (!record.outbox.some((item) => item.effect.type === 'Summarise')) this.queueEvent(record, 'escalated');
    return true;
  }

  private logEscalated(said: Escalated[]): void {
    for (const { id, outcome, reason } of said) {
      const where = this.options.pagerduty ? 'the thread and PagerDuty' : 'the thread';
      this.ports.log(`alert ${id}: escalated (${outcome}: ${reason}) to ${where}`, {
        event: 'escalated',
        alert: id,
        level: 'warn',
      });
    }
  }

  /**
   * Records a new alert instance, posts it to the feed channel, and its details in its thread. The record comes
   * first, marked pending: a crash or a failure that may have reached Slack leaves it for a retry of the same
   * dedupe key or the next `listen`, which ask Slack whether it landed before posting it, so it is posted once.
   */
  async postAlert(
    template: AlertTemplate,
    opts: { dedupeKey?: string; autoChat?: boolean } = {},
  ): Promise<PostedAlert> {
    const at = this.now();
    const { dedupeKey } = opts;
    const owner = Symbol('postAlert');
    const taken = await this.landing(owner, (data): Taking => {
      // A source that retries (a SIEM webhook) names the alert: the second delivery gets the first alert back,
      // once it is posted; until then, the delivery posts it.
      const earlier = dedupeKey ? alertsOf(data).find((a) => a.dedupeKey === dedupeKey) : undefined;
      if (earlier && (earlier.ts !== null || earlier.suppressed)) return { kind: 'duplicate', record: earlier };
      if (earlier) {
        const inFlight = this.postingAlerts.get(earlier.id);
        if (inFlight && inFlight.owner !== owner) return { kind: 'in_flight', id: earlier.id };
        if (isBeingPosted(earlier)) return { kind: 'busy', id: earlier.id, pid: earlier.pending?.claim?.pid ?? 0 };
        const record = data.alerts[earlier.id] as AlertRecord; // fetched by id: the store writes what it changes
        takeUnposted(record, at);
        return { kind: 'post', record: structuredClone(record), recovered: true, flight: this.fly(record.id, owner) };
      }
      let id = `${template.id}-${this.ports.newId()}`;
      while (data.alerts[id]) id = `${template.id}-${this.ports.newId()}`;
      const created: AlertRecord = {
        id,
        template: template.id,
        name: template.name,
        description: template.description,
        userId: template.userId,
        properties: template.properties,
        channelId: this.options.feedChannelId,
        ts: null,
        createdAt: at,
        lastActivityAt: at,
        chat: newChat(),
        transcript: [],
        outbox: [],
        nextSeq: 1,
        ...(dedupeKey ? { dedupeKey } : {}),
        ...(template.stepUp !== undefined ? { stepUp: template.stepUp } : {}),
        ...(template.severity ? { severity: template.severity } : {}),
        ...(template.urgent ? { urgent: true } : {}),
        pending: opts.autoChat ? { autoChat: true } : {},
      };
      // What the team already knows is recorded, with the snooze that knew it, and goes no further: no post, no DM.
      const snooze = activeSnoozeFor(data, template, this.ports.clock());
      if (snooze) {
        delete created.pending;
        created.suppressed = { snoozeId: snooze.id, at };
        data.alerts[id] = created;
        this.queueEvent(created, 'suppressed');
        return { kind: 'suppressed', record: structuredClone(created), snooze: structuredClone(snooze) };
      }
      takeUnposted(created, at);
      data.alerts[id] = created;
      return { kind: 'post', record: structuredClone(created), recovered: false, flight: this.fly(id, owner) };
    });
    switch (taken.kind) {
      case 'duplicate':
        return { alert: taken.record, duplicate: true };
      case 'suppressed': {
        this.kickDeliveries();
        const { snooze } = taken;
        const why = `snooze ${snooze.id} (until ${untilText(snooze.until)}: ${snooze.reason})`;
        this.ports.log(`alert ${taken.record.id}: suppressed by ${why}, not posted`, {
          event: 'suppressed',
          alert: taken.record.id,
        });
        return { alert: taken.record, duplicate: false, suppressed: taken.snooze };
      }
      case 'in_flight': {
        // This process is posting it right now (another delivery, or the sweep): its outcome is this one's.
        const alert = await this.postingAlerts.get(taken.id)?.done;
        if (!alert) throw new Error(`alert ${taken.id} with this dedupe_key could not be posted yet; try again`);
        return { alert, duplicate: true };
      }
      case 'busy':
        throw new AlertBusyError(taken.id, taken.pid);
      case 'post':
        return { alert: await this.postTaken(taken, false), duplicate: false };
    }
  }

  /** A transaction that takes alerts for posting: if it fails, what it marked in flight is let go again. */
  private async landing<T>(owner: symbol, change: (data: StoreData) => T): Promise<T> {
    try {
      return await this.ports.store.transact(change);
    } catch (err) {
      for (const [id, flight] of this.postingAlerts) {
        if (flight.owner !== owner) continue;
        this.postingAlerts.delete(id);
        flight.settle(undefined);
      }
      throw err;
    }
  }

  /** Marks an alert as being posted by this process, from inside the transaction that takes it. */
  private fly(id: string, owner: symbol): Flight {
    const running = this.postingAlerts.get(id);
    if (running?.owner === owner) return running; // the transaction ran again (its batch had a failing change)
    let settle: (alert: AlertRecord | undefined) => void = () => undefined;
    const done = new Promise<AlertRecord | undefined>((resolve) => {
      settle = resolve;
    });
    const flight = { owner, done, settle };
    this.postingAlerts.set(id, flight);
    return flight;
  }

  /**
   * Posts an alert taken for posting, or finds that it landed already (taken over after a crash), then its details.
   * A failure that proves nothing reached Slack drops a new record (the caller reports the failure, so nothing is
   * posted later by surprise); any other keeps it pending for the next try. `backOff`: `listen`'s own tries.
   */
  private async postTaken(taken: Extract<Taking, { kind: 'post' }>, backOff: boolean): Promise<AlertRecord> {
    const { store, slack, log } = this.ports;
    const { record, recovered, flight } = taken;
    const key = alertPostKey(record.id);
    let saved: AlertRecord | undefined;
    try {
      let posted: PostedMessage | undefined;
      try {
        if (recovered) {
          posted = await this.whenSlackAllows('conversations.history', record.channelId, () => {
            // The first page has its turn already; each later one waits for its own (1 a minute on some installs).
            let page = 0;
            const beforeCall = async (method: string) => {
              if (page++ > 0) await this.pacer.take(method, record.channelId);
            };
            return slack.findPost({ channel: record.channelId, key, since: record.createdAt, beforeCall });
          });
          if (posted)
            log(`alert ${record.id}: its post had landed before a crash, not posted again`, {
              event: 'recovered_post',
              alert: record.id,
            });
        }
        posted ??= await this.whenSlackAllows('chat.postMessage', record.channelId, () =>
          slack.post({ channel: record.channelId, text: alertHeadline(record), blocks: alertBlocks(record), key }),
        );
      } catch (err) {
        const drop = !recovered && neverPosted(err);
        await store.transact((data) => {
          const stored = data.alerts[record.id];
          if (!stored || stored.ts !== null) return;
          if (drop) delete data.alerts[record.id];
          else releaseUnposted(stored, this.ports.clock(), backOff, describeSlackFailure(classifySlackError(err)));
        });
        throw new SlackCallError(
          'chat.postMessage',
          err,
          drop ? undefined : `alert ${record.id} is kept and will be posted once, by irbot listen or a retry`,
        );
      }
      // The details go through the outbox like any thread post: retried until they land, never twice.
      saved = await store.transact((data) => {
        const stored = data.alerts[record.id] ?? record;
        stored.ts = posted.ts;
        stored.channelId = posted.channel;
        // An auto_chat alert keeps the mark (and this claim) until its chat is asked to start (see `request`).
        if (stored.pending?.autoChat) stored.pending = { autoChat: true, claim: stored.pending.claim };
        else delete stored.pending;
        data.alerts[record.id] = stored;
        enqueue(stored, [{ type: 'PostInThread', kind: 'details', text: '' }]);
        this.queueEvent(stored, 'posted');
        return structuredClone(stored);
      });
      this.kickDeliveries();
    } finally {
      this.postingAlerts.delete(record.id);
      flight.settle(saved);
    }
    await this.drain(record.id, ['thread']);
    if (this.ports.oneShot) await this.detailsPosted(record.id);
    return saved;
  }

  /** Starts the chat of an auto_chat alert posted after a crash, or whose poster died before starting it. */
  private async startAutoChat(id: string): Promise<void> {
    try {
      const applied = await this.request(id, 'start', AUTO_CHAT_ACTOR);
      if (applied.kind === 'applied' && applied.effects > 0)
        this.ports.log(`alert ${id}: auto_chat started the chat left by a crash`, { event: 'auto_chat', alert: id });
    } catch (err) {
      this.ports.log(`alert ${id}: auto_chat failed: ${oneLine(err)}`, {
        event: 'auto_chat',
        alert: id,
        level: 'error',
      });
    }
  }

  /**
   * Posts the alerts a crash or a failure left unposted (see `postAlert`), asking Slack first whether each landed,
   * and starts the chat of those that asked for it.
   */
  private async postUnposted(seen: StoreData): Promise<void> {
    const at = this.now();
    const due = (data: StoreData) => unpostedDue(data, at).filter((r) => !this.postingAlerts.has(r.id));
    const starts = autoChatDue(seen).filter((r) => !this.postingAlerts.has(r.id));
    await Promise.all(starts.map(({ id }) => this.startAutoChat(id)));
    if (due(seen).length === 0) return;
    const owner = Symbol('postUnposted');
    const taken = await this.landing(owner, (data) =>
      due(data).map((found): Extract<Taking, { kind: 'post' }> => {
        const record = data.alerts[found.id] as AlertRecord;
        takeUnposted(record, at);
        return { kind: 'post', record: structuredClone(record), recovered: true, flight: this.fly(record.id, owner) };
      }),
    );
    await Promise.all(
      taken.map(async (one) => {
        const { id } = one.record;
        try {
          const alert = await this.postTaken(one, true);
          this.ports.log(`alert ${id}: posted after a crash or a failure`, { event: 'alert_recovered', alert: id });
          if (one.record.pending?.autoChat) await this.startAutoChat(alert.id);
        } catch (err) {
          this.ports.log(`alert ${id}: still not posted: ${oneLine(err)}`, {
            event: 'alert_unposted',
            alert: id,
            level: 'warn',
          });
        }
      }),
    );
  }

  /** In a one-shot command: waits for the retry of the alert's details that Slack asked for, then drains again. */
  private async detailsPosted(alertId: string): Promise<void> {
    let waited = 0;
    for (;;) {
      const outbox = (await this.ports.store.read()).alerts[alertId]?.outbox ?? [];
      const details = outbox.find((item) => item.effect.type === 'PostInThread' && item.effect.kind === 'details');
      if (details?.retryAt === undefined) return;
      const ms = Math.max(0, Date.parse(details.retryAt) - this.ports.clock().getTime());
      if (waited + ms > MAX_RATE_LIMITED_WAIT_MS) return; // left to the next `irbot listen`
      waited += ms;
      this.slackWait('chat.postMessage', ms);
      await this.sleep(ms);
      await this.drain(alertId, ['thread']);
    }
  }

  private sleep(ms: number): Promise<void> {
    return (this.ports.sleep ?? ((t: number) => new Promise<void>((resolve) => setTimeout(resolve, t))))(ms);
  }

  /** Says that a call waits `ms` for Slack: on the terminal when there is one, else in the log. */
  private slackWait(method: string, ms: number): void {
    if (this.ports.waiting) this.ports.waiting(ms);
    else
      this.ports.log(`${method}: Slack is rate limiting; waiting ${Math.ceil(ms / 1000)} s`, { event: 'rate_limited' });
  }

  /**
   * Acts on one decoded Socket Mode envelope. `ack` is called once what arrived is safely in the store (or is
   * known to need nothing), before any slow work: a crash after that loses nothing, a re-delivery is dropped.
   */
  async handleInbound(inbound: Inbound, ack: Ack = noAck): Promise<void> {
    const { log } = this.ports;
    if (inbound.kind === 'ignored') {
      await ack();
      log(`ignored: ${inbound.reason}`, { event: 'ignored' });
      return;
    }
    if (inbound.kind === 'dm') {
      const outcome = await this.apply(
        (data) => alertsOf(data).find((a) => a.userId === inbound.userId && a.chat.state === 'active'),
        () => ({ type: 'DirectMessage', text: inbound.text, at: this.now(), ts: inbound.ts }),
        inbound.eventId,
        ack,
      );
      log(`dm from ${inbound.userId} (${inbound.eventId}): ${describeOutcome(outcome)}`, {
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
    this.ports.log(`${what}: ${refusal.detail}, refused`, {
      event: 'button_refused',
      alert: inbound.alertId,
      level: 'warn',
    });
    await this.whenSlackAllows('chat.postEphemeral', undefined, () =>
      this.ports.slack.ephemeral({
        channel: inbound.channelId ?? this.options.feedChannelId,
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
    action: 'start' | 'start_now' | 'dismiss' | 'end',
    by: Actor,
    dedupeKey?: string,
    ack: Ack = noAck,
    refuse?: (record: AlertRecord) => Refusal | undefined,
  ): Promise<Applied> {
    // Slack is asked for the person's zone before the transaction, which must stay short.
    if (action === 'start' && this.options.workingHours) {
      return this.personZone(alertId).then((zone) => this.requested(alertId, action, by, zone, dedupeKey, ack, refuse));
    }
    return this.requested(alertId, action, by, undefined, dedupeKey, ack, refuse);
  }

  private requested(
    alertId: string,
    action: 'start' | 'start_now' | 'dismiss' | 'end',
    by: Actor,
    zone: { found?: AlertRecord['personTz']; name?: string | undefined } | undefined,
    dedupeKey: string | undefined,
    ack: Ack,
    refuse: ((record: AlertRecord) => Refusal | undefined) | undefined,
  ): Promise<Applied> {
    return this.apply(
      (data) => data.alerts[alertId],
      (record, data) => {
        const at = this.now();
        // Whoever starts it, an auto_chat start that a crash could have lost is asked for now.
        if (action === 'start' && record.ts !== null) delete record.pending;
        if (action === 'dismiss') return { type: 'DismissRequested', by, at };
        if (action === 'end') return { type: 'EndRequested', by, at };
        if (action === 'start_now') return { type: 'StartNowRequested', by, at };
        const personBusy = alertsOf(data).some(
          (other) => other.id !== record.id && other.userId === record.userId && isOpen(other.chat),
        );
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
  private async personZone(
    alertId: string,
  ): Promise<{ found?: AlertRecord['personTz']; name?: string | undefined } | undefined> {
    if (!this.options.workingHours) return undefined;
    const record = (await this.ports.store.read()).alerts[alertId];
    if (record?.chat.state !== 'posted') return undefined;
    if (record.personTz) return { found: record.personTz };
    const lookup = this.ports.slack.userZone?.bind(this.ports.slack);
    if (!lookup) return {};
    try {
      const { tz, offset, name } = await this.whenSlackAllows('users.info', undefined, () => lookup(record.userId));
      return { found: { tz, offset }, name };
    } catch (err) {
      this.ports.log(`users.info ${record.userId} failed, reading their working hours in UTC: ${oneLine(err)}`, {
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
      () => ({ type: 'AnalystMessage', text, by, at: this.now() }),
    );
  }

  /**
   * Drains every outbox left unfinished (by a crash, a Ctrl-C, a process that is gone, or a retry now due), and
   * posts the alerts left unposted.
   */
  async recover(seen?: StoreData): Promise<void> {
    const data = seen ?? (await this.ports.store.read());
    const pending = Object.values(data.alerts).filter((a) => a.outbox.length > 0);
    await Promise.all([...pending.map((a) => this.drain(a.id)), this.postUnposted(data)]);
  }

  /** What a serving process does now and then: recover and tick, from one read of the store. */
  async sweep(): Promise<void> {
    const data = await this.ports.store.read();
    this.ports.deliveries?.kick(data);
    await Promise.all([this.recover(data), this.tick(data)]);
  }

  /**
   * Lets time act: silent people are nudged, or their chats end as no answer. The deadline moves in the same
   * transaction, so it fires once however many processes tick.
   */
  async tick(seen?: StoreData): Promise<void> {
    const at = this.now();
    // Active chats wait on the person's silence, scheduled ones on their working hours.
    const ticking = (record: AlertRecord) => record.chat.state === 'active' || record.chat.state === 'scheduled';
    const due = (record: AlertRecord) =>
      ticking(record) && step(record.chat, { type: 'Tick', at }, this.rules).effects.length > 0;
    // An alert stays while its deliveries are pending (at most RETRY_FOR_MS), and for a day when one failed, as a
    // failed chat does: plain `irbot status` lists it.
    const done = (record: AlertRecord) =>
      (isClosed(record.chat) || record.suppressed !== undefined) &&
      record.outbox.length === 0 &&
      !hasPendingDeliveries(record) &&
      Date.parse(at) - Date.parse(record.chat.endedAt ?? record.lastActivityAt) >=
        (record.chat.state === 'failed' || hasFailedDeliveries(record) ? FAILED_ARCHIVE_AFTER_MS : ARCHIVE_AFTER_MS);
    // A read without the lock first: most ticks find nothing due and write nothing.
    const alerts = Object.values((seen ?? (await this.ports.store.read())).alerts);
    if (!alerts.some((a) => due(a) || done(a))) return;
    const said: Escalated[] = [];
    const moved = await this.ports.store.transact((data) => {
      said.length = 0;
      const ids: { id: string; what: string }[] = [];
      // Closed chats leave the working set, which every transaction reads and writes, for the archive.
      for (const record of alertsOf(data)) if (done(record)) archiveAlert(data, record.id);
      for (const found of alertsOf(data)) {
        if (!ticking(found)) continue;
        const { chat, effects } = step(found.chat, { type: 'Tick', at }, this.rules);
        if (effects.length === 0) continue;
        const record = data.alerts[found.id] as AlertRecord; // fetched by id: the store writes what it changes
        const before = record.chat.state;
        const was = record.chat;
        record.chat = chat;
        enqueue(record, effects);
        this.moved(record, before, effects, data);
        this.escalate(record, was, said);
        this.noteIfClosed(record);
        record.lastActivityAt = at;
        ids.push({ id: record.id, what: tickWords(before, chat) });
      }
      return ids;
    });
    this.kickDeliveries();
    for (const { id, what } of moved) this.ports.log(`alert ${id}: ${what}`, { event: 'silence', alert: id });
    this.logEscalated(said);
    await Promise.all(moved.map(({ id }) => this.drain(id)));
  }

  /** Queues a sink event about the alert, in the caller's transaction; the drain is kicked once it commits. */
  private queueEvent(record: AlertRecord, event: DeliveryEvent, summary?: string | null): void {
    if (enqueueSinkEvent(record, event, this.options.sinks ?? [], this.now(), summary) > 0)
      this.deliveriesQueued = true;
  }

  /** The sink events of a move of the chat (started, dismissed, ended: see eventsOfMove). */
  private moved(record: AlertRecord, before: ChatState, effects: Effect[], data: StoreData): void {
    for (const event of eventsOfMove(before, record.chat, effects)) this.queueEvent(record, event);
    this.backOffConfirmed(data, record, before);
  }

  /**
   * `confirm_backoff_hours`: once the person confirmed "it was me" (verified by the step-up when it applies), the
   * same template for the same person is snoozed, by irbot, with the alert id as the reason; the thread says so.
   */
  private backOffConfirmed(data: StoreData, record: AlertRecord, before: ChatState): void {
    const hours = this.options.confirmBackoffHours ?? 0;
    const { chat } = record;
    if (hours <= 0 || before === 'ended' || chat.state !== 'ended') return;
    if (chat.outcome !== 'answered' || chat.aware !== true || needsReview(chat)) return;
    if (this.stepUpApplies(record) ? chat.verified !== 'approved' : stepUpFailed(chat)) return;
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
      this.ports.clock(),
      this.ports.newId,
    );
    // After the summary, which the person lane writes first (thread posts wait for it).
    enqueue(record, [{ type: 'PostInThread', kind: 'snoozed', text: snoozedText(snooze, record) }]);
  }

  /**
   * Snooze 24 h on the alert message: the alert's template is snoozed for its person, in the transaction that
   * records the press (re-deliveries dropped by event id), and the thread says who did it, until when and why.
   */
  private async snoozeFromSlack(inbound: Extract<Inbound, { kind: 'button' }>, ack: Ack): Promise<void> {
    const now = this.ports.clock();
    const by: SnoozeActor = { id: inbound.userId, via: 'slack' };
    type Result =
      | { kind: 'duplicate' | 'no_alert' }
      | { kind: 'refused'; refusal: Refusal }
      | { kind: 'snoozed'; snooze: Snooze };
    const result = await this.ports.store.transact((data): Result => {
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
        this.ports.newId,
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
      this.ports.log(`${what}: ${why}`, { event: 'button', alert: inbound.alertId });
      return;
    }
    const { snooze } = result;
    this.ports.log(`${what}: snooze ${snooze.id} of ${snooze.template} for ${snooze.user} until ${snooze.until}`, {
      event: 'snoozed',
      alert: inbound.alertId,
    });
    await this.drain(inbound.alertId, ['thread']);
  }

  /** A closed chat's summary is written: its `ended` event goes out now, carrying it (null if it was given up). */
  private summaryWritten(data: StoreData, alertId: string, completion: Completion): void {
    const record = data.alerts[alertId];
    if (!record) return;
    const post = completion.next?.find((effect) => effect.type === 'PostInThread' && effect.kind === 'summary');
    const summary = post?.type === 'PostInThread' ? post.text : null;
    this.queueEvent(record, 'ended', summary);
    if (record.escalation) this.queueEvent(record, 'escalated', summary);
  }

  /** After a transaction that queued deliveries: the drain looks for them (a process without one leaves them queued). */
  private kickDeliveries(): void {
    if (!this.deliveriesQueued) return;
    this.deliveriesQueued = false;
    this.ports.deliveries?.kick();
  }

  /** Resolves when no delivery is being sent by this process. */
  async deliveriesIdle(): Promise<void> {
    await this.ports.deliveries?.idle();
  }

  private noteIfClosed(record: AlertRecord | undefined): void {
    if (!record || !isClosed(record.chat)) return;
    this.closed.add(record.id);
    // Only chats whose posts may still wait matter: the oldest are let go, so memory stays flat.
    if (this.closed.size > MAX_CLOSED_REMEMBERED) this.closed.delete(this.closed.values().next().value as string);
  }

  /** Resolves when no effect is being performed by this process. */
  async idle(): Promise<void> {
    while (this.draining.size > 0) await Promise.allSettled([...this.draining.values()].map((d) => d.done));
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
    const said: Escalated[] = [];
    const { applied, work, claims } = await this.ports.store.transact(
      (data): { applied: Applied; work: Work[]; claims: LaneClaim[] } => {
        said.length = 0; // the transaction may run again
        const nothing = (outcome: Applied) => ({ applied: outcome, work: [], claims: [] });
        const now = this.ports.clock();
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
        const { chat, effects } = step(record.chat, event, this.rules);
        if (event.type === 'DirectMessage' && effects.length > 0) {
          addToTranscript(record.transcript, [
            { from: 'person', text: event.text, at: event.at, ...(event.ts ? { ts: event.ts } : {}) },
          ]);
        }
        const was = record.chat;
        record.chat = chat;
        enqueue(record, effects);
        this.moved(record, before, effects, data);
        const escalated = this.escalate(record, was, said);
        this.noteIfClosed(record);
        if (effects.length > 0) record.lastActivityAt = now.toISOString();
        const lanes = lanesOf(effects);
        if (escalated && !lanes.includes('thread')) lanes.push('thread');
        const work = [{ id: record.id, lanes }];
        return {
          applied: { kind: 'applied', alertId: record.id, before, after: chat.state, effects: effects.length },
          work,
          claims: this.claimIdle(data, work),
        };
      },
    );
    this.kickDeliveries();
    await ack();
    this.logEscalated(said);
    await this.startLanes(work, claims);
    return applied;
  }

  /**
   * In the transaction that gave them work: takes the heads of the lanes this process is not draining yet,
   * which saves each lane a transaction of its own to claim them.
   */
  private claimIdle(data: StoreData, work: Work[]): LaneClaim[] {
    const now = this.now();
    const since = this.lanesStarted;
    return work.flatMap(({ id, lanes }) =>
      lanes
        .filter((lane) => !this.draining.has(`${id}/${lane}`))
        .map((lane) => ({ id, lane, claimed: claim(data, id, lane, now), since })),
    );
  }

  /**
   * Drains the lanes that got work, from what `claimIdle` took for them; a lane it found empty needs nothing.
   * A claim is used only if no lane loop started since it was taken: one that did (a sweep, a timer, another
   * event) may have performed that very head, and this process's own claims do not keep its loops apart.
   */
  private async startLanes(work: Work[], claims: LaneClaim[]): Promise<void> {
    const current = claims.filter((c) => c.since === this.lanesStarted);
    const runs = work.flatMap(({ id, lanes }) =>
      lanes.flatMap((lane) => {
        const taken = current.find((c) => c.id === id && c.lane === lane);
        if (taken && !taken.claimed) return [];
        return [this.drainLane(id, lane, taken?.claimed ?? undefined)];
      }),
    );
    await Promise.all(runs);
  }

  /** A lane loop that failed (the store could not be read or written): its work stays queued for the sweep. */
  private laneFailed(err: unknown): void {
    this.ports.log(`a lane stopped on a store error, its work stays queued for the sweep: ${oneLine(err)}`, {
      event: 'lane_failed',
      level: 'error',
    });
  }

  /** Runs every lane of the alert's outbox. */
  private drain(alertId: string, lanes: readonly Lane[] = LANES): Promise<void> {
    return Promise.all(lanes.map((lane) => this.drainLane(alertId, lane))).then(() => undefined);
  }

  /**
   * One loop per lane and alert in this process; a call while it runs makes it look once more when done.
   * `first`: the lane's head, claimed already by the caller's transaction.
   */
  private drainLane(alertId: string, lane: Lane, first?: Claimed): Promise<void> {
    const key = `${alertId}/${lane}`;
    const running = this.draining.get(key);
    if (running) {
      running.again = true;
      return running.done;
    }
    const entry = { done: Promise.resolve(), again: true };
    this.lanesStarted++;
    let claimed = first;
    entry.done = (async () => {
      try {
        while (entry.again) {
          entry.again = false;
          await this.runLane(alertId, lane, claimed);
          claimed = undefined;
        }
      } finally {
        this.draining.delete(key);
      }
    })();
    this.draining.set(key, entry);
    return entry.done;
  }

  /**
   * Performs a lane's effects one after another. Its transactions are not fsynced one by one (a crash loses at
   * most a claim or a completion, and the effect is redone, or asked of Slack whether it landed): the store is
   * flushed before each Slack call instead, so that a claim is durable before its effect can be seen.
   */
  private async runLane(alertId: string, lane: Lane, first?: Claimed): Promise<void> {
    const { store } = this.ports;
    const lax = { sync: false };
    let claimed = first ?? (await store.transact((data) => claim(data, alertId, lane, this.now()), lax));
    while (claimed) {
      const call = lane === 'person' ? undefined : slackCallOf(claimed.items[0]?.effect, claimed.record);
      if (call) {
        // A closed chat's last posts go first when the budget is short: one message then carries all its lines.
        const { chat } = claimed.record;
        const isFinal = () => isClosed(chat) || this.closed.has(alertId);
        if (this.ports.slack.ready) await this.ports.slack.ready();
        const waited = await this.pacer.take(call.method, call.channel, isFinal);
        // While it waited for Slack's budget, more may have queued up behind it: it goes out in the same call.
        const taken = claimed;
        if (waited > 0)
          claimed = (await store.transact((data) => extend(data, alertId, lane, taken, this.now()), lax)) ?? taken;
      }
      const { record, items, checkSince } = claimed;
      const [head] = items;
      if (!head) return;
      // A claim (and a push's txid) is durable before its effect can be seen: a restart never does it twice.
      if (slackCallOf(head.effect, record) || lane === 'verify') await store.flush();
      let completion: Completion;
      const attemptAt = this.now();
      try {
        const post = await this.postPlan(record, head, checkSince);
        completion =
          lane === 'thread'
            ? await this.postInThread(record, items, post)
            : head.effect.type === 'StartPush' || head.effect.type === 'PollPush'
              ? await performStepUp(this.stepUpPorts, record, head.effect, claimed.recovered)
              : await this.perform(record, head.effect, post);
      } catch (err) {
        // A check that failed leaves the post as unsure as it was; a post that failed unseen may have landed. The
        // window never moves later: parts an earlier attempt (or a crashed process) posted must stay in it.
        const unsure =
          err instanceof CheckFailed
            ? checkSince
            : postMayHaveLanded(head, err)
              ? (checkSince ?? attemptAt)
              : undefined;
        completion = this.failed(record, head, err, unsure);
      }
      // Recording this effect done, taking the next one and the heads of other lanes it woke is one transaction.
      const said: Escalated[] = [];
      const { woken, next, claims } = await store.transact((data) => {
        said.length = 0;
        const was = data.alerts[alertId]?.chat;
        const moved = (record: AlertRecord, before: ChatState, effects: Effect[]) =>
          this.moved(record, before, effects, data);
        const woken = complete(data, alertId, items, completion, this.rules, this.now(), moved);
        if (head.effect.type === 'Summarise' && completion.retryAt === undefined)
          this.summaryWritten(data, alertId, completion);
        const record = data.alerts[alertId];
        // A chat that failed on the feed channel itself cannot be pinged there (PagerDuty still can be).
        const threadReachable = !completion.events?.some((e) => e.type === 'Failed' && !e.feedReachable);
        if (record && was && this.escalate(record, was, said, { threadReachable })) {
          const own = woken.find((w) => w.id === alertId);
          if (own && !own.lanes.includes('thread')) own.lanes.push('thread');
        }
        this.noteIfClosed(data.alerts[alertId]);
        const others = woken
          .map(({ id, lanes }) => ({ id, lanes: lanes.filter((l) => id !== alertId || l !== lane) }))
          .filter(({ lanes }) => lanes.length > 0);
        // A retry due at once (Slack's Retry-After: 0) goes on here; a later one waits for its timer.
        const later = completion.retryAt !== undefined && completion.retryAt > this.now();
        const next = later ? null : claim(data, alertId, lane, this.now());
        return { woken: others, next, claims: this.claimIdle(data, others) };
      }, lax);
      this.kickDeliveries();
      this.logEscalated(said);
      this.startLanes(woken, claims).catch((err) => this.laneFailed(err));
      const due = completion.retryAt ? Date.parse(completion.retryAt) - this.ports.clock().getTime() : 0;
      if (due > 0) this.schedule(due, () => void this.drainLane(alertId, lane).catch((err) => this.laneFailed(err)));
      claimed = next;
    }
  }

  /**
   * Every post carries a key (alert and outbox seq) in its metadata. Taking over from a dead process (or retrying
   * a post that failed unseen), irbot first asks Slack whether that post landed since `checkSince`, so a crash
   * between posting and recording it never doubles it. The check is paced like any call; when it fails, the post
   * waits (CheckFailed): it is never sent without an answer.
   */
  private async postPlan(record: AlertRecord, head: OutboxItem, checkSince: string | undefined): Promise<PostPlan> {
    const key = `${record.id}:${head.seq}`;
    const { effect } = head;
    const threadTs = record.ts ?? undefined;
    const recovered = checkSince !== undefined;
    const resumed = recovered || head.attempts !== undefined || head.retryAt !== undefined;
    // Parts of a long post tried before are asked about since the attempt, or since the alert when unknown.
    const since = checkSince ?? record.createdAt;
    if (!recovered || (effect.type !== 'SendDm' && (effect.type !== 'PostInThread' || !threadTs))) {
      return { key, posted: false, resumed, since };
    }
    const where = effect.type === 'SendDm' ? { channel: record.userId } : { channel: record.channelId, threadTs };
    const posted = await this.askSlack(where, key, since);
    if (posted)
      this.ports.log(`alert ${record.id}: ${effect.type} had landed before a crash, not sent again`, {
        event: 'recovered_post',
        alert: record.id,
      });
    return { key, posted, recovered, resumed, since };
  }

  /** Whether a post keyed `key` landed since `since`: each call paced; a failure is a CheckFailed (the post waits). */
  private async askSlack(where: { channel: string; threadTs?: string }, key: string, since: string): Promise<boolean> {
    let method = 'conversations.history';
    try {
      return await this.ports.slack.wasPosted({
        ...where,
        key,
        since,
        beforeCall: async (called) => {
          method = called;
          await this.pacer.take(called);
        },
      });
    } catch (err) {
      throw new CheckFailed(method, err);
    }
  }

  /**
   * Posts a text that may be over Slack's limit (split by splitMessage or packMessages) as consecutive messages,
   * each its own post keyed in its metadata (`key`, `key/2`, …): a crash or a failure midway leaves a claim
   * tried before, and then each part is asked of Slack first, so no part is posted twice. The first part's ts.
   */
  private async postParts(
    where: { channel: string; threadTs?: string },
    parts: string[],
    plan: PostPlan,
  ): Promise<string | undefined> {
    let first: string | undefined;
    for (const [i, text] of parts.entries()) {
      const key = i === 0 ? plan.key : `${plan.key}/${i + 1}`;
      if (i === 0 && plan.posted) continue;
      // The first part was asked about already when the claim was recovered (postPlan).
      const ask = plan.resumed === true && parts.length > 1 && !(i === 0 && plan.recovered);
      const since = plan.since ?? new Date(0).toISOString();
      if (ask && (await this.askSlack(where, key, since))) continue;
      if (i > 0) await this.pacer.take('chat.postMessage', where.channel);
      const ts = await this.postFitting(where, text, key, plan.resumed === true ? since : undefined, MAX_MESSAGE_CHARS);
      first ??= ts;
    }
    return first;
  }

  /**
   * One post. Should Slack still refuse it as msg_too_long (it may count characters otherwise), it goes out
   * halved, each half keyed under it, down to MIN_SPLIT_CHARS; past that the error stands and is logged.
   */
  private async postFitting(
    where: { channel: string; threadTs?: string },
    text: string,
    key: string,
    /** Set when the post was tried before: its parts may have landed since then. */
    resumedSince: string | undefined,
    limit: number,
  ): Promise<string> {
    try {
      return (await this.ports.slack.post({ ...where, text, key })).ts;
    } catch (err) {
      const half = Math.floor(Math.min(limit, text.length) / 2);
      if (classifySlackError(err).code !== 'msg_too_long' || half < MIN_SPLIT_CHARS) throw err;
      this.ports.log(`a post of ${text.length} characters was too long for Slack; posting it in parts of ${half}`, {
        event: 'msg_too_long',
        level: 'warn',
      });
      let first: string | undefined;
      for (const [j, part] of packMessages([text], RELAY_SEPARATOR, half).entries()) {
        const partKey = `${key}.${j + 1}`;
        if (resumedSince !== undefined && (await this.askSlack(where, partKey, resumedSince))) continue;
        if (j > 0) await this.pacer.take('chat.postMessage', where.channel);
        const ts = await this.postFitting(where, part, partKey, resumedSince, half);
        first ??= ts;
      }
      return first ?? '';
    }
  }

  /**
   * Turns an error into what happens next: a retry later, the effect given up, or the chat failed. `checkSince`:
   * the post may have landed since then, so its retry asks Slack first.
   */
  private failed(record: AlertRecord, item: OutboxItem, err: unknown, checkSince?: string): Completion {
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
      if (call) this.pacer.backOff(call.method, call.channel, failure.retryAfterMs);
      this.ports.log(`${what}; Slack asks to wait ${failure.retryAfterMs} ms`, { ...fields, event: 'rate_limited' });
      const retryAt = new Date(this.ports.clock().getTime() + failure.retryAfterMs).toISOString();
      return { retryAt, attempts: item.attempts ?? 0, ...unsure };
    }
    const attempts = (item.attempts ?? 0) + 1;
    if (failure.kind === 'retry' && attempts < MAX_ATTEMPTS) {
      const delay = Math.min(1000 * 2 ** (attempts - 1), MAX_BACKOFF_MS);
      this.ports.log(`${what}; retrying in ${Math.round(delay / 1000)} s (attempt ${attempts} of ${MAX_ATTEMPTS})`, {
        ...fields,
        event: 'effect_retry',
      });
      return { retryAt: new Date(this.ports.clock().getTime() + delay).toISOString(), attempts, ...unsure };
    }
    // A chat that has ended cannot fail: its closing posts go on without this one.
    if (failure.kind === 'fatal' && !isClosed(record.chat)) {
      this.ports.log(`${what}; the chat is marked failed, other chats go on`, {
        ...fields,
        event: 'chat_failed',
        level: 'error',
      });
      const reason = `${failedCall(item.effect, record.userId)} failed with ${describeSlackFailure(failure)}`;
      const feedReachable = toPerson && !isWorkspaceWide(failure);
      return { events: [{ type: 'Failed', reason, at: this.now(), feedReachable }] };
    }
    this.ports.log(`${what}; gave up on this ${item.effect.type}`, {
      ...fields,
      event: 'effect_dropped',
      level: 'error',
    });
    return {};
  }

  /** Thread posts that backed up go out as one message, in order; summaries and notes join the transcript. */
  private async postInThread(record: AlertRecord, items: OutboxItem[], plan: PostPlan): Promise<Completion> {
    const posts = items.flatMap((item) => (item.effect.type === 'PostInThread' ? [item.effect] : []));
    if (!record.ts || posts.length === 0) return {};
    // Cut to Slack's limit after quoting and escaping: a long relay or details post goes out as several messages.
    const texts = posts.map((post) => this.threadText(post.kind, post.text, record));
    await this.postParts(
      { channel: record.channelId, threadTs: record.ts },
      packMessages(texts, RELAY_SEPARATOR),
      plan,
    );
    const at = this.now();
    // Summaries and notes go into the transcript too: it is the case file, and what `irbot chat` shows.
    const transcript = posts.flatMap((post): TranscriptEntry[] => {
      if (post.kind === 'summary') {
        return [{ from: 'system', text: /^summary\b/i.test(post.text) ? post.text : `Summary: ${post.text}`, at }];
      }
      if (post.kind === 'note') return [{ from: 'system', text: post.text, at }];
      return [];
    });
    return { transcript };
  }

  private async perform(record: AlertRecord, effect: Effect, plan: PostPlan): Promise<Completion> {
    const { slack, llm } = this.ports;
    switch (effect.type) {
      case 'UpdateAlert':
        if (!record.ts) return {};
        await slack.update({
          channel: record.channelId,
          ts: record.ts,
          text: alertHeadline(record),
          blocks: alertBlocks(record),
        });
        return {};
      case 'Greet':
      case 'Nudge': {
        const facts = await this.facts(record);
        const written =
          effect.type === 'Greet' ? await llm.greet(facts) : await llm.nudge(facts, linesOf(record.transcript));
        return {
          personName: facts.personName,
          next: [
            { type: 'SendDm', text: written.text, from: 'bot' },
            ...this.fallbackNote(record, written, effect.type === 'Greet' ? 'greeting' : 'nudge'),
          ],
        };
      }
      case 'SendDm': {
        const text = effect.from === 'analyst' ? `*Message from the security team:* ${effect.text}` : effect.text;
        if (!plan.posted) await this.pacer.take('chat.postMessage', record.userId);
        const ts = await this.postParts({ channel: record.userId }, splitMessage(escapeText(text)), plan);
        const by = effect.by ? { by: effect.by } : {};
        return {
          transcript: [{ from: effect.from, text: effect.text, at: this.now(), ...by, ...(ts ? { ts } : {}) }],
          next: [{ type: 'PostInThread', kind: 'sent', text: effect.text }],
        };
      }
      case 'PostInThread':
        return this.postInThread(record, [{ seq: 0, effect }], plan);
      case 'Classify': {
        const facts = await this.facts(record);
        const verdict = await llm.classify(facts, linesOf(record.transcript));
        const event: ChatEvent = {
          type: 'Classified',
          hasAnswered: verdict.hasAnswered,
          isAware: verdict.isAware,
          upTo: effect.upTo,
          at: this.now(),
          steering: verdict.steering,
          stepUp: this.stepUpApplies(record),
        };
        const note: Effect[] = verdict.fallbackReason
          ? [{ type: 'PostInThread', kind: 'note', text: classifyNote(verdict.fallbackReason) }]
          : [];
        if (verdict.fallbackReason) this.logFallback(record, 'judgement', verdict.fallbackReason);
        return { personName: facts.personName, events: [event], next: note };
      }
      case 'Summarise': {
        const facts = await this.facts(record);
        const written = await llm.summarise(facts, linesOf(record.transcript), {
          outcome: record.chat.outcome ?? 'open',
          aware: record.chat.aware,
          needsReview: needsReview(record.chat),
        });
        return {
          next: [
            { type: 'PostInThread', kind: 'summary', text: written.text },
            ...this.fallbackNote(record, written, 'summary'),
            // An escalated alert's ping is queued already, and says the same and more.
            ...(effect.escalate && !record.escalation
              ? [{ type: 'PostInThread', kind: 'escalation', text: '' } as const]
              : []),
          ],
        };
      }
      case 'StartNext':
      case 'StartPush':
      case 'PollPush':
        return {};
    }
  }

  private threadText(kind: ThreadPost, text: string, record: AlertRecord): string {
    switch (kind) {
      case 'received':
        return `Received message from <@${record.userId}>:\n${quote(text)}`;
      case 'sent':
        return `Sent message to <@${record.userId}>:\n${quote(text)}`;
      case 'summary':
        return `Here is the summary of the chat:\n${quote(text)}\n*Verdict:* ${verdictText(record.chat, record.userId)}`;
      case 'note':
      case 'step_up':
        return `_${escapeText(text)}_`;
      case 'details':
        return detailsText(record);
      case 'snoozed':
        return text; // written by snoozedText, its untrusted parts escaped
      case 'escalation': {
        if (record.escalation) return escalationText(record.escalation, verdictText(record.chat, record.userId));
        // Trusted mentions from config.toml, so they do ping.
        const mention = this.mention;
        if (stepUpFailed(record.chat)) {
          return `:rotating_light: ${verdictText(record.chat, record.userId)}.${mention ? ` ${mention}` : ''} Please follow up.`;
        }
        if (needsReview(record.chat)) {
          return `:warning: <@${record.userId}> said they were aware, but a reply of theirs tried to instruct the bot.${mention ? ` ${mention}` : ''} Please review the chat before trusting the answer.`;
        }
        const { schedule } = record.chat;
        if (schedule?.ended?.how === 'expired') {
          return `:warning: No answer from <@${record.userId}>: ${escapeText(expiredReason(schedule))}.${mention ? ` ${mention}` : ''} Please follow up.`;
        }
        const nudges = `${record.chat.nudges} nudge${record.chat.nudges === 1 ? '' : 's'}`;
        return `:warning: No answer from <@${record.userId}> after ${nudges}.${mention ? ` ${mention}` : ''} Please follow up.`;
      }
    }
  }

  /** When the text is the offline fallback, the thread says so. */
  private fallbackNote(record: AlertRecord, written: Written, task: string): Effect[] {
    if (!written.fallbackReason) return [];
    this.logFallback(record, task, written.fallbackReason);
    return [
      {
        type: 'PostInThread',
        kind: 'note',
        text: `The LLM was unavailable (${written.fallbackReason}), so irbot used its offline template for this ${task}.`,
      },
    ];
  }

  private logFallback(record: AlertRecord, task: string, reason: string): void {
    this.ports.log(`alert ${record.id}: LLM ${task} fell back to the offline text (${reason})`, {
      event: 'llm_fallback',
      alert: record.id,
      level: 'warn',
    });
  }

  private async facts(record: AlertRecord): Promise<AlertFacts> {
    let personName = record.personName;
    if (!personName) {
      try {
        personName = await this.whenSlackAllows('users.info', undefined, () =>
          this.ports.slack.userName(record.userId),
        );
      } catch (err) {
        this.ports.log(`users.info ${record.userId} failed, using the user ID as name: ${oneLine(err)}`, {
          event: 'name_lookup_failed',
          alert: record.id,
          level: 'warn',
        });
        personName = record.userId;
      }
    }
    return { name: record.name, description: record.description, properties: record.properties, personName };
  }
}

/** How long Snooze 24 h snoozes, and the reason it records. */
export const SLACK_SNOOZE_MS = DAY_MS;
export const SLACK_SNOOZE_REASON = 'snoozed from Slack';

/** Who made a snooze of `confirm_backoff_hours`. */
export const IRBOT_SNOOZER: SnoozeActor = { id: 'irbot', via: 'irbot' };

/** "<@ana> snoozed *Pivoting* for <@harold> until 2026-12-06 10:00 UTC: snoozed from Slack", for the thread. */
export function snoozedText(snooze: Snooze, record: Pick<AlertRecord, 'name'>): string {
  const who = snooze.createdBy.via === 'slack' ? `<@${snooze.createdBy.id}>` : escapeText(snooze.createdBy.id);
  const whom = snooze.user ? ` for <@${snooze.user}>` : '';
  return `${who} snoozed *${escapeText(record.name)}*${whom} until ${untilText(snooze.until)}: ${escapeText(snooze.reason)}`;
}

/** Who started a chat that auto_chat started: shown on the alert message as "irbot auto_chat started a chat." */
export const AUTO_CHAT_ACTOR: Actor = { id: 'irbot auto_chat', via: 'terminal' };

/** An alert's own post under way in this process, and what it came to (undefined: not posted). */
interface Flight {
  owner: symbol;
  done: Promise<AlertRecord | undefined>;
  settle: (alert: AlertRecord | undefined) => void;
}

/** What the transaction of `postAlert` found for it to do. */
type Taking =
  | { kind: 'duplicate'; record: AlertRecord }
  | { kind: 'suppressed'; record: AlertRecord; snooze: Snooze }
  | { kind: 'in_flight'; id: string }
  | { kind: 'busy'; id: string; pid: number }
  | { kind: 'post'; record: AlertRecord; recovered: boolean; flight: Flight };

/** Another live irbot process is posting the alert with this dedupe key right now: try again shortly. */
export class AlertBusyError extends Error {
  override readonly name = 'AlertBusyError';

  constructor(
    readonly alertId: string,
    readonly pid: number,
  ) {
    super(`alert ${alertId} with this dedupe_key is being posted by irbot process ${pid}; try again shortly`);
  }
}

/** Slack refused the post, or the request provably never reached Slack: nothing was posted. */
function neverPosted(err: unknown): boolean {
  const request = requestFailureOf(err);
  if (request) return request.neverSent;
  // Slack answered (an error code, a 429, a 4xx): it did not post. A 5xx may come from a proxy after Slack acted.
  const status = (err as { statusCode?: unknown } | null)?.statusCode;
  return !(typeof status === 'number' && status >= 500);
}

export interface PostedAlert {
  alert: AlertRecord;
  /** True when an alert with the same dedupe key was already recorded: nothing was posted again. */
  duplicate: boolean;
  /** The active snooze that matched it: recorded as suppressed, not posted (src/snoozes.ts). */
  suppressed?: Snooze;
}

/** An alert escalated in a transaction, for its log line once the transaction is done. */
interface Escalated {
  id: string;
  outcome: EscalationOutcome;
  reason: string;
}

/** Lanes of alerts that got new work in a transaction. */
interface Work {
  id: string;
  lanes: Lane[];
}

/** What `claimIdle` took for one lane: its head, or null when it found nothing to take. */
interface LaneClaim {
  id: string;
  lane: Lane;
  claimed: Claimed | null;
  /** `lanesStarted` when it was taken. */
  since: number;
}

export type Applied =
  | { kind: 'applied'; alertId: string; before: Chat['state']; after: Chat['state']; effects: number }
  | { kind: 'duplicate' }
  | { kind: 'no_alert' }
  | { kind: 'refused'; alertId: string; refusal: Refusal };

function alertOf(outcome: Applied): { alert?: string } {
  return outcome.kind === 'applied' || outcome.kind === 'refused' ? { alert: outcome.alertId } : {};
}

function describeOutcome(outcome: Applied): string {
  if (outcome.kind === 'duplicate') return 'already handled (re-delivery), dropped';
  if (outcome.kind === 'no_alert') return 'no open chat or alert for it, ignored';
  if (outcome.kind === 'refused') return `${outcome.refusal.detail}, refused`;
  if (outcome.effects === 0) return `alert ${outcome.alertId} is ${outcome.before}, nothing to do`;
  return `alert ${outcome.alertId} ${outcome.before} → ${outcome.after}`;
}

/** What a tick did to a chat, for the log line. */
function tickWords(before: ChatState, chat: Chat): string {
  if (before === 'scheduled') {
    return chat.state === 'active'
      ? 'working hours began, chat started'
      : 'chat ended: no answer (outside working hours for max_wait_hours)';
  }
  return chat.state === 'ended' ? 'silence, chat ended: no answer' : `silence, nudge ${chat.nudges}`;
}

/** The Slack call an effect made, in words, for a failed chat's reason. */
function failedCall(effect: Effect, userId: string): string {
  if (effect.type === 'SendDm') return `the DM to ${userId}`;
  if (effect.type === 'PostInThread') return 'a post in the alert’s thread';
  if (effect.type === 'UpdateAlert') return 'the update of the alert message';
  return effect.type;
}

/** Whether a post that failed may still have reached Slack: anything but a 429 or an answer that refused it. */
function postMayHaveLanded(item: OutboxItem, err: unknown): boolean {
  if (item.effect.type !== 'SendDm' && item.effect.type !== 'PostInThread') return false;
  return classifySlackError(err).kind === 'retry' && !isRateLimited(err);
}

function forgetOldEvents(data: StoreData, now: number): void {
  // ISO times in UTC compare as strings: no date parsing for each of a day's event ids.
  const cutoff = new Date(now - SEEN_EVENTS_TTL_MS).toISOString();
  for (const [key, at] of Object.entries(data.seenEvents)) if (at < cutoff) delete data.seenEvents[key];
}

/** The lines the LLM sees: all but irbot's own notes. The entries themselves, not copies: chats can be long. */
function linesOf(transcript: TranscriptEntry[]): Line[] {
  const lines: Line[] = [];
  for (const entry of transcript) if (isSaid(entry)) lines.push(entry);
  return lines;
}

function isSaid(entry: TranscriptEntry): entry is TranscriptEntry & Line {
  return entry.from !== 'system';
}

function classifyNote(reason: string): string {
  if (reason === MALFORMED_CLASSIFICATION) {
    return 'The LLM answered the classification in a malformed way; irbot counted the reply as not answered yet.';
  }
  return `The LLM could not judge this reply (${reason}); irbot used its offline rules instead.`;
}
