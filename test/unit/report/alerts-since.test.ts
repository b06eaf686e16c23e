import { appendFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FACTS_VERSION } from '../../../src/report/facts.js';
import { readArchive } from '../../../src/store/archive.js';
import { factsPathOf, modeGuard } from '../../../src/store/files.js';
import { archivePathOf, openLowdbStore } from '../../../src/store/lowdb-store.js';
import { archiveAlert, factsSince } from '../../../src/store/port.js';
import { aLine, anAlert } from '../../support/records.js';

describe('factsSince', () => {
  it('reads the archive and the working set, the working copy winning, and skips older archived lines', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'irbot-report-')), 'db.json');
    const store = openLowdbStore(path);
    const at = (day: number) => `2026-11-${String(day).padStart(2, '0')}T10:00:00.000Z`;
    await store.transact((data) => {
      data.alerts.old = anAlert({ id: 'old', createdAt: at(1), transcript: [aLine('"createdAt":"2026-12-01')] });
      data.alerts.a = anAlert({ id: 'a', createdAt: at(10), name: 'archived' });
      data.alerts.b = anAlert({ id: 'b', createdAt: at(11), name: 'archived' });
      for (const id of ['old', 'a', 'b']) archiveAlert(data, id);
    });
    await store.transact((data) => {
      data.alerts.b = anAlert({ id: 'b', createdAt: at(11), name: 'open again' });
      data.alerts.c = anAlert({ id: 'c', createdAt: at(12), name: 'working' });
      data.alerts.early = anAlert({ id: 'early', createdAt: at(2) });
    });
    // Lines the text alone cannot judge: a webhook's property named createdAt, a time written otherwise.
    await appendFile(
      archivePathOf(path),
      [
        anAlert({ id: 'nested-old', createdAt: at(3), properties: { createdAt: '2099-01-01T00:00:00.000Z' } }),
        anAlert({ id: 'nested-new', createdAt: at(13), properties: { createdAt: '2000-01-01T00:00:00.000Z' } }),
        anAlert({ id: 'odd-old', createdAt: '2026-11-04T10:00:00Z' }),
      ]
        .map((a) => `${JSON.stringify(a)}\n`)
        .join(''),
    );
    const since = async (iso: string | null) =>
      (await factsSince(store, iso)).map((a) => `${a.id}:${a.name === 'open again' ? 'open' : ''}`);
    expect(await since(at(5))).toEqual(['a:', 'nested-new:', 'b:open', 'c:']);
    expect(await since(null)).toHaveLength(8);
    // Skipped means never parsed: an old line the report does not need cannot stop it (status --all reports it).
    // Lines the facts file does not cover (appended here behind the store's back) are read from where it ends.
    await appendFile(archivePathOf(path), `{"id":"torn","createdAt":"${at(1)}","chat":{\n`);
    await appendFile(archivePathOf(path), `${JSON.stringify(anAlert({ id: 'last', createdAt: at(14) }))}\n`);
    expect(await since(at(5))).toEqual(['a:', 'nested-new:', 'last:', 'b:open', 'c:']);
    await expect(since(null)).rejects.toThrow(/line 4 after byte \d+ is not valid JSON/);
  });

  it('reads lines that cross the 4 MiB chunks it reads the archive in', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'irbot-report-')), 'db.json');
    const big = (id: string, size: number) => anAlert({ id, description: 'x'.repeat(size) });
    // The first line ends just past the first chunk: the second chunk starts with its end.
    const lines = [big('a', 4 * 2 ** 20 - 100), big('b', 1000), anAlert({ id: 'c' })];
    await appendFile(archivePathOf(path), lines.map((a) => `${JSON.stringify(a)}\n`).join(''));
    const read = await readArchive(archivePathOf(path), modeGuard({}), undefined, (a) => ({
      id: a.id,
      size: a.description.length,
    }));
    expect(read).toEqual([
      { id: 'a', size: 4 * 2 ** 20 - 100 },
      { id: 'b', size: 1000 },
      { id: 'c', size: anAlert().description.length },
    ]);
  });

  it('reads the facts kept beside the archive, never the archived alerts they cover', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'irbot-report-')), 'db.json');
    const store = openLowdbStore(path);
    await store.transact((data) => {
      for (const id of ['a', 'b']) {
        data.alerts[id] = anAlert({ id, name: `Pivoting ${id}` });
        archiveAlert(data, id);
      }
    });
    const facts = await readFile(factsPathOf(archivePathOf(path)), 'utf8');
    expect(facts.split('\n')[0]).toBe(`{"factsVersion":${FACTS_VERSION}}`);
    // The archive's lines are garbled (same length): the report still reads, from the facts.
    const archive = await readFile(archivePathOf(path), 'utf8');
    await writeFile(archivePathOf(path), archive.replace(/[{}]/g, '#'));
    expect((await factsSince(store, null)).map((f) => f.name)).toEqual(['Pivoting a', 'Pivoting b']);
  });

  it('derives the facts again where the file does not continue the archive: another version, a restored archive', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'irbot-report-')), 'db.json');
    const store = openLowdbStore(path);
    const archiveOne = (id: string) =>
      store.transact((data) => {
        data.alerts[id] = anAlert({ id, name: `Pivoting ${id}` });
        archiveAlert(data, id);
      });
    await archiveOne('a');
    const factsFile = factsPathOf(archivePathOf(path));
    const names = async () => (await factsSince(store, null)).map((f) => f.name);
    // Facts another irbot wrote: not used, but derived from the archive, and written anew at the next archiving.
    await writeFile(factsFile, '{"factsVersion":0}\n{"end":1,"facts":{"id":"a","name":"stale"}}\n');
    expect(await names()).toEqual(['Pivoting a']);
    await archiveOne('b');
    expect(await names()).toEqual(['Pivoting a', 'Pivoting b']);
    expect((await readFile(factsFile, 'utf8')).split('\n')[0]).toBe(`{"factsVersion":${FACTS_VERSION}}`);
    // An archive restored from an older backup, shorter than the facts say: the archive is what counts.
    const lines = (await readFile(archivePathOf(path), 'utf8')).split('\n');
    await writeFile(archivePathOf(path), `${lines[0]}\n`);
    expect(await names()).toEqual(['Pivoting a']);
    await archiveOne('c');
    expect(await names()).toEqual(['Pivoting a', 'Pivoting c']);
  });
});
