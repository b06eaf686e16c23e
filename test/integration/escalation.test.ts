// Escalation in process: the App with the real WebClient against the local Slack, the lowdb store, the delivery
// drain and the PagerDuty transport against the local Events API. Time is a clock the drain's timers move on.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { App } from '../../src/app.js';
import { buildSlack } from '../../src/cli/runtime.js';
import { DeliveryDrain } from '../../src/deliver/drain.js';
import { createPagerDutyTransport } from '../../src/deliver/pagerduty.js';
import type { DeliveryTarget, Transport } from '../../src/deliver/port.js';
import { createOfflineWriter } from '../../src/llm/offline-writer.js';
import { type LocalPagerDuty, startLocalPagerDuty } from '../../src/sandbox/local-pagerduty.js';
import { LocalSlack } from '../../src/sandbox/local-slack.js';
import type { Inbound } from '../../src/slack/envelope.js';
import { createPacer } from '../../src/slack/pacer.js';
import { openLowdbStore } from '../../src/store/lowdb-store.js';
import type { Store } from '../../src/store/port.js';
import { replyTs } from '../support/memory-ports.js';

const KEY = 'R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12';
const analyst = { id: 'U0ANALYST', via: 'slack' } as const;
let slack: LocalSlack;
let pd: LocalPagerDuty;
let store: Store;
let app: App;
let drain: DeliveryDrain;
let now = Date.parse('2026-12-04T10:00:00.000Z');
const logs: string[] = [];

beforeEach(async () => {
  slack = await LocalSlack.start();
  pd = await startLocalPagerDuty({ routingKey: KEY });
  store = openLowdbStore(join(await mkdtemp(join(tmpdir(), 'irbot-escalation-')), 'db.json'));
  logs.length = 0;
  const clock = () => new Date(now);
  const transports = new Map<DeliveryTarget, Transport>([
    ['pagerduty', createPagerDutyTransport({ routingKey: KEY, apiUrl: pd.url })],
  ]);
  // A retry's wait passes at once: the clock moves on by it, then the drain looks again.
  const schedule = (ms: number, fn: () => void) => {
    now += ms;
    fn();
  };
  drain = new DeliveryDrain({ store, clock, log: (line) => logs.push(line), transports, schedule });
  let id = 0;
  app = new App(
    {
      slack: buildSlack(slack.botToken, slack.apiUrl, () => undefined),
      llm: createOfflineWriter(),
      store,
      clock,
      newId: () => `00000${++id}`,
      log: (line) => logs.push(line),
      pacer: createPacer({ scale: 100 }),
      deliveries: drain,
    },
    {
      feedChannelId: 'C0FEED',
      maxNudges: 1,
      nudgeAfterMs: 3_600_000,
      responders: [],
      escalationMention: '<!subteam^S0SECOPS>',
      escalateOn: ['not_aware', 'denied', 'unverified'],
      pagerduty: true,
    },
  );
});
afterEach(async () => {
  await slack.close();
  await pd.close();
});

let eventSeq = 0;
async function answered(userId: string, text: string) {
  const { alert } = await app.postAlert({ id: 'pivot', name: 'Pivoting', description: '', userId, properties: {} });
  await app.request(alert.id, 'start', analyst);
  const dm: Inbound = { kind: 'dm', eventId: `Ev${++eventSeq}`, userId, channelId: `D${userId}`, text, ts: replyTs() };
  await app.handleInbound(dm);
  await app.idle();
  await drain.idle();
  return alert;
}

describe('escalation to the thread and PagerDuty', () => {
  it('pings the thread once and pages once per alert, through a 500 after PagerDuty acted and a 429', async () => {
    pd.failNext(500, 1, { processed: true });
    pd.failNext(429, 1, { headers: { 'retry-after': '0' } });
    const harold = await answered('U0HAROLD', 'no, that was not me');
    const aware = await answered('U0ALICE', 'yes, that was me');
    await app.recover();
    await app.idle();
    await drain.idle();

    const pings = slack.thread('C0FEED', harold.ts ?? '').filter((m) => m.text.includes('Escalated'));
    expect(pings).toHaveLength(1);
    expect(pings[0]?.text).toContain('<!subteam^S0SECOPS> On-call is paged in PagerDuty.');
    expect(slack.thread('C0FEED', aware.ts ?? '').some((m) => m.text.includes('Escalated'))).toBe(false);

    expect(pd.requests.map((r) => r.status)).toEqual([500, 429, 202]);
    expect(pd.incidents()).toHaveLength(1);
    expect(pd.incidents()[0]).toMatchObject({ dedupKey: harold.id, status: 'triggered' });
    expect(pd.incidents()[0]?.opened.payload).toMatchObject({
      summary: 'irbot: Harold was not aware of Pivoting',
      source: 'irbot',
      severity: 'error',
    });
    const record = (await store.read()).alerts[harold.id];
    expect(record?.deliveries?.find((d) => d.target === 'pagerduty')).toMatchObject({
      key: `${harold.id}:escalated`,
      attempts: 3,
      deliveredAt: expect.any(String),
    });
    // The stored body never holds the key; only the request did.
    expect(JSON.stringify(record)).not.toContain(KEY);
    expect(logs.join('\n')).not.toContain(KEY);
  });

  it('records a 400 as a failure for good, with PagerDuty’s reason', async () => {
    await pd.close();
    pd = await startLocalPagerDuty({ routingKey: 'S0METH1NGELSES0METH1NGELSES0METH' });
    const transports = new Map<DeliveryTarget, Transport>([
      ['pagerduty', createPagerDutyTransport({ routingKey: KEY, apiUrl: pd.url })],
    ]);
    drain = new DeliveryDrain({ store, clock: () => new Date(now), log: (l) => logs.push(l), transports });
    (app as unknown as { ports: { deliveries: DeliveryDrain } }).ports.deliveries = drain;
    const harold = await answered('U0HAROLD', 'no');
    const page = (await store.read()).alerts[harold.id]?.deliveries?.find((d) => d.target === 'pagerduty');
    expect(page?.failure).toBe('PagerDuty answered 400 (invalid event: Event object is invalid: Invalid routing key)');
    expect(pd.incidents()).toHaveLength(0);
    expect(logs.some((l) => l.includes('to pagerduty: failed for good'))).toBe(true);
  });
});
