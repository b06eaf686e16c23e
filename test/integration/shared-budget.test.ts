// Twenty irbot "processes" (an App each, with its own store handle, Slack client and pacer, as separate processes
// have) post an alert each at the same moment against the local Slack enforcing its limits: over the budget file
// they share, Slack barely ever answers 429. The e2e test runs the real binary; this one starts them all at once.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { App } from '../../src/app.js';
import { buildSlack } from '../../src/cli/runtime.js';
import { createOfflineWriter } from '../../src/llm/offline-writer.js';
import { LocalSlack } from '../../src/sandbox/local-slack.js';
import { budgetPathOf, fileBudget } from '../../src/slack/budget.js';
import { createPacer } from '../../src/slack/pacer.js';
import { openLowdbStore } from '../../src/store/lowdb-store.js';

const SCALE = 10;
const N = 20;
let slack: LocalSlack;

beforeEach(async () => {
  // Half a second of leeway absorbs an event loop stalled between a token and its request on a busy machine; a
  // budget each (irbot before) still meets about ten 429s.
  slack = await LocalSlack.start({ rateLimits: { scale: SCALE, toleranceMs: 500 } });
});
afterEach(() => slack.close());

describe('processes sharing one Slack budget', () => {
  it('post 20 alerts at once, each once, with few 429s', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'irbot-budget-'));
    // A store each, so that the store's lock does not space their posts out: the budget file alone is shared.
    const budget = budgetPathOf(join(dir, 'db.json'));
    const processes = Array.from(
      { length: N },
      (_, p) =>
        new App(
          {
            slack: buildSlack(slack.botToken, slack.apiUrl, () => undefined),
            llm: createOfflineWriter(),
            store: openLowdbStore(join(dir, `db-${p}.json`)),
            clock: () => new Date(),
            newId: () => String(p),
            log: () => undefined,
            pacer: createPacer({ scale: SCALE, budget: fileBudget(budget) }),
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
  });
});
