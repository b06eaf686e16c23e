import fs, { existsSync } from 'node:fs';
import {
  appendFile,
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../../../src/config/errors.js';
import { factsPathOf, modeGuard, StoreFileError } from '../../../src/store/files.js';
import type { JournalLine } from '../../../src/store/journal.js';
import { archivePathOf, journalPathOf, openLowdbStore, outgrown } from '../../../src/store/lowdb-store.js';
import { type AlertRecord, alertsOf, archiveAlert, type StoreData } from '../../../src/store/port.js';
import { aLine, anAlert } from '../../support/records.js';

let path: string;
beforeEach(async () => {
  path = join(await mkdtemp(join(tmpdir(), 'irbot-store-')), 'db.json');
});

const journal = () => readFile(journalPathOf(path), 'utf8');

/** The journal's lines after its header, parsed; a torn last line is left out. */
async function journalLines(): Promise<JournalLine[]> {
  const [, ...lines] = (await journal()).split('\n').slice(0, -1);
  return lines.map((line) => JSON.parse(line) as JournalLine);
}

async function snapshot(): Promise<StoreData & { generation: number }> {
  return JSON.parse(await readFile(path, 'utf8'));
}

/** The snapshot's bytes and change time: equal when nobody rewrote it. */
async function snapshotStamp(): Promise<{ text: string; mtimeNs: bigint; ino: bigint }> {
  const { mtimeNs, ino } = await stat(path, { bigint: true });
  return { text: await readFile(path, 'utf8'), mtimeNs, ino };
}

// What every store does is in store-contract.test.ts; this file holds what is the lowdb store's own (files,
// journal, compaction, group commit, modes).
describe('lowdb store', () => {
  it('creates the file with mode 0600', async () => {
    await openLowdbStore(path).transact((data) => {
      data.seenEvents.Ev1 = 'now';
    });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(path, 'utf8')).seenEvents).toEqual({ Ev1: 'now' });
  });

  it('loses no update when many writers with their own handles change it at once', async () => {
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        openLowdbStore(path).transact((data) => {
          data.seenEvents[`Ev${i}`] = String(i);
        }),
      ),
    );
    expect(Object.keys((await openLowdbStore(path).read()).seenEvents)).toHaveLength(40);
  });

  it.each([
    ['', 'is empty'],
    ['{"version": 1, "alerts": {', 'is not valid JSON'],
    ['[]', 'does not hold an irbot store'],
    ['{"version": 99, "alerts": {}, "seenEvents": {}}', 'newer irbot'],
  ])('reports a broken file %j in one line and leaves it untouched', async (text, reason) => {
    await writeFile(path, text);
    const store = openLowdbStore(path);
    const failure = store.transact(() => undefined);
    await expect(failure).rejects.toThrow(ConfigError);
    await expect(failure).rejects.toThrow(reason);
    await expect(failure).rejects.toThrow(path);
    await expect(failure).rejects.not.toThrow(/\n/);
    expect(await readFile(path, 'utf8')).toBe(text);
  });
});

describe('schema migration', () => {
  const v1 = JSON.stringify({
    version: 1,
    alerts: { 'pivot-1': { id: 'pivot-1', chat: { state: 'active', nudges: 1 }, transcript: [], outbox: [] } },
    seenEvents: {},
  });

  it('reads an older store in memory without writing it', async () => {
    await writeFile(path, v1);
    const data = await openLowdbStore(path).read();
    expect(data.version).toBe(3);
    expect(data.alerts['pivot-1']?.chat).toMatchObject({ state: 'active', nudges: 1, quietSince: null, failure: null });
    expect(await readFile(path, 'utf8')).toBe(v1);
    expect(existsSync(`${path}.v1.bak`)).toBe(false);
  });

  it('keeps a backup of the old file before its first write in the new schema', async () => {
    await writeFile(path, v1);
    await openLowdbStore(path).transact(() => undefined);
    expect(await readFile(`${path}.v1.bak`, 'utf8')).toBe(v1);
    const migrated = JSON.parse(await readFile(path, 'utf8'));
    expect(migrated.version).toBe(3);
    expect(migrated.alerts['pivot-1'].chat.quietSince).toBeNull();
    await openLowdbStore(path).transact(() => undefined);
    expect(await readFile(`${path}.v1.bak`, 'utf8')).toBe(v1);
  });
});

describe('group commit', () => {
  it('applies changes queued together, and a throwing one changes nothing while the others land', async () => {
    const store = openLowdbStore(path);
    const results = await Promise.allSettled([
      store.transact((data) => {
        data.seenEvents.a = '1';
        return 'a';
      }),
      store.transact((data) => {
        data.seenEvents.bad = 'half-written';
        throw new Error('boom');
      }),
      store.transact((data) => {
        data.seenEvents.c = '3';
        return 'c';
      }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((await store.read()).seenEvents).toEqual({ a: '1', c: '3' });
  });
});

describe('archive', () => {
  const record = (id: string) => ({ id, chat: { state: 'ended' }, transcript: [] }) as unknown as AlertRecord;

  it('moves closed alerts out of the working set into an append-only archive, mode 0600', async () => {
    const store = openLowdbStore(path);
    await store.transact((data) => {
      data.alerts.a = record('a');
      data.alerts.b = record('b');
    });
    await store.transact((data) => archiveAlert(data, 'a'));
    expect(Object.keys((await store.read()).alerts)).toEqual(['b']);
    expect((await store.readArchive()).map((r) => r.id)).toEqual(['a']);
    expect(JSON.parse(await readFile(path, 'utf8'))).not.toHaveProperty('archiving');
    expect((await stat(archivePathOf(path))).mode & 0o777).toBe(0o600);
    expect(archivePathOf(path)).toMatch(/db\.archive\.ndjson$/);
  });

  it('syncs the folder when it creates the archive (its name must survive a power cut), not on every append', async () => {
    const store = openLowdbStore(path);
    await store.transact((data) => {
      for (const id of ['a', 'b']) data.alerts[id] = record(id);
    });
    const folder = join(path, '..');
    const opened = vi.spyOn(fs, 'openSync');
    const synced = vi.spyOn(fs, 'fsyncSync');
    try {
      const folderSyncs = () =>
        opened.mock.results.filter((r, i) => opened.mock.calls[i]?.[0] === folder && r.type === 'return').length;
      await store.transact((data) => archiveAlert(data, 'a'));
      expect(folderSyncs()).toBe(1);
      const fd = opened.mock.results.find((_, i) => opened.mock.calls[i]?.[0] === folder)?.value;
      expect(synced.mock.calls.some(([called]) => called === fd)).toBe(true);
      await store.transact((data) => archiveAlert(data, 'b'));
      expect(folderSyncs()).toBe(1);
    } finally {
      opened.mockRestore();
      synced.mockRestore();
    }
  });

  it('survives a torn last line from a crash mid-append, and reports damage elsewhere', async () => {
    const store = openLowdbStore(path);
    await writeFile(archivePathOf(path), `${JSON.stringify(record('a'))}\n{"id": "b", "chat`);
    expect((await store.readArchive()).map((r) => r.id)).toEqual(['a']);
    await store.transact((data) => {
      data.alerts.c = record('c');
      archiveAlert(data, 'c');
    });
    expect((await store.readArchive()).map((r) => r.id)).toEqual(['a', 'c']);
    await writeFile(archivePathOf(path), `{"id": "b", "chat\n${JSON.stringify(record('a'))}\n`);
    await expect(store.readArchive()).rejects.toThrow(/line 1 is not valid JSON/);
  });
});

describe('journal', () => {
  it('writes a new store as a snapshot of generation 1 and a journal with only its header', async () => {
    await openLowdbStore(path).transact((data) => {
      data.seenEvents.Ev1 = 'now';
    });
    expect(await snapshot()).toMatchObject({ version: 3, generation: 1, seenEvents: { Ev1: 'now' } });
    expect(await journal()).toBe('{"generation":1}\n');
    expect((await stat(journalPathOf(path))).mode & 0o777).toBe(0o600);
  });

  it('appends one line per transaction and leaves the snapshot as it was; a change of nothing appends nothing', async () => {
    const store = openLowdbStore(path);
    await store.transact((data) => {
      data.alerts['pivot-1'] = anAlert();
    });
    const snapshotBefore = await snapshotStamp();
    const journalBefore = await journal();
    await store.transact((data) => {
      data.seenEvents.Ev1 = '2026-11-27T10:01:00.000Z';
      (data.alerts['pivot-1'] as AlertRecord).transcript.push(aLine('it was me'));
    });
    const after = await journal();
    expect(after.startsWith(journalBefore)).toBe(true);
    const added = after.slice(journalBefore.length);
    expect(added.endsWith('\n')).toBe(true);
    expect(added.slice(0, -1)).not.toContain('\n');
    expect(JSON.parse(added)).toMatchObject({
      g: 1,
      q: 1,
      a: { 'pivot-1': { t0: 0, t: [aLine('it was me')] } },
      s: { Ev1: '2026-11-27T10:01:00.000Z' },
    });
    expect(await snapshotStamp()).toEqual(snapshotBefore);

    await store.transact(() => undefined);
    await store.transact((data) => {
      for (const found of alertsOf(data)) void data.alerts[found.id]?.chat.state;
    });
    await openLowdbStore(path).transact((data) => data.alerts['pivot-1']?.name);
    expect(await journal()).toBe(after);
    expect(await snapshotStamp()).toEqual(snapshotBefore);
  });

  it('writes only the alert a transaction changed, of 50 it scanned', async () => {
    const store = openLowdbStore(path);
    await store.transact((data) => {
      for (let i = 0; i < 50; i++) data.alerts[`pivot-${i}`] = anAlert({ id: `pivot-${i}` });
    });
    const step = (text: string) =>
      store.transact((data) => {
        for (const found of alertsOf(data)) {
          if (found.id !== 'pivot-17') continue;
          const record = data.alerts[found.id] as AlertRecord;
          record.transcript.push(aLine(text));
          record.lastActivityAt = '2026-11-27T10:05:00.000Z';
        }
        return Object.keys(data.alerts).map((id) => data.alerts[id]?.chat.state);
      });
    await step('hello');
    await step('it was me');
    const [first, second] = await journalLines();
    expect(Object.keys(first?.a ?? {})).toEqual(['pivot-17']);
    expect(first?.a?.['pivot-17']).toMatchObject({ t0: 0, t: [aLine('hello')] });
    expect(Object.keys(second?.a ?? {})).toEqual(['pivot-17']);
    expect(second?.a?.['pivot-17']).toMatchObject({ t0: 1, t: [aLine('it was me')] });
    expect((await openLowdbStore(path).read()).alerts['pivot-17']?.transcript).toEqual([
      aLine('hello'),
      aLine('it was me'),
    ]);
  });

  it('rejects a change to an alert found by scanning and not fetched by id (the verify safety net)', async () => {
    const store = openLowdbStore(path);
    await store.transact((data) => {
      data.alerts['pivot-1'] = anAlert();
      data.alerts['pivot-2'] = anAlert({ id: 'pivot-2' });
    });
    const lost = store.transact((data) => {
      for (const found of alertsOf(data)) if (found.id === 'pivot-2') found.name = 'renamed';
    });
    await expect(lost).rejects.toThrow(/journal lost a change \(alerts that differ: pivot-2\)/);
    expect((await store.read()).alerts['pivot-2']?.name).toBe('Impossible travel');
    // The handle dropped what it held: its next transaction starts from the disk.
    expect(await store.transact((data) => data.alerts['pivot-2']?.name)).toBe('Impossible travel');
  });

  it('applies changes queued during a commit together, in fewer lines than changes', async () => {
    const store = openLowdbStore(path);
    await store.transact(() => undefined);
    await Promise.all(
      ['a', 'b', 'c', 'd'].map((key) =>
        store.transact((data) => {
          data.seenEvents[key] = key;
        }),
      ),
    );
    expect((await journalLines()).length).toBeLessThan(4);
    expect((await openLowdbStore(path).read()).seenEvents).toEqual({ a: 'a', b: 'b', c: 'c', d: 'd' });
  });
});

describe('journal after a crash', () => {
  /** A store with one alert in its snapshot and one line in its journal, then a torn line as a crash leaves it. */
  async function withTornLine(): Promise<{ whole: string }> {
    const store = openLowdbStore(path);
    await store.transact((data) => {
      data.alerts['pivot-1'] = anAlert({ transcript: [aLine('one')] });
    });
    await store.transact((data) => {
      data.seenEvents.Ev1 = 'then';
    });
    const whole = await journal();
    await appendFile(journalPathOf(path), '{"g":1,"q":2,"s":{"Ev2":"ne');
    return { whole };
  }

  it('ignores a torn last line on reading, and leaves it there', async () => {
    await withTornLine();
    const torn = await journal();
    expect((await openLowdbStore(path).read()).seenEvents).toEqual({ Ev1: 'then' });
    expect(await journal()).toBe(torn);
  });

  it('cuts a torn last line off before appending (a writer that reads the journal whole)', async () => {
    const { whole } = await withTornLine();
    await openLowdbStore(path).transact((data) => {
      data.seenEvents.Ev3 = 'now';
    });
    expect(await journal()).toBe(`${whole}{"g":1,"q":2,"s":{"Ev3":"now"}}\n`);
    expect((await openLowdbStore(path).read()).seenEvents).toEqual({ Ev1: 'then', Ev3: 'now' });
  });

  it('cuts a torn last line off before appending (a writer that catches up on what it had not seen)', async () => {
    const store = openLowdbStore(path);
    await store.transact((data) => {
      data.seenEvents.Ev1 = 'then';
    });
    await openLowdbStore(path).transact((data) => {
      data.seenEvents.Ev2 = 'theirs';
    });
    const whole = await journal();
    await appendFile(journalPathOf(path), '{"g":1,"q":2,"s":{"Ev');
    await store.transact((data) => {
      data.seenEvents.Ev3 = 'mine';
    });
    expect(await journal()).toBe(`${whole}{"g":1,"q":2,"s":{"Ev3":"mine"}}\n`);
    expect((await openLowdbStore(path).read()).seenEvents).toEqual({ Ev1: 'then', Ev2: 'theirs', Ev3: 'mine' });
  });

  it.each([
    ['a line that is not JSON', (lines: string[]) => lines.splice(1, 1, '{"g":1,"q":1,"s":{'), /not valid JSON/],
    ['a line out of sequence', (lines: string[]) => lines.splice(1, 1), /line 1 is out of sequence/],
    ['a line repeated', (lines: string[]) => lines.splice(2, 0, lines[1] ?? ''), /line 2 is out of sequence/],
    [
      'a transcript continued from the wrong place',
      (lines: string[]) => lines.splice(1, 1, lines[1]?.replace('"t0":0', '"t0":1') ?? ''),
      /continues a transcript of pivot-1/,
    ],
    ['no header line', (lines: string[]) => lines.splice(0, 1), /does not start with its header line/],
  ])('reports %s in the journal in one line naming it, and leaves the files untouched', async (_, damage, reason) => {
    const store = openLowdbStore(path);
    await store.transact((data) => {
      data.alerts['pivot-1'] = anAlert();
    });
    await store.transact((data) => {
      (data.alerts['pivot-1'] as AlertRecord).transcript = [aLine('one')];
    });
    await store.transact((data) => {
      data.seenEvents.Ev1 = 'then';
    });
    const lines = (await journal()).split('\n');
    damage(lines);
    const damaged = lines.join('\n');
    await writeFile(journalPathOf(path), damaged);
    const before = await snapshotStamp();
    for (const attempt of [
      () => openLowdbStore(path).transact(() => undefined),
      () => store.transact(() => undefined),
      () => openLowdbStore(path).read(),
    ]) {
      const failure = attempt();
      await expect(failure).rejects.toThrow(ConfigError);
      await expect(failure).rejects.toThrow(reason);
      await expect(failure).rejects.toThrow(journalPathOf(path));
      await expect(failure).rejects.not.toThrow(/\n/);
    }
    expect(await journal()).toBe(damaged);
    expect(await snapshotStamp()).toEqual(before);
  });

  it('ignores a journal older than the snapshot (a compaction stopped before replacing it), then replaces it', async () => {
    const alert = anAlert({ transcript: [aLine('one')] });
    await writeFile(
      path,
      JSON.stringify({ version: 3, generation: 2, alerts: { 'pivot-1': alert }, seenEvents: { Ev1: 'kept' } }),
    );
    const stale = `{"generation":1}\n${JSON.stringify({ g: 1, q: 1, a: { 'pivot-1': null }, s: { Ev0: 'folded' } })}\n`;
    await writeFile(journalPathOf(path), stale);
    expect(await openLowdbStore(path).read()).toEqual({
      version: 3,
      alerts: { 'pivot-1': alert },
      seenEvents: { Ev1: 'kept' },
    });
    expect(await journal()).toBe(stale);

    await openLowdbStore(path).transact((data) => {
      data.seenEvents.Ev2 = 'new';
    });
    expect(await snapshot()).toMatchObject({ generation: 3, seenEvents: { Ev1: 'kept', Ev2: 'new' } });
    expect(await journal()).toBe('{"generation":3}\n');
    expect((await openLowdbStore(path).read()).alerts['pivot-1']).toEqual(alert);
  });

  it('notices a compaction by another process that stopped before replacing the journal, and loses nothing', async () => {
    const mine = openLowdbStore(path);
    await mine.transact((data) => {
      data.seenEvents.one = '1';
    });
    await mine.transact((data) => {
      data.seenEvents.two = '2';
    });
    // The other process wrote its snapshot (with every line folded in), then died before writing the journal.
    await writeFile(
      path,
      JSON.stringify({ version: 3, alerts: {}, seenEvents: { one: '1', two: '2' }, generation: 2 }),
    );
    await mine.transact((data) => {
      data.seenEvents.three = '3';
    });
    expect((await openLowdbStore(path).read()).seenEvents).toEqual({ one: '1', two: '2', three: '3' });
    await openLowdbStore(path).transact((data) => {
      data.seenEvents.four = '4';
    });
    expect(Object.keys((await mine.read()).seenEvents).sort()).toEqual(['four', 'one', 'three', 'two']);
  });

  it('refuses a journal newer than the snapshot, writer and reader alike, naming the journal to move; touches neither', async () => {
    await writeFile(path, JSON.stringify({ version: 3, generation: 1, alerts: {}, seenEvents: {} }));
    const newer = '{"generation":2}\n{"g":2,"q":1,"s":{"Ev1":"x"}}\n';
    await writeFile(journalPathOf(path), newer);
    const before = await snapshotStamp();
    for (const run of [() => openLowdbStore(path).transact(() => undefined), () => openLowdbStore(path).read()]) {
      const failure = run();
      await expect(failure).rejects.toThrow(ConfigError);
      await expect(failure).rejects.toThrow(
        `Store journal ${journalPathOf(path)} continues a later store file than ${path} (generation 2, the file 1`,
      );
      await expect(failure).rejects.toThrow(/restore the two from one backup, or move db\.journal away/);
      await expect(failure).rejects.not.toThrow(/\n/);
    }
    expect(await journal()).toBe(newer);
    expect(await snapshotStamp()).toEqual(before);
  });

  it('reads again when a compaction replaced the snapshot between its reading of it and of the journal', async () => {
    await writeFile(path, JSON.stringify({ version: 3, generation: 1, alerts: {}, seenEvents: {} }));
    await writeFile(journalPathOf(path), '{"generation":2}\n{"g":2,"q":1,"s":{"Ev2":"b"}}\n');
    // The compaction lands just as the reader, having read both files, looks at the snapshot again.
    const lstat = fs.lstatSync;
    let landed = false;
    const spy = vi.spyOn(fs, 'lstatSync').mockImplementation(((file: fs.PathLike, opts?: fs.StatSyncOptions) => {
      if (!landed && file === path) {
        landed = true;
        fs.writeFileSync(
          `${path}.new`,
          JSON.stringify({ version: 3, generation: 2, alerts: {}, seenEvents: { Ev1: 'a' } }),
        );
        fs.renameSync(`${path}.new`, path);
      }
      return lstat(file, opts);
    }) as typeof fs.lstatSync);
    try {
      expect((await openLowdbStore(path).read()).seenEvents).toEqual({ Ev1: 'a', Ev2: 'b' });
    } finally {
      spy.mockRestore();
    }
    expect(landed).toBe(true);
  });

  it('writes a new snapshot when the journal is missing', async () => {
    const store = openLowdbStore(path);
    await store.transact((data) => {
      data.seenEvents.Ev1 = 'then';
    });
    await rm(journalPathOf(path));
    await store.transact((data) => {
      data.seenEvents.Ev2 = 'now';
    });
    expect(await snapshot()).toMatchObject({ generation: 2, seenEvents: { Ev1: 'then', Ev2: 'now' } });
    expect(await journal()).toBe('{"generation":2}\n');
  });
});

describe('when to fold the journal', () => {
  const KiB = 1024;
  it('never below 256 KiB; past it at a quarter of the snapshot or a thousand lines', () => {
    expect(outgrown(200 * KiB, 5000, 0)).toBe(false);
    expect(outgrown(300 * KiB, 10, 1000 * KiB)).toBe(true); // a quarter of a 1000 KiB snapshot
    expect(outgrown(300 * KiB, 10, 2000 * KiB)).toBe(false);
    expect(outgrown(300 * KiB, 999, 2000 * KiB)).toBe(false);
    expect(outgrown(300 * KiB, 1000, 2000 * KiB)).toBe(true); // lines replay slower than snapshot bytes parse
  });
});

describe('compaction', () => {
  const KiB = 1024;
  const big = (i: number) => String(i % 10).repeat(63 * KiB);
  const addBig = (store: ReturnType<typeof openLowdbStore>, i: number) =>
    store.transact((data) => {
      data.seenEvents[`big-${i}`] = big(i);
    });

  it('folds the journal into a new snapshot once it outgrows 256 KiB, after the commit that did it', async () => {
    const store = openLowdbStore(path);
    await store.transact((data) => {
      data.alerts['pivot-1'] = anAlert({ transcript: [aLine('one')] });
    });
    for (let i = 0; i < 4; i++) await addBig(store, i);
    expect((await snapshot()).generation).toBe(1);
    expect((await stat(journalPathOf(path))).size).toBeGreaterThan(252 * KiB);

    await addBig(store, 4);
    await store.transact(() => undefined); // queued behind the compaction that follows the commit
    const written = await snapshot();
    expect(written.generation).toBe(2);
    expect(Object.keys(written.seenEvents)).toHaveLength(5);
    expect(await journal()).toBe('{"generation":2}\n');

    await store.transact((data) => {
      (data.alerts['pivot-1'] as AlertRecord).transcript.push(aLine('two'));
    });
    expect(await journalLines()).toMatchObject([{ g: 2, q: 1, a: { 'pivot-1': { t0: 1, t: [aLine('two')] } } }]);
    const read = await openLowdbStore(path).read();
    expect(read.alerts['pivot-1']?.transcript).toEqual([aLine('one'), aLine('two')]);
    expect(Object.entries(read.seenEvents)).toEqual(Array.from({ length: 5 }, (_, i) => [`big-${i}`, big(i)]));
  });

  it('lets the journal grow to a quarter of a snapshot bigger than 1 MiB before folding it', async () => {
    const seenEvents = { huge: 'x'.repeat(2048 * KiB) };
    await writeFile(path, JSON.stringify({ version: 3, generation: 1, alerts: {}, seenEvents }));
    await writeFile(journalPathOf(path), '{"generation":1}\n');
    const store = openLowdbStore(path);
    for (let i = 0; i < 8; i++) await addBig(store, i);
    expect((await snapshot()).generation).toBe(1);
    expect((await stat(journalPathOf(path))).size).toBeGreaterThan(504 * KiB);
    await addBig(store, 8);
    await store.transact(() => undefined); // queued behind the compaction that follows the commit
    expect((await snapshot()).generation).toBe(2);
    expect(await journal()).toBe('{"generation":2}\n');
    expect(Object.keys((await openLowdbStore(path).read()).seenEvents)).toHaveLength(10);
  });

  it('gives a reader in a loop a consistent state while a writer appends and compacts again and again', async () => {
    const writer = openLowdbStore(path);
    const reader = openLowdbStore(path);
    await writer.transact((data) => {
      data.alerts.counter = anAlert({ id: 'counter', nextSeq: 0 });
    });
    let writing = true;
    const seen: number[] = [];
    const readLoop = (async () => {
      let keys = new Set<string>();
      // The last read starts after the last write: one under way as the writer finished may have missed it.
      let last: boolean;
      do {
        last = !writing;
        const data = await reader.read();
        const counter = data.alerts.counter as AlertRecord;
        // One line wrote all three: the counter, its transcript and the event ids move together.
        expect(counter.transcript).toHaveLength(counter.nextSeq);
        expect(Object.keys(data.seenEvents)).toHaveLength(counter.nextSeq);
        expect(counter.nextSeq).toBeGreaterThanOrEqual(seen.at(-1) ?? 0);
        const now = new Set(Object.keys(data.seenEvents));
        for (const key of keys) expect(now.has(key)).toBe(true);
        keys = now;
        seen.push(counter.nextSeq);
      } while (!last);
    })();
    const generations = new Set<number>();
    for (let i = 1; i <= 60; i++) {
      await writer.transact((data) => {
        const counter = data.alerts.counter as AlertRecord;
        counter.nextSeq = i;
        counter.transcript.push(aLine(`line ${i}`));
        // Every fifth change swaps a map: the store writes a new snapshot instead of a line.
        if (i % 5 === 0) data.seenEvents = { ...data.seenEvents, [`Ev${i}`]: String(i) };
        else data.seenEvents[`Ev${i}`] = String(i);
      });
      generations.add((await snapshot()).generation);
    }
    writing = false;
    await readLoop;
    expect(generations.size).toBeGreaterThanOrEqual(12);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.at(-1)).toBe(60);
  });
});

describe('the facts beside the archive', () => {
  it('hides no archived alert when a rebuild of the facts file was cut short (a power cut, a full disk)', async () => {
    const store = openLowdbStore(path);
    for (const id of ['a1', 'a2', 'a3', 'a4', 'a5']) {
      await store.transact((data) => {
        data.alerts[id] = anAlert({ id });
        archiveAlert(data, id);
      });
    }
    // The facts file stops continuing the archive (gone here): the next archive rebuilds it whole.
    await rm(factsPathOf(archivePathOf(path)));
    await store.transact((data) => {
      data.alerts.a6 = anAlert({ id: 'a6' });
      archiveAlert(data, 'a6');
    });
    // What a rebuild cut short leaves: its first lines.
    const lines = (await readFile(factsPathOf(archivePathOf(path)), 'utf8')).split('\n');
    await writeFile(factsPathOf(archivePathOf(path)), `${lines.slice(0, 3).join('\n')}\n`);
    const ids = (await openLowdbStore(path).scanFacts(undefined)).map((f) => f.id).sort();
    expect(ids).toEqual(['a1', 'a2', 'a3', 'a4', 'a5', 'a6']);
  });
});

describe('a lock taken over while this process was paused', () => {
  // What another irbot writes after taking a stale lock over (this one paused past its 10 s, SIGSTOP or a frozen VM)
  // is simulated by writing it from inside this one's change: the files change under the lock this one holds.
  it("writes no journal line over the other process's: the change fails, and theirs stands", async () => {
    const mine = openLowdbStore(path);
    await mine.transact((data) => {
      data.seenEvents.Ev1 = 'one';
    });
    await mine.transact((data) => {
      data.seenEvents.Ev2 = 'two';
    });
    const [last] = (await journalLines()).slice(-1);
    const failure = mine.transact((data) => {
      fs.appendFileSync(
        journalPathOf(path),
        `${JSON.stringify({ g: last?.g, q: (last?.q ?? 0) + 1, s: { FromOther: 'b' } })}\n`,
      );
      data.seenEvents.FromPaused = 'a';
    });
    await expect(failure).rejects.toThrow(/changed while this process held the store's lock/);
    const after = await openLowdbStore(path).read();
    expect(Object.keys(after.seenEvents).sort()).toEqual(['Ev1', 'Ev2', 'FromOther']);
    // The handle that failed reads the store again, and goes on.
    await mine.transact((data) => {
      data.seenEvents.Ev3 = 'three';
    });
    expect(Object.keys((await openLowdbStore(path).read()).seenEvents).sort()).toEqual([
      'Ev1',
      'Ev2',
      'Ev3',
      'FromOther',
    ]);
  });

  it("writes no snapshot over the other process's: a compaction from the old state would wipe its change out", async () => {
    const mine = openLowdbStore(path);
    const failure = mine.transact((data) => {
      // The other process made the store first (this one's first commit is a compaction, a snapshot).
      fs.writeFileSync(path, JSON.stringify({ version: 3, generation: 1, alerts: {}, seenEvents: { FromOther: 'b' } }));
      data.seenEvents.FromPaused = 'a';
    });
    await expect(failure).rejects.toThrow(/changed while this process held the store's lock/);
    expect(Object.keys((await openLowdbStore(path).read()).seenEvents)).toEqual(['FromOther']);
  });
});

describe('another process', () => {
  it('is caught up on: its transcript continuations of an alert this handle holds land in order', async () => {
    const mine = openLowdbStore(path);
    const theirs = openLowdbStore(path);
    await mine.transact((data) => {
      data.alerts['pivot-1'] = anAlert({ transcript: [aLine('one')] });
    });
    await mine.transact((data) => {
      (data.alerts['pivot-1'] as AlertRecord).transcript.push(aLine('two'));
    });
    await theirs.transact((data) => {
      (data.alerts['pivot-1'] as AlertRecord).transcript.push(aLine('three'));
    });
    await theirs.transact((data) => {
      const record = data.alerts['pivot-1'] as AlertRecord;
      record.transcript.push(aLine('four'), aLine('five'));
      record.chat = { ...record.chat, state: 'active' };
    });
    const state = await mine.transact((data) => {
      const record = data.alerts['pivot-1'] as AlertRecord;
      record.transcript.push(aLine('six'));
      return { state: record.chat.state, lines: record.transcript.map((l) => l.text) };
    });
    expect(state).toEqual({ state: 'active', lines: ['one', 'two', 'three', 'four', 'five', 'six'] });
    expect((await journalLines()).map((l) => l.a?.['pivot-1']?.t0)).toEqual([1, 2, 3, 5]);
    expect((await openLowdbStore(path).read()).alerts['pivot-1']?.transcript.map((l) => l.text)).toEqual([
      'one',
      'two',
      'three',
      'four',
      'five',
      'six',
    ]);
  });

  it('is read again whole after it compacted, and this handle continues its new journal', async () => {
    const mine = openLowdbStore(path);
    const theirs = openLowdbStore(path);
    await mine.transact((data) => {
      data.alerts['pivot-1'] = anAlert({ transcript: [aLine('one')] });
    });
    await theirs.transact((data) => {
      (data.alerts['pivot-1'] as AlertRecord).transcript.push(aLine('two'));
      data.seenEvents = { Ev1: 'theirs' };
    });
    expect((await snapshot()).generation).toBe(2);
    await mine.transact((data) => {
      (data.alerts['pivot-1'] as AlertRecord).transcript.push(aLine('three'));
    });
    expect(await journalLines()).toMatchObject([{ g: 2, q: 1, a: { 'pivot-1': { t0: 2 } } }]);
    const read = await openLowdbStore(path).read();
    expect(read.alerts['pivot-1']?.transcript.map((l) => l.text)).toEqual(['one', 'two', 'three']);
    expect(read.seenEvents).toEqual({ Ev1: 'theirs' });
  });
});

describe('sync: false', () => {
  it('flushes again after an fsync that failed (EIO): the change is not taken as durable', async () => {
    const store = openLowdbStore(path);
    await store.transact((data) => {
      data.seenEvents.Ev0 = 'synced';
    });
    await store.transact(
      (data) => {
        data.seenEvents.Ev1 = 'lax';
      },
      { sync: false },
    );
    const failing = vi.spyOn(fs, 'fdatasyncSync').mockImplementationOnce(() => {
      throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    });
    try {
      await expect(store.flush()).rejects.toThrow('EIO');
      await store.flush();
      expect(failing).toHaveBeenCalledTimes(2);
    } finally {
      failing.mockRestore();
    }
  });

  it('makes a change visible at once, and flush resolves before and after a compaction', async () => {
    const store = openLowdbStore(path);
    const other = openLowdbStore(path);
    await store.flush();
    await store.transact(
      (data) => {
        data.seenEvents.Ev1 = 'lax';
      },
      { sync: false },
    );
    expect((await other.read()).seenEvents).toEqual({ Ev1: 'lax' });
    await store.transact(
      (data) => {
        data.seenEvents.Ev2 = 'lax';
      },
      { sync: false },
    );
    expect((await other.read()).seenEvents).toEqual({ Ev1: 'lax', Ev2: 'lax' });
    expect(await journalLines()).toHaveLength(1);
    await store.flush();
    await store.flush();

    await store.transact(
      (data) => {
        data.seenEvents.Ev3 = 'lax';
      },
      { sync: false },
    );
    await other.transact((data) => {
      data.seenEvents = { ...data.seenEvents, Ev4: 'compacted' };
    });
    await store.flush();
    await store.transact(
      (data) => {
        data.seenEvents = { ...data.seenEvents, Ev5: 'lax and compacted' };
      },
      { sync: false },
    );
    await store.flush();
    await store.transact(
      (data) => {
        data.seenEvents.Ev6 = 'lax';
      },
      { sync: false },
    );
    await store.transact(() => undefined);
    expect(Object.keys((await other.read()).seenEvents)).toEqual(['Ev1', 'Ev2', 'Ev3', 'Ev4', 'Ev5', 'Ev6']);
  });
});

describe('sync decided by the answer', () => {
  it('fsyncs a change whose answer asks it, so that the flush before acting on it has nothing left to do', async () => {
    const store = openLowdbStore(path);
    await store.transact((data) => {
      data.seenEvents.Ev0 = 'first';
    });
    const fsyncs = vi.spyOn(fs, 'fdatasyncSync');
    try {
      const claimed = (taken: string | null) => taken !== null;
      const none = await store.transact(() => null, { sync: claimed });
      const lax = await store.transact(
        (data) => {
          data.seenEvents.Ev1 = 'nothing to act on';
          return null;
        },
        { sync: claimed },
      );
      expect([none, lax, fsyncs.mock.calls.length]).toEqual([null, null, 0]);
      const taken = await store.transact(
        (data) => {
          data.seenEvents.Ev2 = 'claimed';
          return 'Ev2';
        },
        { sync: claimed },
      );
      expect([taken, fsyncs.mock.calls.length]).toEqual(['Ev2', 1]);
      await store.flush();
      expect(fsyncs.mock.calls.length).toBe(1);
    } finally {
      fsyncs.mockRestore();
    }
  });
});

describe('schema 2 store', () => {
  const v2 = JSON.stringify({
    version: 2,
    alerts: { 'pivot-1': anAlert({ transcript: [aLine('one')] }) },
    seenEvents: { Ev1: 'then' },
  });

  it('is read as it is, then backed up and written as a schema 3 snapshot with a journal on the first write', async () => {
    await writeFile(path, v2);
    const store = openLowdbStore(path);
    const read = await store.read();
    expect(read).toEqual({ ...JSON.parse(v2), version: 3 });
    expect(existsSync(journalPathOf(path))).toBe(false);
    expect(existsSync(`${path}.v2.bak`)).toBe(false);

    await store.transact((data) => {
      (data.alerts['pivot-1'] as AlertRecord).transcript.push(aLine('two'));
    });
    expect(await readFile(`${path}.v2.bak`, 'utf8')).toBe(v2);
    const written = await snapshot();
    expect(written).toMatchObject({ version: 3, generation: 1, seenEvents: { Ev1: 'then' } });
    expect(written.alerts['pivot-1']?.transcript).toEqual([aLine('one'), aLine('two')]);
    expect(await journal()).toBe('{"generation":1}\n');

    await store.transact((data) => {
      (data.alerts['pivot-1'] as AlertRecord).transcript.push(aLine('three'));
    });
    expect(await journalLines()).toMatchObject([{ g: 1, q: 1, a: { 'pivot-1': { t0: 2, t: [aLine('three')] } } }]);
    expect(await readFile(`${path}.v2.bak`, 'utf8')).toBe(v2);
  });
});

describe('a store file moved away with its journal left beside it', () => {
  /** A store with an alert in its snapshot and a change in its journal, then its snapshot moved away. */
  async function orphan(): Promise<string> {
    const store = openLowdbStore(path);
    await store.transact((data) => {
      data.alerts['pivot-1'] = anAlert();
    });
    await store.transact((data) => {
      data.seenEvents.Ev1 = 'then';
    });
    await rename(path, `${path}.broken`);
    return journal();
  }

  it('is refused by readers and writers alike, naming the journal to move and why, and nothing is written', async () => {
    const held = await orphan();
    for (const run of [() => openLowdbStore(path).read(), () => openLowdbStore(path).transact(() => undefined)]) {
      const failure = run();
      await expect(failure).rejects.toThrow(ConfigError);
      await expect(failure).rejects.toThrow(
        `Store journal ${journalPathOf(path)} has no store file ${path} beside it (moved away?), and holds changes to that file only: put the store file back, or move db.journal away too to start a new store`,
      );
    }
    expect(existsSync(path)).toBe(false);
    expect(await journal()).toBe(held);
  });

  it('is refused by a running handle that had read the store before the file went', async () => {
    const store = openLowdbStore(path);
    await store.transact((data) => {
      data.seenEvents.Ev0 = 'first';
    });
    await rename(path, `${path}.broken`);
    await expect(store.transact(() => undefined)).rejects.toThrow(/has no store file/);
    expect(existsSync(path)).toBe(false);
  });

  it('starts a new store once the journal is moved away too, as the error says', async () => {
    await orphan();
    await rename(journalPathOf(path), `${journalPathOf(path)}.broken`);
    expect((await openLowdbStore(path).read()).alerts).toEqual({});
    await openLowdbStore(path).transact((data) => {
      data.seenEvents.Ev9 = 'new';
    });
    expect(await snapshot()).toMatchObject({ generation: 1, alerts: {}, seenEvents: { Ev9: 'new' } });
  });
});

describe('symbolic links', () => {
  let elsewhere: string;
  beforeEach(async () => {
    elsewhere = join(await mkdtemp(join(tmpdir(), 'irbot-target-')), 'target');
  });

  /** What a refusal of `file` says: the file, that it is a link, and what to do. */
  const refusal = (file: string) =>
    `Store file ${file} is a symbolic link, which irbot does not follow (it would write to the link's target, or replace the link): set database_path to the folder the store really is in, or replace the link with the file itself`;

  async function expectRefused(failure: Promise<unknown>, file: string): Promise<void> {
    await expect(failure).rejects.toThrow(ConfigError);
    await expect(failure).rejects.toThrow(refusal(file));
  }

  it('refuses a store file that is a link, reading and writing, and leaves the link and its target as they were', async () => {
    await writeFile(elsewhere, JSON.stringify({ version: 3, generation: 1, alerts: {}, seenEvents: { Ev1: 'x' } }));
    await symlink(elsewhere, path);
    const before = await readFile(elsewhere, 'utf8');
    await expectRefused(openLowdbStore(path).read(), path);
    await expectRefused(
      openLowdbStore(path).transact((data) => {
        data.seenEvents.Ev2 = 'y';
      }),
      path,
    );
    expect((await lstat(path)).isSymbolicLink()).toBe(true);
    expect(await readFile(elsewhere, 'utf8')).toBe(before);
  });

  it('refuses a dangling link in place of a new store file, and creates nothing at its target', async () => {
    await symlink(elsewhere, path);
    await expectRefused(
      openLowdbStore(path).transact(() => undefined),
      path,
    );
    expect(existsSync(elsewhere)).toBe(false);
    expect(existsSync(journalPathOf(path))).toBe(false);
  });

  it('refuses a journal that is a link, and a running handle that finds one', async () => {
    const store = openLowdbStore(path);
    await store.transact((data) => {
      data.seenEvents.Ev1 = 'x';
    });
    const real = await journal();
    await rename(journalPathOf(path), elsewhere);
    await symlink(elsewhere, journalPathOf(path));
    await expectRefused(
      store.transact(() => undefined),
      journalPathOf(path),
    );
    await expectRefused(openLowdbStore(path).read(), journalPathOf(path));
    expect(await readFile(elsewhere, 'utf8')).toBe(real);
  });

  it('refuses an archive that is a link: nothing is appended to its target and the alert stays in the working set', async () => {
    await writeFile(elsewhere, 'not irbot\n');
    await symlink(elsewhere, archivePathOf(path));
    const store = openLowdbStore(path);
    await store.transact((data) => {
      data.alerts['pivot-1'] = anAlert();
    });
    await expectRefused(
      store.transact((data) => archiveAlert(data, 'pivot-1')),
      archivePathOf(path),
    );
    await expectRefused(store.readArchive(), archivePathOf(path));
    expect(await readFile(elsewhere, 'utf8')).toBe('not irbot\n');
    expect(Object.keys((await store.read()).alerts)).toEqual(['pivot-1']);
  });

  it('refuses a lock that is a link', async () => {
    await mkdir(elsewhere);
    await symlink(elsewhere, `${path}.lock`);
    await expectRefused(
      openLowdbStore(path).transact(() => undefined),
      `${path}.lock`,
    );
    expect(await readdir(elsewhere)).toEqual([]);
  });

  it('refuses a link in place of the backup a migration keeps', async () => {
    await writeFile(path, JSON.stringify({ version: 2, alerts: {}, seenEvents: {} }));
    await symlink(elsewhere, `${path}.v2.bak`);
    await expectRefused(
      openLowdbStore(path).transact(() => undefined),
      `${path}.v2.bak`,
    );
    expect(existsSync(elsewhere)).toBe(false);
    expect(JSON.parse(await readFile(path, 'utf8')).version).toBe(2);
  });
});

describe('file modes', () => {
  const mode = async (file: string) => (await stat(file)).mode & 0o777;

  /** A store with a snapshot, a journal line and an archived alert, each then opened to other users. */
  async function loosened(): Promise<string[]> {
    const store = openLowdbStore(path);
    await store.transact((data) => {
      data.alerts['pivot-1'] = anAlert();
      data.alerts['pivot-2'] = anAlert({ id: 'pivot-2' });
    });
    await store.transact((data) => archiveAlert(data, 'pivot-2'));
    const files = [path, journalPathOf(path), archivePathOf(path)];
    for (const file of files) await chmod(file, 0o644);
    return files;
  }

  it('sets a store file open to other users to 0600 as it is opened, and says so once per file', async () => {
    const files = await loosened();
    const said: string[] = [];
    const store = openLowdbStore(path, { log: (message) => said.push(message) });
    await store.read();
    await store.readArchive();
    for (const file of files) expect(await mode(file)).toBe(0o600);
    expect(said).toEqual(files.map((f) => `Store file ${f} was mode 0644, open to other users: set it to 0600`));
    await store.read();
    expect(said).toHaveLength(3);
  });

  it('sets the journal to 0600 when a running handle appends to it', async () => {
    const said: string[] = [];
    const store = openLowdbStore(path, { log: (message) => said.push(message) });
    await store.transact((data) => {
      data.seenEvents.Ev1 = 'x';
    });
    await chmod(journalPathOf(path), 0o666);
    await store.transact((data) => {
      data.seenEvents.Ev2 = 'y';
    });
    expect(await mode(journalPathOf(path))).toBe(0o600);
    expect(said).toEqual([`Store file ${journalPathOf(path)} was mode 0666, open to other users: set it to 0600`]);
  });

  it('says once, with the chmod, when a file open to others cannot be set to 0600, and goes on', async () => {
    const said: string[] = [];
    const guard = modeGuard({ log: (message) => said.push(message) });
    const refuse = () => {
      throw Object.assign(new Error('not the owner'), { code: 'EPERM' });
    };
    await guard.opened('/srv/irbot/db.json', 0o100640, refuse);
    await guard.opened('/srv/irbot/db.json', 0o100640, refuse);
    expect(said).toEqual([
      'Store file /srv/irbot/db.json is mode 0640, open to other users, and could not be set to 0600 (EPERM): chmod 600 /srv/irbot/db.json',
    ]);
  });

  it('leaves modes as they are with tighten: false (doctor only looks)', async () => {
    const files = await loosened();
    const store = openLowdbStore(path, { tighten: false });
    await store.read();
    await store.readArchive();
    for (const file of files) expect(await mode(file)).toBe(0o644);
  });

  it('refuses, in one line naming database_path, a store under a file or a store that is a folder', async () => {
    const file = join(path, '..', 'f');
    await writeFile(file, '');
    const under = join(file, 'db.json');
    for (const attempt of [openLowdbStore(under).read(), openLowdbStore(under).transact(() => undefined)]) {
      await expect(attempt).rejects.toThrow(
        new StoreFileError(
          `Store file ${under} cannot be made: a folder on its path is a file`,
          'set database_path to a file in a folder',
        ),
      );
    }
    const folder = join(path, '..', 'folder.json');
    await mkdir(folder);
    await expect(openLowdbStore(folder).read()).rejects.toThrow(`Store file ${folder} is a folder: set database_path`);
    expect(await readFile(file, 'utf8')).toBe('');
  });

  it('removes, when it next writes a snapshot, the temporary files a writer killed mid-write left (and nothing else)', async () => {
    const left = [`${path}.4242.0badc0de.tmp`, `${journalPathOf(path)}.4242.0badc0de.tmp`];
    const others = [`${path}.notes.tmp`, join(path, '..', 'other.json.4242.0badc0de.tmp')];
    for (const file of [...left, ...others]) await writeFile(file, '{"half": ');
    const lines: string[] = [];
    await openLowdbStore(path, { log: (line) => void lines.push(line) }).transact(() => undefined);
    for (const file of left) expect(existsSync(file), file).toBe(false);
    for (const file of others) expect(existsSync(file), file).toBe(true);
    expect(lines).toEqual(left.map((file) => `removed ${file}, left by an irbot that stopped while writing it`));
  });

  it('makes a missing store folder readable by its user only', async () => {
    const nested = join(path, '..', 'data', 'db.json');
    await openLowdbStore(nested).transact(() => undefined);
    expect(await mode(join(path, '..', 'data'))).toBe(0o700);
  });
});
