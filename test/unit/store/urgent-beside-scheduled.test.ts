// On both stores: an urgent alert's chat starts at once while the person's routine chat waits for their working
// hours (PostgreSQL's one-chat-per-person constraint refused that commit until migration 14, so the urgent chat
// never started); and "Start Chat now" on the routine chat while the urgent one goes on queues it (it made two
// active chats writing to the person at once), to start when the urgent one ends, at any hour.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Inbound } from '../../../src/slack/envelope.js';
import { openLowdbStore } from '../../../src/store/lowdb-store.js';
import { openPgStore } from '../../../src/store/pg/pg-store.js';
import type { AlertRecord, Store } from '../../../src/store/port.js';
import { fakeClock, PIVOT, testApp } from '../../support/memory-ports.js';
import { createTestDatabase } from '../../support/pg.js';

/** A database of its own for each test: the same person's chats from another test would make them busy. */
const dbs: Awaited<ReturnType<typeof createTestDatabase>>[] = [];
const opened: Store[] = [];
afterAll(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close?.()));
  await Promise.all(dbs.splice(0).map((db) => db.drop()));
});

const OFFICE = { start: 9 * 60, end: 18 * 60, days: [1, 2, 3, 4, 5] };
let clicks = 0;

describe.each([
  ['lowdb', async () => openLowdbStore(join(await mkdtemp(join(tmpdir(), 'irbot-urgent-')), 'db.json'))],
  [
    'PostgreSQL',
    async () => {
      const db = await createTestDatabase();
      dbs.push(db);
      return openPgStore(db.url, { poolSize: 2 });
    },
  ],
] as const)('an urgent chat beside a scheduled one: %s', (_name, open) => {
  /** An app on the store, on Thursday 22:40 in Paris (the test Slack's person is in Europe/Paris). */
  async function night() {
    const store = await open();
    opened.push(store);
    const clock = fakeClock('2026-11-26T21:40:00.000Z');
    const t = testApp({ workingHours: OFFICE, maxWaitMs: 12 * 3_600_000 }, undefined, undefined, {
      clock: clock.now,
      store,
    });
    const press = (alert: { id: string; ts: string | null }, action: 'start' | 'start_now' = 'start'): Inbound => ({
      kind: 'button',
      action,
      alertId: alert.id,
      userId: 'U0ANALYST',
      channelId: 'C0FEED',
      messageTs: alert.ts ?? undefined,
      dedupeKey: `action:${action}:${alert.id}:${++clicks}`,
    });
    const stateOf = async (id: string) => ((await store.read()).alerts[id] as AlertRecord).chat.state;
    return { t, press, stateOf };
  }

  it('starts the urgent chat at once while the routine one waits for working hours', async () => {
    const { t, press, stateOf } = await night();
    const routine = (await t.app.postAlert(PIVOT)).alert;
    await t.app.handleInbound(press(routine));
    expect(await stateOf(routine.id)).toBe('scheduled');

    const urgent = (await t.app.postAlert({ ...PIVOT, id: 'admin-role', urgent: true })).alert;
    await t.app.handleInbound(press(urgent));
    await t.app.idle();
    expect(await stateOf(urgent.id)).toBe('active');
    expect(t.slack.calls.filter((c) => c.method === 'post' && c.channel === PIVOT.userId)).toHaveLength(1);
  });

  it("queues a routine chat started now while the person's urgent chat is under way", async () => {
    const { t, press, stateOf } = await night();
    const routine = (await t.app.postAlert(PIVOT)).alert;
    await t.app.handleInbound(press(routine));
    const urgent = (await t.app.postAlert({ ...PIVOT, id: 'admin-role', urgent: true })).alert;
    // Urgent started directly in the store's terms: active beside the scheduled one (see the test above).
    await t.app.handleInbound(press(urgent)).catch(() => undefined);
    await t.app.idle();
    expect(await stateOf(urgent.id)).toBe('active');
    await t.app.handleInbound(press(routine, 'start_now'));
    await t.app.idle();
    expect(await stateOf(routine.id)).toBe('queued');
    expect(t.slack.calls.filter((c) => c.method === 'post' && c.channel === PIVOT.userId)).toHaveLength(1);
    // The urgent chat ends: the routine one starts at once, night or not, as Start Chat now asked.
    await t.app.request(urgent.id, 'end', { id: 'U0ANALYST', via: 'slack' });
    await t.app.idle();
    expect(await stateOf(routine.id)).toBe('active');
  });
});
