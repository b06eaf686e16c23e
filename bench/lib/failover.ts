// The failover of a campaign: one replica killed (kill -9) mid-campaign, what it held then (its claims in the
// store), and how long until its chats moved on: each one's next Slack message, and the last of its claims taken
// over by another replica.
import type { BenchDatabase } from './pg-database.js';
import type { Replica, Replicas } from './replicas.js';
import { round, sleep, summary } from './stats.js';

/** How often the store is asked whether the dead replica still holds claims: the resolution of takenOverMs. */
const POLL_MS = 100;

/** Alerts whose outbox items or own post the process `pid` holds a claim on. */
const HELD_SQL = `
SELECT DISTINCT alert_id AS id FROM irbot_outbox WHERE claim->>'pid' = $1
UNION SELECT id FROM irbot_alerts WHERE NOT archived AND doc->'pending'->'claim'->>'pid' = $1`;

/** What it still held some seconds after its death: each item with the lane's items before it. */
const LINGERING_SQL = `
SELECT o.alert_id, o.seq, o.effect->>'type' AS type, o.effect->>'kind' AS kind, o.claim->>'until' AS until,
  (SELECT json_agg(json_build_array(p.seq, p.effect->>'type', p.claim->>'pid', p.retry_at) ORDER BY p.pos)
   FROM irbot_outbox p WHERE p.alert_id = o.alert_id AND p.pos < o.pos) AS before
FROM irbot_outbox o WHERE o.claim->>'pid' = $1 LIMIT 5`;

/** How long after its death the items it still held are listed (`lingering`): well past its leases. */
const LINGER_AFTER_MS = 15_000;

/** A DM to the person, a post in the alert's thread, or an update of the alert message. */
export type MessageKind = 'dm' | 'thread' | 'update';

export interface FailoverReport {
  victim: { replica: number; host: string; pid: number };
  /** Since the first click: kill sent, process gone. */
  killedAtS: number;
  goneAtS: number;
  /** Chats it held claims on when it died. */
  heldChats: number;
  /** Of those, chats with a Slack message since its death. */
  movedOn: number;
  /** Per held chat: from its death to the chat's next Slack message. */
  moveOnMs: ReturnType<typeof summary> | null;
  /** The same, by what that next message was. */
  moveOnByKindMs: Partial<Record<MessageKind, ReturnType<typeof summary>>>;
  /** From its death until none of its claims was left in the store (every POLL_MS); null: never within the run. */
  allTakenOverMs: number | null;
  /** Some of the outbox items it still held LINGER_AFTER_MS after its death, with what was queued before each. */
  lingering: unknown[];
}

export class Failover {
  private victim: Replica | undefined;
  private killedAt: number | undefined;
  private goneAt: number | undefined;
  private held: string[] | undefined;
  private takenOverAt: number | undefined;
  private lingering: unknown[] = [];
  private readonly firstAfter = new Map<string, { at: number; kind: MessageKind }>();
  private running: Promise<void> | undefined;
  private stopped = false;

  /** A Slack message of the chat whose alert message is `root`, at `at` ms since the first click. */
  sawMessage(root: string, at: number, kind: MessageKind): void {
    if (this.goneAt !== undefined && at >= this.goneAt && !this.firstAfter.has(root)) {
      this.firstAfter.set(root, { at, kind });
    }
  }

  /** Kills the second replica and follows its claims; `now` is ms since the first click. */
  start(deployment: { replicas: Replicas; db: BenchDatabase }, rootOfId: Map<string, string>, now: () => number): void {
    if (this.running) return;
    const victim = deployment.replicas.list[1] ?? deployment.replicas.list[0];
    if (!victim) return;
    this.victim = victim;
    this.running = (async () => {
      this.killedAt = now();
      await deployment.replicas.kill(victim);
      this.goneAt = now();
      const pid = String(victim.pid);
      const rows = await deployment.db.sql<{ id: string }>(HELD_SQL, [pid]);
      this.held = rows.map((r) => rootOfId.get(r.id) ?? r.id);
      for (let left = rows.length; left > 0 && !this.stopped; ) {
        await sleep(POLL_MS);
        left = (await deployment.db.sql(HELD_SQL, [pid])).length;
        if (left === 0) this.takenOverAt = now();
        else if (this.lingering.length === 0 && now() - (this.goneAt ?? 0) > LINGER_AFTER_MS) {
          this.lingering = await deployment.db.sql(LINGERING_SQL, [pid]);
        }
      }
      if (rows.length === 0) this.takenOverAt = this.goneAt;
    })();
  }

  /** Stops following the claims; null when no replica was killed. */
  async report(): Promise<FailoverReport | null> {
    this.stopped = true;
    await this.running?.catch(() => undefined);
    const { victim, killedAt, goneAt, held } = this;
    if (!victim || killedAt === undefined || goneAt === undefined || held === undefined) return null;
    const firsts = held.flatMap((root) => {
      const first = this.firstAfter.get(root);
      return first === undefined ? [] : [{ ms: first.at - goneAt, kind: first.kind }];
    });
    const moveOn = firsts.map((f) => f.ms);
    const byKind: Partial<Record<MessageKind, ReturnType<typeof summary>>> = {};
    for (const kind of ['dm', 'thread', 'update'] as const) {
      const of = firsts.filter((f) => f.kind === kind).map((f) => f.ms);
      if (of.length > 0) byKind[kind] = summary(of);
    }
    return {
      victim: { replica: victim.index, host: victim.host, pid: victim.pid },
      killedAtS: round(killedAt / 1000, 2),
      goneAtS: round(goneAt / 1000, 2),
      heldChats: held.length,
      movedOn: moveOn.length,
      moveOnMs: moveOn.length > 0 ? summary(moveOn) : null,
      moveOnByKindMs: byKind,
      allTakenOverMs: this.takenOverAt === undefined ? null : round(this.takenOverAt - goneAt, 0),
      lingering: this.lingering,
    };
  }
}
