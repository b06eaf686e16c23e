// Alerts in: records each alert instance, posts it to the feed channel (once, whatever crashes or retries), and
// posts later the alerts that a crash or a failure left unposted, asking Slack first whether each landed.
import { newChat } from '../chat/engine.js';
import type { Actor } from '../chat/types.js';
import type { AlertTemplate } from '../config/types.js';
import { oneLine } from '../log.js';
import { enqueue } from '../outbox.js';
import { alertPostKey, autoChatDue, isBeingPosted, releaseUnposted, takeUnposted, unpostedDue } from '../pending.js';
import { alertBlocks, alertHeadline } from '../slack/blocks.js';
import { classifySlackError, describeSlackFailure, requestFailureOf, SlackCallError } from '../slack/errors.js';
import type { PostedMessage } from '../slack/port.js';
import { activeSnoozeFor, untilText } from '../snoozes.js';
import { clonePlain } from '../store/clone.js';
import { type AlertRecord, alertsOf, archivedWithKey, findAlert, type Snooze, type StoreData } from '../store/port.js';
import { type AppContext, MAX_RATE_LIMITED_WAIT_MS } from './context.js';
import type { InboundEvents } from './inbound.js';
import type { Lanes } from './lanes.js';
import { Fenced, type Leases } from './leases.js';
import type { Moves } from './moves.js';

export class Intake {
  /** Alerts this process is posting now (their own post): another delivery of one waits for it. */
  private readonly postingAlerts = new Map<string, Flight>();

  constructor(
    private readonly ctx: AppContext,
    private readonly moves: Moves,
    private readonly lanes: Lanes,
    private readonly inbound: InboundEvents,
    private readonly leases: Leases,
  ) {}

  /**
   * Records a new alert instance, posts it to the feed channel, and its details in its thread. The record comes
   * first, marked pending: a crash or a failure that may have reached Slack leaves it for a retry of the same
   * dedupe key or the next `listen`, which ask Slack whether it landed before posting it, so it is posted once.
   */
  async postAlert(
    template: AlertTemplate,
    opts: { dedupeKey?: string; autoChat?: boolean } = {},
  ): Promise<PostedAlert> {
    const at = this.ctx.now();
    const since = this.ctx.monotonic(); // with `at`: when the claims it takes were made
    const { dedupeKey } = opts;
    const owner = Symbol('postAlert');
    const taken = await this.landing(owner, (data): Taking => {
      // A source that retries (a SIEM webhook) names the alert: the second delivery gets the first alert back,
      // once it is posted; until then, the delivery posts it.
      const earlier = dedupeKey ? alertsOf(data).find((a) => a.dedupeKey === dedupeKey) : undefined;
      if (earlier && (earlier.ts !== null || earlier.suppressed)) {
        // A retry of one a snooze kept from the feed is that same event: decided, not posted now either.
        const snooze = earlier.suppressed ? data.snoozes?.[earlier.suppressed.snoozeId] : undefined;
        return { kind: 'duplicate', record: earlier, ...(snooze ? { snooze: clonePlain(snooze) } : {}) };
      }
      // One that has left the working set (closed, then archived) is remembered by its key for a day more.
      const archived = !earlier && dedupeKey ? archivedWithKey(data, dedupeKey) : undefined;
      if (archived !== undefined) return { kind: 'archived_duplicate', id: archived };
      if (earlier) {
        const inFlight = this.postingAlerts.get(earlier.id);
        if (inFlight && inFlight.owner !== owner) return { kind: 'in_flight', id: earlier.id };
        if (isBeingPosted(earlier, at, this.ctx.claimant))
          return { kind: 'busy', id: earlier.id, pid: earlier.pending?.claim?.pid ?? 0 };
        const record = data.alerts[earlier.id] as AlertRecord; // fetched by id: the store writes what it changes
        takeUnposted(record, at, this.ctx.claimant);
        const flight = this.fly(record.id, owner);
        return { kind: 'post', record: clonePlain(record), recovered: true, flight, since };
      }
      let id = `${template.id}-${this.ctx.ports.newId()}`;
      while (data.alerts[id]) id = `${template.id}-${this.ctx.ports.newId()}`;
      const created: AlertRecord = {
        id,
        template: template.id,
        name: template.name,
        description: template.description,
        userId: template.userId,
        properties: template.properties,
        channelId: this.ctx.options.feedChannelId,
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
      const snooze = activeSnoozeFor(data, template, this.ctx.ports.clock());
      if (snooze) {
        delete created.pending;
        created.suppressed = { snoozeId: snooze.id, at };
        data.alerts[id] = created;
        this.moves.queueEvent(created, 'suppressed');
        return { kind: 'suppressed', record: clonePlain(created), snooze: clonePlain(snooze) };
      }
      takeUnposted(created, at, this.ctx.claimant);
      data.alerts[id] = created;
      return { kind: 'post', record: clonePlain(created), recovered: false, flight: this.fly(id, owner), since };
    });
    switch (taken.kind) {
      case 'duplicate':
        return { alert: taken.record, duplicate: true, ...(taken.snooze ? { suppressed: taken.snooze } : {}) };
      case 'archived_duplicate': {
        const alert = await findAlert(this.ctx.ports.store, taken.id);
        if (!alert) {
          throw new Error(
            `alert ${taken.id}, posted before with dedupe_key ${JSON.stringify(dedupeKey)}, is no longer in the archive: not posted again`,
          );
        }
        // Kept from the feed by a snooze, as the one in the working set would say (snoozes are never deleted).
        const snoozeId = alert.suppressed?.snoozeId;
        const snooze = snoozeId ? (await this.ctx.ports.store.read()).snoozes?.[snoozeId] : undefined;
        return { alert, duplicate: true, ...(snooze ? { suppressed: snooze } : {}) };
      }
      case 'suppressed': {
        this.moves.kickDeliveries();
        const { snooze } = taken;
        const why = `snooze ${snooze.id} (until ${untilText(snooze.until)}: ${snooze.reason})`;
        this.ctx.ports.log(`alert ${taken.record.id}: suppressed by ${why}, not posted`, {
          event: 'suppressed',
          alert: taken.record.id,
        });
        return { alert: taken.record, duplicate: false, suppressed: taken.snooze };
      }
      case 'in_flight': {
        // This process is posting it right now (another delivery, or the sweep): its outcome is this one's.
        const alert = await this.postingAlerts.get(taken.id)?.done;
        // Its post failed (Slack down, say): a retry is the source's to make, as a busy one's (webhook: 503).
        if (!alert) {
          throw new AlertBusyError(
            taken.id,
            process.pid,
            `alert ${taken.id} with this dedupe_key could not be posted yet by the delivery before this one; try again shortly`,
          );
        }
        return { alert, duplicate: true };
      }
      case 'busy':
        throw new AlertBusyError(taken.id, taken.pid);
      case 'post':
        return { alert: await this.postTaken(taken, false), duplicate: false };
    }
  }

  /**
   * A transaction that takes alerts for posting: what a run of it marked in flight is let go again if it fails,
   * and when it runs again (a store runs a batch again after a change in it threw, or after another process's
   * commit came in between): a new alert then gets a new id.
   */
  private async landing<T>(owner: symbol, change: (data: StoreData) => T): Promise<T> {
    const ground = () => {
      for (const [id, flight] of this.postingAlerts) {
        if (flight.owner !== owner) continue;
        this.postingAlerts.delete(id);
        flight.settle(undefined);
      }
    };
    try {
      return await this.ctx.ports.store.transact((data) => {
        ground();
        return change(data);
      });
    } catch (err) {
      ground();
      throw err;
    }
  }

  /** Marks an alert as being posted by this process, from inside the transaction that takes it. */
  private fly(id: string, owner: symbol): Flight {
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
    const { store, slack, log } = this.ctx.ports;
    const { record, recovered, flight } = taken;
    const key = alertPostKey(record.id);
    let saved: AlertRecord | undefined;
    const hold = this.leases.hold(record.id, (stored) => [stored.pending?.claim], taken.since);
    try {
      let posted: PostedMessage | undefined;
      try {
        if (recovered) {
          posted = await this.ctx.whenSlackAllows('conversations.history', record.channelId, () => {
            // The first page has its turn already; each later one waits for its own (1 a minute on some installs).
            let page = 0;
            const beforeCall = async (method: string) => {
              if (page++ > 0) await this.ctx.pacer.take(method, record.channelId);
            };
            return slack.findPost({ channel: record.channelId, key, since: record.createdAt, beforeCall });
          });
          if (posted)
            log(`alert ${record.id}: its post had landed before a crash, not posted again`, {
              event: 'recovered_post',
              alert: record.id,
            });
        }
        posted ??= await this.ctx.whenSlackAllows('chat.postMessage', record.channelId, async () => {
          await this.leases.fence(hold); // another run may have taken it over while this one waited
          return slack.post({
            channel: record.channelId,
            text: alertHeadline(record),
            blocks: alertBlocks(record),
            key,
          });
        });
      } catch (err) {
        if (err instanceof Fenced) throw err; // the other run asks Slack whether it landed: nothing to undo here
        const drop = !recovered && neverPosted(err);
        await store.transact((data) => {
          const stored = data.alerts[record.id];
          if (!stored || stored.ts !== null) return;
          if (drop) delete data.alerts[record.id];
          else releaseUnposted(stored, this.ctx.ports.clock(), backOff, describeSlackFailure(classifySlackError(err)));
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
        this.moves.queueEvent(stored, 'posted');
        return clonePlain(stored);
      });
      this.moves.kickDeliveries();
    } finally {
      this.leases.release(hold);
      this.postingAlerts.delete(record.id);
      flight.settle(saved);
    }
    await this.lanes.drain(record.id, ['thread']);
    if (this.ctx.ports.oneShot) await this.detailsPosted(record.id);
    return saved;
  }

  /** Starts the chat of an auto_chat alert posted after a crash, or whose poster died before starting it. */
  private async startAutoChat(id: string): Promise<void> {
    try {
      const applied = await this.inbound.request(id, 'start', AUTO_CHAT_ACTOR);
      if (applied.kind === 'applied' && applied.effects > 0)
        this.ctx.ports.log(`alert ${id}: auto_chat started the chat left by a crash`, {
          event: 'auto_chat',
          alert: id,
        });
    } catch (err) {
      this.ctx.ports.log(`alert ${id}: auto_chat failed: ${oneLine(err)}`, {
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
  async postUnposted(seen: StoreData): Promise<void> {
    const at = this.ctx.now();
    const since = this.ctx.monotonic();
    const { claimant } = this.ctx;
    const due = (data: StoreData) => unpostedDue(data, at, claimant).filter((r) => !this.postingAlerts.has(r.id));
    const starts = autoChatDue(seen, at, claimant).filter((r) => !this.postingAlerts.has(r.id));
    await Promise.all(starts.map(({ id }) => this.startAutoChat(id)));
    if (due(seen).length === 0) return;
    const owner = Symbol('postUnposted');
    const taken = await this.landing(owner, (data) =>
      due(data).map((found): Extract<Taking, { kind: 'post' }> => {
        const record = data.alerts[found.id] as AlertRecord;
        takeUnposted(record, at, claimant);
        const flight = this.fly(record.id, owner);
        return { kind: 'post', record: clonePlain(record), recovered: true, flight, since };
      }),
    );
    await Promise.all(
      taken.map(async (one) => {
        const { id } = one.record;
        try {
          const alert = await this.postTaken(one, true);
          this.ctx.ports.log(`alert ${id}: posted after a crash or a failure`, { event: 'alert_recovered', alert: id });
          if (one.record.pending?.autoChat) await this.startAutoChat(alert.id);
        } catch (err) {
          this.ctx.ports.log(`alert ${id}: still not posted: ${oneLine(err)}`, {
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
      const outbox = (await this.ctx.ports.store.read()).alerts[alertId]?.outbox ?? [];
      const details = outbox.find((item) => item.effect.type === 'PostInThread' && item.effect.kind === 'details');
      if (details?.retryAt === undefined) return;
      const ms = Math.max(0, Date.parse(details.retryAt) - this.ctx.ports.clock().getTime());
      if (waited + ms > MAX_RATE_LIMITED_WAIT_MS) return; // left to the next `irbot listen`
      waited += ms;
      this.ctx.slackWait('chat.postMessage', ms);
      await this.ctx.sleep(ms);
      await this.lanes.drain(alertId, ['thread']);
    }
  }
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
  | { kind: 'duplicate'; record: AlertRecord; snooze?: Snooze }
  | { kind: 'archived_duplicate'; id: string }
  | { kind: 'suppressed'; record: AlertRecord; snooze: Snooze }
  | { kind: 'in_flight'; id: string }
  | { kind: 'busy'; id: string; pid: number }
  | { kind: 'post'; record: AlertRecord; recovered: boolean; flight: Flight; since: number };

/** Another live irbot process is posting the alert with this dedupe key right now: try again shortly. */
export class AlertBusyError extends Error {
  override readonly name = 'AlertBusyError';

  constructor(
    readonly alertId: string,
    readonly pid: number,
    message = `alert ${alertId} with this dedupe_key is being posted by irbot process ${pid}; try again shortly`,
  ) {
    super(message);
  }
}

/** Slack refused the post, or the request provably never reached Slack: nothing was posted. */
function neverPosted(err: unknown): boolean {
  const request = requestFailureOf(err);
  if (request) return request.neverSent;
  // Slack's own "something went wrong" answers: it documents that some of the call may have happened first.
  const code = (err as { data?: { error?: unknown } } | null)?.data?.error;
  if (typeof code === 'string' && MAY_HAVE_ACTED.has(code)) return false;
  // Slack answered (an error code, a 429, a 4xx): it did not post. A 5xx may come from a proxy after Slack acted.
  const status = (err as { statusCode?: unknown } | null)?.statusCode;
  return !(typeof status === 'number' && status >= 500);
}

/** Error codes after which, Slack's docs say, "it's possible some aspect of the operation succeeded". */
const MAY_HAVE_ACTED = new Set(['internal_error', 'fatal_error', 'service_unavailable', 'request_timeout']);

export interface PostedAlert {
  alert: AlertRecord;
  /** True when an alert with the same dedupe key was already recorded: nothing was posted again. */
  duplicate: boolean;
  /**
   * The snooze that matched it: recorded as suppressed, not posted (src/snoozes.ts); for a duplicate, the one that
   * kept the first delivery of its key from the feed.
   */
  suppressed?: Snooze;
}
