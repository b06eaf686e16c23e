// Drains each alert's outbox lanes in this process: one loop per lane and alert, each claiming the lane's head in
// a transaction, performing it, and recording it done (with the next head) in the next; retries come back by timer.
import { isClosed } from '../chat/engine.js';
import type { ChatState, Effect } from '../chat/types.js';
import { oneLine } from '../log.js';
import { type Claimed, claim, complete, extend, LANES, type Lane, pacedBeforehand, slackCallOf } from '../outbox.js';
import type { AlertRecord, OutboxItem, StoreData } from '../store/port.js';
import type { AppContext } from './context.js';
import type { Effects } from './effects.js';
import { Fenced, type Hold, type Leases } from './leases.js';
import type { Escalated, Moves } from './moves.js';

/** Lanes of alerts that got new work in a transaction. */
export interface Work {
  id: string;
  lanes: Lane[];
}

/** A lane's head claimed in a transaction, and when (monotonic): its lease runs from then. */
interface Taken {
  claimed: Claimed;
  at: number;
}

/** What `claimIdle` took for one lane: its head, or null when it found nothing to take. */
export interface LaneClaim {
  id: string;
  lane: Lane;
  taken: Taken | null;
  /** `lanesStarted` when it was taken. */
  since: number;
}

export class Lanes {
  /** Lanes being drained by this process: asking again while one runs makes it look once more. */
  private readonly draining = new Map<string, { done: Promise<void>; again: boolean }>();
  /** Lane loops this process has started: tells a claim taken in a transaction whether it may be stale. */
  private lanesStarted = 0;
  /**
   * Claims of ours whose effect was performed but whose record failed (the store went away): taken again, their
   * posts are first looked for in Slack, as another run's would be. By alert, item and claim time.
   */
  private readonly leftOver = new Set<string>();

  constructor(
    private readonly ctx: AppContext,
    private readonly moves: Moves,
    private readonly effects: Effects,
    private readonly leases: Leases,
  ) {}

  /** Resolves when no effect is being performed by this process. */
  async idle(): Promise<void> {
    while (this.draining.size > 0) await Promise.allSettled([...this.draining.values()].map((d) => d.done));
  }

  /**
   * In the transaction that gave them work: takes the heads of the lanes this process is not draining yet,
   * which saves each lane a transaction of its own to claim them.
   */
  claimIdle(data: StoreData, work: Work[]): LaneClaim[] {
    const since = this.lanesStarted;
    return work.flatMap(({ id, lanes }) =>
      lanes
        .filter((lane) => !this.draining.has(`${id}/${lane}`))
        .map((lane) => ({ id, lane, taken: this.take(data, id, lane), since })),
    );
  }

  /** Claims the lane's head for this App, in the caller's transaction. */
  private take(data: StoreData, alertId: string, lane: Lane): Taken | null {
    const at = this.ctx.monotonic();
    const leftOver = (item: OutboxItem) => this.leftOver.has(leftOverKey(alertId, item));
    const claimed = claim(data, alertId, lane, this.ctx.now(), this.ctx.claimant, leftOver);
    return claimed ? { claimed, at } : null;
  }

  /**
   * Drains the lanes that got work, from what `claimIdle` took for them; a lane it found empty needs nothing.
   * A claim is used only if no lane loop started since it was taken: one that did (a sweep, a timer, another
   * event) may have performed that very head, and this process's own claims do not keep its loops apart.
   */
  async startLanes(work: Work[], claims: LaneClaim[]): Promise<void> {
    const current = claims.filter((c) => c.since === this.lanesStarted);
    const runs = work.flatMap(({ id, lanes }) =>
      lanes.flatMap((lane) => {
        const taken = current.find((c) => c.id === id && c.lane === lane);
        if (taken && !taken.taken) return [];
        return [this.drainLane(id, lane, taken?.taken ?? undefined)];
      }),
    );
    await Promise.all(runs);
  }

  /** A lane loop that failed (the store could not be read or written): its work stays queued for the sweep. */
  laneFailed(err: unknown): void {
    this.ctx.ports.log(`a lane stopped on a store error, its work stays queued for the sweep: ${oneLine(err)}`, {
      event: 'lane_failed',
      level: 'error',
    });
  }

  /** Runs every lane of the alert's outbox. */
  drain(alertId: string, lanes: readonly Lane[] = LANES): Promise<void> {
    return Promise.all(lanes.map((lane) => this.drainLane(alertId, lane))).then(() => undefined);
  }

  /**
   * One loop per lane and alert in this process; a call while it runs makes it look once more when done.
   * `first`: the lane's head, claimed already by the caller's transaction.
   */
  private drainLane(alertId: string, lane: Lane, first?: Taken): Promise<void> {
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
   * most a claim or a completion, and the effect is redone, or asked of Slack whether it landed): a claim is
   * durable before its effect can be seen, by a synced commit when the transaction takes a Slack call or a push
   * (`actedOnOutside`), and by a flush before each call when more was written since.
   */
  private async runLane(alertId: string, lane: Lane, first?: Taken): Promise<void> {
    const { store } = this.ctx.ports;
    let taken =
      first ??
      (await store.transact((data) => this.take(data, alertId, lane), {
        sync: (taken) => actedOnOutside(lane, taken?.claimed),
      }));
    while (taken) {
      const hold = this.leases.hold(alertId, claimsOf(taken.claimed.items), taken.at);
      try {
        taken = await this.runHead(alertId, lane, taken.claimed, hold);
      } catch (err) {
        if (!(err instanceof Fenced)) throw err;
        // Another run took the work over (this one was paused past its lease): it carries on with the lane.
        return;
      } finally {
        this.leases.release(hold);
      }
    }
  }

  /** Performs a lane's head under `hold`, records it done and takes the next head. */
  private async runHead(alertId: string, lane: Lane, first: Claimed, hold: Hold): Promise<Taken | null> {
    const { ctx, moves, leases } = this;
    const { store } = ctx.ports;
    let claimed = first;
    const call = pacedBeforehand(lane, claimed) ? slackCallOf(claimed.items[0]?.effect, claimed.record) : undefined;
    // A closed chat's last posts go first when the budget is short: one message then carries all its lines. Posts
    // taken over from a run that died or stalled go before those: they have waited out its lease already.
    const { chat } = claimed.record;
    const { recovered } = first;
    const isFinal = () => recovered || isClosed(chat) || moves.sawClose(alertId);
    let tokenAt = 0;
    let waited = 0;
    if (call) {
      if (ctx.ports.slack.ready) await ctx.ports.slack.ready();
      waited = await ctx.pacer.take(call.method, call.channel, isFinal, recovered);
      tokenAt = ctx.monotonic();
      // While it waited for Slack's budget, more may have queued up behind it: it goes out in the same call.
      const before = claimed;
      if (waited > 0) {
        const extended = await store.transact(
          (data) => extend(data, alertId, lane, before, ctx.now(), ctx.claimant),
          LAX,
        );
        claimed = extended ?? before;
        hold.claims = claimsOf(claimed.items);
      }
    }
    const { items } = claimed;
    const [head] = items;
    if (!head) return null;
    // A claim (and a push's txid) is durable before its effect can be seen: a restart never does it twice.
    if (actedOnOutside(lane, claimed)) await store.flush();
    // Another run may have taken it over while this one waited (for Slack's budget, or paused): not done twice.
    await leases.fence(hold);
    // A token held while the store was busy (extending the batch, flushing, renewing the lease) goes back rather
    // than reach Slack late; after waiting for a fresh one, the lease is looked at again.
    const retaken = call && ctx.pacer.retake(call.method, call.channel, ctx.monotonic() - tokenAt, isFinal, waited);
    if (retaken && (await retaken) > 0) await leases.fence(hold);
    const attempt = await this.effects.run(lane, claimed, () => leases.fence(hold));
    const { completion } = attempt;
    // Recording this effect done, taking the next one and the heads of other lanes it woke is one transaction.
    const said: Escalated[] = [];
    // Performed, until recorded: if the store fails now, whoever takes it again first looks for it in Slack.
    const keys = items.map((item) => leftOverKey(alertId, item));
    for (const key of keys) this.leftOver.add(key);
    const recorded = await store.transact((data) => {
      said.length = 0;
      hold.done = false;
      // Taken over meanwhile: what this run did is the taker's to find out (it asks Slack what landed).
      if (takenOver(data.alerts[alertId], items, ctx)) return null;
      // A renewal whose transaction runs after this one finds these claims gone: finished, not taken over.
      hold.done = true;
      const was = data.alerts[alertId]?.chat;
      const moved = (record: AlertRecord, before: ChatState, effects: Effect[]) =>
        moves.moved(record, before, effects, data);
      const woken = complete(data, alertId, items, completion, ctx.rules, ctx.now(), moved);
      if (head.effect.type === 'Summarise' && completion.retryAt === undefined)
        moves.summaryWritten(data, alertId, completion);
      const record = data.alerts[alertId];
      // A chat that failed on the feed channel itself cannot be pinged there (PagerDuty still can be).
      const threadReachable = !completion.events?.some((e) => e.type === 'Failed' && !e.feedReachable);
      if (record && was && moves.escalate(record, was, said, { threadReachable })) {
        const own = woken.find((w) => w.id === alertId);
        if (own && !own.lanes.includes('thread')) own.lanes.push('thread');
      }
      moves.noteIfClosed(data.alerts[alertId]);
      const others = woken
        .map(({ id, lanes }) => ({ id, lanes: lanes.filter((l) => id !== alertId || l !== lane) }))
        .filter(({ lanes }) => lanes.length > 0);
      // A retry due at once (Slack's Retry-After: 0) goes on here; a later one waits for its timer.
      const later = completion.retryAt !== undefined && completion.retryAt > ctx.now();
      const next = later ? null : this.take(data, alertId, lane);
      return { woken: others, next, claims: this.claimIdle(data, others) };
    }, recordedSync(lane));
    for (const key of keys) this.leftOver.delete(key);
    if (!recorded) throw new Fenced(alertId);
    const { woken, next, claims } = recorded;
    attempt.committed?.();
    moves.kickDeliveries();
    moves.logEscalated(said);
    this.startLanes(woken, claims).catch((err) => this.laneFailed(err));
    const due = completion.retryAt ? Date.parse(completion.retryAt) - ctx.ports.clock().getTime() : 0;
    if (due > 0) ctx.schedule(due, () => void this.drainLane(alertId, lane).catch((err) => this.laneFailed(err)));
    return next;
  }
}

/** An effect recorded done with the heads it took next: synced when one of those is acted on outside the store. */
function recordedSync(lane: Lane) {
  return {
    sync: (recorded: { next: Taken | null; claims: LaneClaim[] } | null) =>
      recorded !== null &&
      (actedOnOutside(lane, recorded.next?.claimed) ||
        recorded.claims.some((c) => actedOnOutside(c.lane, c.taken?.claimed))),
  };
}

function leftOverKey(alertId: string, item: OutboxItem): string {
  return `${alertId}/${item.seq}/${item.claim?.at}`;
}

/** Lane transactions are not fsynced one by one (see `runLane`). */
const LAX = { sync: false };

/**
 * Whether the lane's head just taken is acted on outside the store: a claim (and a push's txid) must be durable
 * before its effect can be seen. Its transaction is then synced, and the flush before the call costs nothing.
 */
function actedOnOutside(lane: Lane, claimed: Claimed | undefined): boolean {
  if (!claimed?.items[0]) return false;
  return lane === 'verify' || slackCallOf(claimed.items[0].effect, claimed.record) !== undefined;
}

/** Whether any of these items is still queued under a claim that is not this App's (or under none). */
function takenOver(record: AlertRecord | undefined, items: OutboxItem[], ctx: AppContext): boolean {
  const seqs = new Set(items.map((item) => item.seq));
  return (record?.outbox ?? []).some(
    (item) => seqs.has(item.seq) && !(item.claim !== undefined && ctx.claimant.isOurs(item.claim)),
  );
}

/** The claims of these items as stored on the alert (undefined: an item gone, done or dropped). */
function claimsOf(items: OutboxItem[]): (record: AlertRecord) => (OutboxItem['claim'] | undefined)[] {
  const seqs = items.map((item) => item.seq);
  return (record) => seqs.map((seq) => record.outbox.find((item) => item.seq === seq)?.claim);
}
