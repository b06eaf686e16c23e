// Wiring: runs Slack and terminal events through the engine inside store transactions, and drains each alert's
// outbox through the ports, one recorded effect at a time, so that any process can drive any chat.
import { isOpen, newChat, step } from './chat/engine.js';
import type { Actor, Chat, ChatEvent, Effect, Rules, ThreadPost } from './chat/types.js';
import type { AlertTemplate } from './config/types.js';
import { type AlertFacts, type Line, MALFORMED_CLASSIFICATION, type Writer, type Written } from './llm/port.js';
import { type Log, oneLine } from './log.js';
import { alertBlocks, alertHeadline, detailsText, verdictText } from './slack/blocks.js';
import type { Inbound } from './slack/envelope.js';
import { classifySlackError, describeSlackFailure, SlackCallError } from './slack/errors.js';
import { escapeText, quote } from './slack/mrkdwn.js';
import type { SlackPort } from './slack/port.js';
import type { AlertRecord, OutboxItem, Store, StoreData, TranscriptEntry } from './store/port.js';

export interface Ports {
  slack: SlackPort;
  llm: Writer;
  store: Store;
  clock: () => Date;
  newId: () => string;
  log: Log;
}

export interface AppOptions {
  feedChannelId: string;
  maxNudges: number;
  /** Silence before a nudge. */
  nudgeAfterMs: number;
  /** Who may press the alert's buttons; empty means anyone in the feed channel. */
  responders: string[];
  /** Slack mention for chats that end without an answer; default: the responders. */
  escalationMention?: string;
}

/** What performing one effect produced, applied to the store in the transaction that marks it done. */
interface Completion {
  /** Effects that must run next, before anything queued after this one. */
  next?: Effect[];
  events?: ChatEvent[];
  transcript?: TranscriptEntry;
  personName?: string;
  /** Set when the effect failed for now: it stays queued until then. */
  retryAt?: string;
  attempts?: number;
}

/** How long a seen Slack event id is remembered; Slack re-delivers within minutes. */
const SEEN_EVENTS_TTL_MS = 24 * 60 * 60 * 1000;

/** A failing effect is retried with backoff (1 s doubling up to 5 min) this many times before it is given up. */
const MAX_ATTEMPTS = 12;
const MAX_BACKOFF_MS = 5 * 60 * 1000;

export type Ack = () => Promise<void>;
const noAck: Ack = async () => undefined;

export const NOT_ALLOWED =
  'Sorry, only the responders listed in irbot’s config.toml can use these buttons. Nothing was changed.';

export class App {
  private readonly draining = new Map<string, Promise<void>>();

  constructor(
    private readonly ports: Ports,
    private readonly options: AppOptions,
  ) {}

  private now(): string {
    return this.ports.clock().toISOString();
  }

  private get rules(): Rules {
    return { maxNudges: this.options.maxNudges, nudgeAfterMs: this.options.nudgeAfterMs };
  }

  /** Records a new alert instance, posts it to the feed channel, and its details in its thread. */
  async postAlert(template: AlertTemplate, opts: { dedupeKey?: string } = {}): Promise<PostedAlert> {
    const { store, slack } = this.ports;
    const at = this.now();
    const { dedupeKey } = opts;
    const inserted = await store.transact((data) => {
      // A source that retries (a SIEM webhook) names the alert: the second delivery gets the first alert back.
      const earlier = dedupeKey && Object.values(data.alerts).find((a) => a.dedupeKey === dedupeKey);
      if (earlier) return { record: earlier, duplicate: true };
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
      };
      data.alerts[id] = created;
      return { record: created, duplicate: false };
    });
    if (inserted.duplicate) return { alert: inserted.record, duplicate: true };
    const record = inserted.record;
    let posted: { channel: string; ts: string };
    try {
      posted = await slack.post({
        channel: record.channelId,
        text: alertHeadline(record),
        blocks: alertBlocks(record),
      });
    } catch (err) {
      await store.transact((data) => {
        delete data.alerts[record.id];
      });
      throw new SlackCallError('chat.postMessage', err);
    }
    const saved = await store.transact((data) => {
      const stored = data.alerts[record.id] ?? record;
      stored.ts = posted.ts;
      stored.channelId = posted.channel;
      data.alerts[record.id] = stored;
      return stored;
    });
    await slack.post({ channel: posted.channel, threadTs: posted.ts, text: detailsText(record) });
    return { alert: saved, duplicate: false };
  }

  /**
   * Acts on one decoded Socket Mode envelope. `ack` is called once what arrived is safely in the store (or is
   * known to need nothing), before any slow work: a crash after that loses nothing, a re-delivery is dropped.
   */
  async handleInbound(inbound: Inbound, ack: Ack = noAck): Promise<void> {
    const { log } = this.ports;
    if (inbound.kind === 'ignored') {
      await ack();
      log(`ignored: ${inbound.reason}`);
      return;
    }
    if (inbound.kind === 'dm') {
      const outcome = await this.apply(
        (data) => Object.values(data.alerts).find((a) => a.userId === inbound.userId && a.chat.state === 'active'),
        () => ({ type: 'DirectMessage', text: inbound.text, at: this.now() }),
        inbound.eventId,
        ack,
      );
      log(`dm from ${inbound.userId} (${inbound.eventId}): ${describeOutcome(outcome)}`);
      return;
    }
    const { responders } = this.options;
    if (responders.length > 0 && !responders.includes(inbound.userId)) {
      await ack();
      log(`button ${inbound.action} on ${inbound.alertId} by ${inbound.userId}: not a responder, refused`);
      await this.ports.slack.ephemeral({
        channel: inbound.channelId ?? this.options.feedChannelId,
        user: inbound.userId,
        text: NOT_ALLOWED,
      });
      return;
    }
    const by: Actor = { id: inbound.userId, via: 'slack' };
    const outcome = await this.request(inbound.alertId, inbound.action, by, inbound.dedupeKey, ack);
    log(`button ${inbound.action} on ${inbound.alertId} by ${inbound.userId}: ${describeOutcome(outcome)}`);
  }

  /** Start, Do Nothing or End, from a button or the terminal. */
  request(
    alertId: string,
    action: 'start' | 'dismiss' | 'end',
    by: Actor,
    dedupeKey?: string,
    ack: Ack = noAck,
  ): Promise<Applied> {
    return this.apply(
      (data) => data.alerts[alertId],
      (record, data) => {
        const at = this.now();
        if (action === 'dismiss') return { type: 'DismissRequested', by, at };
        if (action === 'end') return { type: 'EndRequested', by, at };
        const personBusy = Object.values(data.alerts).some(
          (other) => other.id !== record.id && other.userId === record.userId && isOpen(other.chat),
        );
        return { type: 'StartRequested', by, at, personBusy };
      },
      dedupeKey,
      ack,
    );
  }

  /** A line typed by the analyst in `irbot chat`, sent to the person. */
  say(alertId: string, text: string, by: Actor): Promise<Applied> {
    return this.apply(
      (data) => data.alerts[alertId],
      () => ({ type: 'AnalystMessage', text, by, at: this.now() }),
    );
  }

  /** Drains every outbox left unfinished (by a crash, a Ctrl-C, a process that is gone, or a retry now due). */
  async recover(): Promise<void> {
    const data = await this.ports.store.read();
    const pending = Object.values(data.alerts).filter((a) => a.outbox.length > 0);
    await Promise.all(pending.map((a) => this.drain(a.id)));
  }

  /**
   * Lets time act: silent people are nudged, or their chats end as no answer. The deadline moves in the same
   * transaction, so it fires once however many processes tick.
   */
  async tick(): Promise<void> {
    const at = this.now();
    const due = (record: AlertRecord) =>
      record.chat.state === 'active' && step(record.chat, { type: 'Tick', at }, this.rules).effects.length > 0;
    // A read without the lock first: most ticks find nothing due and write nothing.
    if (!Object.values((await this.ports.store.read()).alerts).some(due)) return;
    const moved = await this.ports.store.transact((data) => {
      const ids: { id: string; what: string }[] = [];
      for (const record of Object.values(data.alerts)) {
        if (record.chat.state !== 'active') continue;
        const { chat, effects } = step(record.chat, { type: 'Tick', at }, this.rules);
        if (effects.length === 0) continue;
        record.chat = chat;
        enqueue(record, effects);
        record.lastActivityAt = at;
        ids.push({ id: record.id, what: chat.state === 'ended' ? 'chat ended: no answer' : `nudge ${chat.nudges}` });
      }
      return ids;
    });
    for (const { id, what } of moved) this.ports.log(`alert ${id}: silence, ${what}`);
    await Promise.all(moved.map(({ id }) => this.drain(id)));
  }

  /** Resolves when no effect is being performed by this process. */
  async idle(): Promise<void> {
    while (this.draining.size > 0) await Promise.allSettled([...this.draining.values()]);
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
  ): Promise<Applied> {
    const result = await this.ports.store.transact((data): Applied => {
      const now = this.ports.clock();
      if (dedupeKey !== undefined) {
        if (data.seenEvents[dedupeKey]) return { kind: 'duplicate' };
        forgetOldEvents(data, now.getTime());
        data.seenEvents[dedupeKey] = now.toISOString();
      }
      const record = locate(data);
      if (!record) return { kind: 'no_alert' };
      const event = build(record, data);
      const before = record.chat.state;
      const { chat, effects } = step(record.chat, event, this.rules);
      if (event.type === 'DirectMessage' && effects.length > 0) {
        record.transcript.push({ from: 'person', text: event.text, at: event.at });
      }
      record.chat = chat;
      enqueue(record, effects);
      if (effects.length > 0) record.lastActivityAt = now.toISOString();
      return { kind: 'applied', alertId: record.id, before, after: chat.state, effects: effects.length };
    });
    await ack();
    if (result.kind === 'applied' && result.effects > 0) await this.drain(result.alertId);
    return result;
  }

  /** Runs the alert's outbox; calls for the same alert queue behind each other in this process. */
  private drain(alertId: string): Promise<void> {
    const previous = this.draining.get(alertId) ?? Promise.resolve();
    const next = previous.then(() => this.drainLoop(alertId));
    this.draining.set(alertId, next);
    void next.finally(() => {
      if (this.draining.get(alertId) === next) this.draining.delete(alertId);
    });
    return next;
  }

  private async drainLoop(alertId: string): Promise<void> {
    const { store } = this.ports;
    for (;;) {
      const claimed = await store.transact((data) => {
        const record = data.alerts[alertId];
        const head = record?.outbox[0];
        if (!record || !head) return null;
        // Another live process is performing it and will carry on with the rest of this outbox.
        if (head.claim && head.claim.pid !== process.pid && isAlive(head.claim.pid)) return null;
        if (head.retryAt && head.retryAt > this.now()) return null; // the periodic recovery comes back for it
        head.claim = { pid: process.pid, at: this.now() };
        return { record: structuredClone(record), item: structuredClone(head) };
      });
      if (!claimed) return;
      let completion: Completion;
      try {
        completion = await this.perform(claimed.record, claimed.item.effect);
      } catch (err) {
        completion = this.failed(claimed.record, claimed.item, err);
      }
      const woken = await store.transact((data) => this.complete(data, alertId, claimed.item, completion));
      if (woken) await this.drain(woken);
      if (completion.retryAt) return;
    }
  }

  /** Turns an error into what happens next: a retry later, the effect given up, or the chat failed. */
  private failed(record: AlertRecord, item: OutboxItem, err: unknown): Completion {
    const failure = classifySlackError(err);
    const what = `alert ${record.id}: ${item.effect.type} failed with ${describeSlackFailure(failure)}`;
    const attempts = (item.attempts ?? 0) + 1;
    if (failure.kind === 'retry' && attempts < MAX_ATTEMPTS) {
      const delay = Math.min(1000 * 2 ** (attempts - 1), MAX_BACKOFF_MS);
      this.ports.log(`${what}; retrying in ${Math.round(delay / 1000)} s (attempt ${attempts} of ${MAX_ATTEMPTS})`);
      return { retryAt: new Date(this.ports.clock().getTime() + delay).toISOString(), attempts };
    }
    if (failure.kind === 'fatal') {
      this.ports.log(`${what}; the chat is marked failed, other chats go on`);
      return { events: [{ type: 'Failed', reason: describeSlackFailure(failure), at: this.now() }] };
    }
    this.ports.log(`${what}; gave up on this ${item.effect.type}`);
    return {};
  }

  /** Marks an effect done and applies what it produced; returns another alert to drain, if one was dequeued. */
  private complete(data: StoreData, alertId: string, item: OutboxItem, completion: Completion): string | undefined {
    const record = data.alerts[alertId];
    if (!record) return undefined;
    const index = record.outbox.findIndex((queued) => queued.seq === item.seq);
    if (index < 0) return undefined;
    const queued = record.outbox[index];
    if (completion.retryAt && queued) {
      // Stays at the head, in order, for the periodic recovery to try again.
      queued.claim = undefined;
      queued.retryAt = completion.retryAt;
      queued.attempts = completion.attempts;
      return undefined;
    }
    record.outbox.splice(index, 1);
    record.outbox.splice(index, 0, ...toItems(record, completion.next ?? []));
    if (completion.transcript) record.transcript.push(completion.transcript);
    if (completion.personName) record.personName = completion.personName;
    for (const event of completion.events ?? []) {
      const result = step(record.chat, event, this.rules);
      // A failed chat sends nothing more: what was queued for it would fail the same way.
      if (event.type === 'Failed') record.outbox = [];
      record.chat = result.chat;
      enqueue(record, result.effects);
    }
    record.lastActivityAt = this.now();
    if (item.effect.type !== 'StartNext') return undefined;
    // The person's next chat, oldest first, starts now that this one has ended.
    const next = Object.values(data.alerts)
      .filter((a) => a.userId === record.userId && a.chat.state === 'queued')
      .sort((a, b) => (a.chat.startedAt ?? '').localeCompare(b.chat.startedAt ?? ''))[0];
    if (!next) return undefined;
    const result = step(next.chat, { type: 'Dequeued', at: this.now() }, this.rules);
    next.chat = result.chat;
    enqueue(next, result.effects);
    return next.id;
  }

  private async perform(record: AlertRecord, effect: Effect): Promise<Completion> {
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
            ...fallbackNote(written, effect.type === 'Greet' ? 'greeting' : 'nudge'),
          ],
        };
      }
      case 'SendDm': {
        const text = effect.from === 'analyst' ? `*Message from the security team:* ${effect.text}` : effect.text;
        await slack.post({ channel: record.userId, text: escapeText(text) });
        return {
          transcript: { from: effect.from, text: effect.text, at: this.now(), ...(effect.by ? { by: effect.by } : {}) },
          next: [{ type: 'PostInThread', kind: 'sent', text: effect.text }],
        };
      }
      case 'PostInThread': {
        if (!record.ts) return {};
        await slack.post({
          channel: record.channelId,
          threadTs: record.ts,
          text: this.threadText(effect.kind, effect.text, record),
        });
        // Summaries and notes go into the transcript too: it is the case file, and what `irbot chat` shows.
        const shown = effect.kind === 'summary' ? `Summary: ${effect.text}` : effect.text;
        const isRecord = effect.kind === 'summary' || effect.kind === 'note';
        return isRecord ? { transcript: { from: 'system', text: shown, at: this.now() } } : {};
      }
      case 'Classify': {
        const facts = await this.facts(record);
        const verdict = await llm.classify(facts, linesOf(record.transcript));
        const event: ChatEvent = {
          type: 'Classified',
          hasAnswered: verdict.hasAnswered,
          isAware: verdict.isAware,
          upTo: effect.upTo,
          at: this.now(),
        };
        const note: Effect[] = verdict.fallbackReason
          ? [{ type: 'PostInThread', kind: 'note', text: classifyNote(verdict.fallbackReason) }]
          : [];
        return { personName: facts.personName, events: [event], next: note };
      }
      case 'Summarise': {
        const facts = await this.facts(record);
        const written = await llm.summarise(facts, linesOf(record.transcript), {
          outcome: record.chat.outcome ?? 'open',
          aware: record.chat.aware,
        });
        return {
          next: [{ type: 'PostInThread', kind: 'summary', text: written.text }, ...fallbackNote(written, 'summary')],
        };
      }
      case 'StartNext':
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
        return `_${escapeText(text)}_`;
      case 'escalation': {
        // Trusted mentions from config.toml, so they do ping.
        const mention = this.options.escalationMention ?? this.options.responders.map((id) => `<@${id}>`).join(' ');
        const nudges = `${record.chat.nudges} nudge${record.chat.nudges === 1 ? '' : 's'}`;
        return `:warning: No answer from <@${record.userId}> after ${nudges}.${mention ? ` ${mention}` : ''} Please follow up.`;
      }
    }
  }

  private async facts(record: AlertRecord): Promise<AlertFacts> {
    let personName = record.personName;
    if (!personName) {
      try {
        personName = await this.ports.slack.userName(record.userId);
      } catch (err) {
        this.ports.log(`users.info ${record.userId} failed, using the user ID as name: ${oneLine(err)}`);
        personName = record.userId;
      }
    }
    return { name: record.name, description: record.description, properties: record.properties, personName };
  }
}

export interface PostedAlert {
  alert: AlertRecord;
  /** True when an alert with the same dedupe key was already recorded: nothing was posted again. */
  duplicate: boolean;
}

export type Applied =
  | { kind: 'applied'; alertId: string; before: Chat['state']; after: Chat['state']; effects: number }
  | { kind: 'duplicate' }
  | { kind: 'no_alert' };

function describeOutcome(outcome: Applied): string {
  if (outcome.kind === 'duplicate') return 'already handled (re-delivery), dropped';
  if (outcome.kind === 'no_alert') return 'no open chat or alert for it, ignored';
  if (outcome.effects === 0) return `alert ${outcome.alertId} is ${outcome.before}, nothing to do`;
  return `alert ${outcome.alertId} ${outcome.before} → ${outcome.after}`;
}

function enqueue(record: AlertRecord, effects: Effect[]): void {
  record.outbox.push(...toItems(record, effects));
}

function toItems(record: AlertRecord, effects: Effect[]): OutboxItem[] {
  return effects.map((effect) => ({ seq: record.nextSeq++, effect }));
}

function forgetOldEvents(data: StoreData, now: number): void {
  for (const [key, at] of Object.entries(data.seenEvents)) {
    if (now - Date.parse(at) > SEEN_EVENTS_TTL_MS) delete data.seenEvents[key];
  }
}

function linesOf(transcript: TranscriptEntry[]): Line[] {
  return transcript.flatMap((entry) => (entry.from === 'system' ? [] : [{ from: entry.from, text: entry.text }]));
}

function fallbackNote(written: Written, task: string): Effect[] {
  if (!written.fallbackReason) return [];
  return [
    {
      type: 'PostInThread',
      kind: 'note',
      text: `The LLM was unavailable (${written.fallbackReason}), so irbot used its offline template for this ${task}.`,
    },
  ];
}

function classifyNote(reason: string): string {
  if (reason === MALFORMED_CLASSIFICATION) {
    return 'The LLM answered the classification in a malformed way; irbot counted the reply as not answered yet.';
  }
  return `The LLM could not judge this reply (${reason}); irbot used its offline rules instead.`;
}

/** Whether a process on this machine still runs; a claim of a dead one can be taken over. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
