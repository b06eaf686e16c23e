// Snoozes in the embedded store: journalled like alerts (only what changed), kept by a compaction, read by
// another process, and absent (no snoozes) in a store written before irbot had them.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { addSnooze, removeSnooze, snoozesOf } from '../../../src/snoozes.js';
import { journalPathOf, openLowdbStore } from '../../../src/store/lowdb-store.js';
import type { SnoozeActor } from '../../../src/store/port.js';

const ANA: SnoozeActor = { id: 'ana', via: 'terminal' };
const NOW = new Date('2026-12-05T10:00:00.000Z');
let path: string;
beforeEach(async () => {
  path = join(await mkdtemp(join(tmpdir(), 'irbot-snoozes-')), 'db.json');
});

describe('snoozes in the store', () => {
  it('reads a store written before snoozes as having none, and adds the field with the first one', async () => {
    await writeFile(path, JSON.stringify({ version: 3, generation: 1, alerts: {}, seenEvents: {} }));
    await writeFile(journalPathOf(path), '{"generation":1}\n');
    const store = openLowdbStore(path);
    expect(snoozesOf(await store.read())).toEqual([]);
    await store.transact((data) => {
      data.seenEvents.Ev1 = 'x'; // a change that touches no snooze writes none
    });
    expect(await readFile(journalPathOf(path), 'utf8')).not.toContain('"z"');
    await store.transact((data) =>
      addSnooze(data, { template: 'pivot', forMs: 3_600_000, reason: 'cron', by: ANA }, NOW, () => '1'),
    );
    const other = openLowdbStore(path); // another process
    expect(snoozesOf(await other.read()).map((s) => [s.id, s.template, s.until])).toEqual([
      ['sz-1', 'pivot', '2026-12-05T11:00:00.000Z'],
    ]);
  });

  it('journals only the snoozes a change touched, and keeps a removed one for the audit', async () => {
    const store = openLowdbStore(path);
    await store.transact((data) => {
      addSnooze(data, { template: 'a', forMs: 60_000, reason: 'r', by: ANA }, NOW, () => '1');
      addSnooze(data, { template: 'b', forMs: 60_000, reason: 'r', by: ANA }, NOW, () => '2');
    });
    await store.transact((data) => {
      snoozesOf(data); // a scan of every snooze changes none of them
      removeSnooze(data, 'sz-2', ANA, NOW);
    });
    const lines = (await readFile(journalPathOf(path), 'utf8')).trim().split('\n').slice(1);
    const last = JSON.parse(lines.at(-1) ?? '{}') as { z?: Record<string, unknown> };
    expect(Object.keys(last.z ?? {})).toEqual(['sz-2']);
    const read = snoozesOf(await openLowdbStore(path).read());
    expect(read.map((s) => [s.id, s.removedAt ?? null])).toEqual([
      ['sz-1', null],
      ['sz-2', NOW.toISOString()],
    ]);
  });
});
