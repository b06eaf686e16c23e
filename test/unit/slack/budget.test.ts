// The Slack budget in a file beside the store: two handles on one file stand for two irbot processes.
import { mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { budgetPathOf, fileBudget } from '../../../src/slack/budget.js';

/** chat.postMessage to one channel: one a second, three at once. */
const LIMIT = { perMs: 1 / 1000, burst: 3 };
const KEY = 'chat.postMessage C0FEED';

async function budgetFile(): Promise<string> {
  return budgetPathOf(join(await mkdtemp(join(tmpdir(), 'irbot-budget-')), 'irbot-db.json'));
}

function clock(start = 1_700_000_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('the shared Slack budget', () => {
  it('lives beside the store', () => {
    expect(budgetPathOf('/var/lib/irbot/irbot-db.json')).toBe('/var/lib/irbot/irbot-db.slack-budget.json');
  });

  it('is one budget for every process: what one spends, the other cannot', async () => {
    const path = await budgetFile();
    const time = clock();
    const one = fileBudget(path, { now: time.now });
    const other = fileBudget(path, { now: time.now });
    expect([one.take(KEY, LIMIT, false), one.take(KEY, LIMIT, false), other.take(KEY, LIMIT, false)]).toEqual([
      0, 0, 0,
    ]);
    expect(other.take(KEY, LIMIT, false)).toBe(1000);
    time.advance(1000);
    expect(one.take(KEY, LIMIT, false)).toBe(0);
    expect(other.take(KEY, LIMIT, false)).toBe(1000);
  });

  it('holds a 429 one process met against all of them', async () => {
    const path = await budgetFile();
    const time = clock();
    const one = fileBudget(path, { now: time.now });
    const other = fileBudget(path, { now: time.now });
    one.backOff(KEY, LIMIT, 12_000);
    expect(other.take(KEY, LIMIT, false)).toBe(12_000);
    time.advance(12_000);
    expect(other.take(KEY, LIMIT, false)).toBe(0);
  });

  it('takes a token given back by one process for another, never above the burst', async () => {
    const path = await budgetFile();
    const time = clock();
    const one = fileBudget(path, { now: time.now });
    const other = fileBudget(path, { now: time.now });
    for (let i = 0; i < 3; i++) expect(one.take(KEY, LIMIT, false)).toBe(0);
    expect(other.take(KEY, LIMIT, false)).toBe(1000);
    one.refund(KEY, LIMIT);
    expect(other.take(KEY, LIMIT, false)).toBe(0);
    expect(other.take(KEY, LIMIT, false)).toBe(1000);
    time.advance(10_000); // full again: a token given back now is not one more
    one.refund(KEY, LIMIT);
    expect(one.take(KEY, LIMIT, true)).toBe(0);
    expect(one.take(KEY, LIMIT, true)).toBe(1000);
  });

  it('keeps the burst for those that may take it: a whole-bucket take waits for a full bucket', async () => {
    const time = clock();
    const budget = fileBudget(await budgetFile(), { now: time.now });
    expect(budget.take(KEY, LIMIT, true)).toBe(0);
    expect(budget.take(KEY, LIMIT, true)).toBe(1000);
    expect(budget.take(KEY, LIMIT, false)).toBe(0);
  });

  it('starts over with full buckets from a torn file, and forgets buckets that refilled', async () => {
    const path = await budgetFile();
    await writeFile(path, '{"buckets":{"chat.postMessage C0FEED":{"tokens":0,');
    const time = clock();
    const budget = fileBudget(path, { now: time.now });
    expect(budget.take(KEY, LIMIT, false)).toBe(0);
    expect(JSON.parse(await readFile(path, 'utf8')).buckets[KEY]).toMatchObject({ tokens: 2 });
    time.advance(1000);
    budget.take('chat.update', { perMs: 1, burst: 5 }, false);
    expect(Object.keys(JSON.parse(await readFile(path, 'utf8')).buckets)).toEqual(['chat.update']);
  });

  it('refuses a symlink, says so once, and paces this process alone', async () => {
    const path = await budgetFile();
    const target = `${path}.elsewhere`;
    await writeFile(target, 'precious');
    await symlink(target, path);
    const errors: unknown[] = [];
    const budget = fileBudget(path, { onError: (err) => errors.push(err) });
    for (let i = 0; i < 3; i++) expect(budget.take(KEY, LIMIT, false)).toBe(0);
    expect(budget.take(KEY, LIMIT, false)).toBeGreaterThan(0);
    expect(errors).toHaveLength(1);
    expect(await readFile(target, 'utf8')).toBe('precious');
  });
});
