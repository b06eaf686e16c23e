// Twenty irbot "processes" (an App each, with its own store handle, Slack client and pacer, as separate processes
// have) post an alert each at the same moment against the local Slack enforcing its limits: over the budget they
// share (a file beside the JSON store, or the PostgreSQL store's database, as replicas on several machines share
// it), Slack barely ever answers 429. The e2e test runs the real binary; this one starts them all at once.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { App } from '../../src/app.js';
import { buildPacer, buildSlack } from '../../src/cli/runtime.js';
import { parseConfig } from '../../src/config/config.js';
import { createOfflineWriter } from '../../src/llm/offline-writer.js';
import { LocalSlack } from '../../src/sandbox/local-slack.js';
import type { Pacer } from '../../src/slack/pacer.js';
import { openLowdbStore } from '../../src/store/lowdb-store.js';
import { openPgStore } from '../../src/store/pg/pg-store.js';
import type { Store } from '../../src/store/port.js';
import { createTestDatabase } from '../support/pg.js';

const SCALE = 10;
const N = 20;
let slack: LocalSlack;

beforeEach(async () => {
  // Half a second of leeway absorbs an event loop stalled between a token and its request on a busy machine; a
  // budget each (irbot before) still meets about ten 429s.
  slack = await LocalSlack.start({ rateLimits: { scale: SCALE, toleranceMs: 500 } });
});
afterEach(() => slack.close());

/** A store and a pacer for "process" p, as `irbot` builds them (runtime.ts). */
type Kind = (p: number) => { store: Store; pacer: Pacer };

const fileKind = async (): Promise<Kind> => {
  const dir = await mkdtemp(join(tmpdir(), 'irbot-budget-'));
  const config = parseConfig(`feed_channel_id = "C0FEED"\nslack_rate_scale = ${SCALE}\n`, join(dir, 'config.toml'));
  // A store each, so that the store's lock does not space their posts out: the budget file alone is shared.
  return (p) => ({
    store: openLowdbStore(join(dir, `db-${p}.json`)),
    pacer: buildPacer(config, noteFailure),
  });
};

const pgKind = async (): Promise<Kind> => {
  const db = await createTestDatabase();
  cleanups.push(db.drop);
  const config = parseConfig(`feed_channel_id = "C0FEED"\nslack_rate_scale = ${SCALE}\n`, '/nowhere/config.toml');
  // A pool each (of one connection: twenty replicas), on one database: its store and its budget.
  return () => {
    const store = openPgStore(db.url, { poolSize: 1 });
    cleanups.push(() => store.close());
    return { store, pacer: buildPacer(config, noteFailure, store) };
  };
};
const cleanups: Array<() => Promise<void>> = [];
/** A budget that cannot be used falls back to pacing alone, which the test would only see as 429s: caught here. */
const failures: string[] = [];
const noteFailure = (message: string) => void failures.push(message);
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe.each([
  ['a file beside the JSON store', fileKind],
  ['PostgreSQL, as replicas on several machines', pgKind],
])('processes sharing one Slack budget in %s', (_, kind) => {
  it('post 20 alerts at once, each once, with few 429s', async () => {
    const make = await kind();
    const processes = Array.from(
      { length: N },
      (_, p) =>
        new App(
          {
            slack: buildSlack(slack.botToken, slack.apiUrl, () => undefined),
            llm: createOfflineWriter(),
            clock: () => new Date(),
            newId: () => String(p),
            log: () => undefined,
            ...make(p),
            oneShot: true,
          },
          { feedChannelId: 'C0FEED', maxNudges: 1, nudgeAfterMs: 3_600_000, responders: [] },
        ),
    );
    const alert = { id: 'pivot', description: '', userId: 'U0HAROLD', properties: {} };
    await Promise.all(processes.map((app, i) => app.postAlert({ ...alert, name: `Pivoting ${i}` })));
    const posted = slack.history('C0FEED').filter((m) => m.thread_ts === undefined || m.thread_ts === m.ts);
    expect(posted).toHaveLength(N);
    for (const m of posted) expect(slack.thread('C0FEED', m.ts)).toHaveLength(2);
    expect(slack.rateLimited['chat.postMessage'] ?? 0).toBeLessThanOrEqual(3);
    expect(failures).toEqual([]);
  });
});
