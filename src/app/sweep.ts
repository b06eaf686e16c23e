// What a serving process does now and then, and at start: drains the outboxes left unfinished, posts the alerts
// left unposted, and lets time act (nudges, deadlines, archiving); every due item is acted on in a transaction.
import { isClosed, step } from '../chat/engine.js';
import type { Chat, ChatEvent, ChatState } from '../chat/types.js';
import { hasFailedDeliveries, hasPendingDeliveries } from '../deliver/queue.js';
import { enqueue, headToTake, LANES } from '../outbox.js';
import { type AlertRecord, alertsOf, alertsOfPerson, archiveAlert, type StoreData } from '../store/port.js';
import type { AppContext } from './context.js';
import type { Intake } from './intake.js';
import type { Lanes } from './lanes.js';
import type { Escalated, Moves } from './moves.js';

/** How long a closed chat stays in the working set (for `irbot status` and `irbot chat`) before it is archived. */
export const ARCHIVE_AFTER_MS = 10 * 60 * 1000;
/** A failed chat waits for someone to follow up: plain `irbot status` lists it for a day. */
export const FAILED_ARCHIVE_AFTER_MS = 24 * 60 * 60 * 1000;

export class Sweep {
  constructor(
    private readonly ctx: AppContext,
    private readonly moves: Moves,
    private readonly lanes: Lanes,
    private readonly intake: Intake,
  ) {}

  /**
   * Drains every outbox left unfinished (by a crash, a Ctrl-C, a process that is gone, or a retry now due), and
   * posts the alerts left unposted.
   */
  async recover(seen?: StoreData): Promise<void> {
    const data = seen ?? (await this.ctx.ports.store.read());
    // Only the lanes with a head to take, as read: each drained lane is a transaction, and with several replicas
    // most heads are another's under way (the transaction looks again before it takes one).
    const now = this.ctx.now();
    const work = Object.values(data.alerts).flatMap((a) => {
      const lanes = LANES.filter((lane) => headToTake(a, lane, now, this.ctx.claimant) !== undefined);
      return lanes.length > 0 ? [{ id: a.id, lanes }] : [];
    });
    await Promise.all([...work.map(({ id, lanes }) => this.lanes.drain(id, lanes)), this.intake.postUnposted(data)]);
  }

  /** What a serving process does now and then: recover and tick, from one read of the store. */
  async sweep(): Promise<void> {
    const data = await this.ctx.ports.store.read();
    this.ctx.ports.deliveries?.kick(data);
    await Promise.all([this.recover(data), this.tick(data)]);
  }

  /**
   * Lets time act: silent people are nudged, or their chats end as no answer. The deadline moves in the same
   * transaction, so it fires once however many processes tick.
   */
  async tick(seen?: StoreData): Promise<void> {
    const at = this.ctx.now();
    // Active chats wait on the person's silence, scheduled ones on their working hours.
    const ticking = (record: AlertRecord) => record.chat.state === 'active' || record.chat.state === 'scheduled';
    // A scheduled chat whose hour comes while another of the person's is under way (an urgent one) waits its turn.
    const tickOf = (data: StoreData, record: AlertRecord): ChatEvent => {
      const busy =
        record.chat.state === 'scheduled' &&
        alertsOfPerson(data, record.userId).some((other) => other.id !== record.id && other.chat.state === 'active');
      return { type: 'Tick', at, ...(busy ? { personBusy: true } : {}) };
    };
    const due = (data: StoreData, record: AlertRecord) =>
      ticking(record) && step(record.chat, tickOf(data, record), this.ctx.rules).effects.length > 0;
    // An alert stays while its deliveries are pending (at most RETRY_FOR_MS), and for a day when one failed, as a
    // failed chat does: plain `irbot status` lists it.
    const done = (record: AlertRecord) =>
      (isClosed(record.chat) || record.suppressed !== undefined) &&
      record.outbox.length === 0 &&
      !hasPendingDeliveries(record) &&
      Date.parse(at) - Date.parse(record.chat.endedAt ?? record.lastActivityAt) >=
        (record.chat.state === 'failed' || hasFailedDeliveries(record) ? FAILED_ARCHIVE_AFTER_MS : ARCHIVE_AFTER_MS);
    // A read without the lock first: most ticks find nothing due and write nothing.
    const read = seen ?? (await this.ctx.ports.store.read());
    if (!Object.values(read.alerts).some((a) => due(read, a) || done(a))) return;
    const said: Escalated[] = [];
    const moved = await this.ctx.ports.store.transact((data) => {
      said.length = 0;
      const ids: { id: string; what: string }[] = [];
      // Closed chats leave the working set, which every transaction reads and writes, for the archive.
      for (const record of alertsOf(data)) if (done(record)) archiveAlert(data, record.id, at);
      for (const found of alertsOf(data)) {
        if (!ticking(found)) continue;
        const { chat, effects } = step(found.chat, tickOf(data, found), this.ctx.rules);
        if (effects.length === 0) continue;
        const record = data.alerts[found.id] as AlertRecord; // fetched by id: the store writes what it changes
        const before = record.chat.state;
        const was = record.chat;
        record.chat = chat;
        enqueue(record, effects);
        this.moves.moved(record, before, effects, data);
        this.moves.escalate(record, was, said);
        this.moves.noteIfClosed(record);
        record.lastActivityAt = at;
        ids.push({ id: record.id, what: tickWords(before, chat) });
      }
      return ids;
    });
    this.moves.kickDeliveries();
    for (const { id, what } of moved) this.ctx.ports.log(`alert ${id}: ${what}`, { event: 'silence', alert: id });
    this.moves.logEscalated(said);
    await Promise.all(moved.map(({ id }) => this.lanes.drain(id)));
  }
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
