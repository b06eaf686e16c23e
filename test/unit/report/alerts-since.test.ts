import { appendFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { archivePathOf, openLowdbStore } from '../../../src/store/lowdb-store.js';
import { archiveAlert, pickAlertsSince } from '../../../src/store/port.js';
import { aLine, anAlert } from '../../support/records.js';

describe('pickAlertsSince', () => {
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
      (await pickAlertsSince(store, iso, (a) => ({ id: a.id, open: a.name === 'open again' }))).map(
        (a) => `${a.id}:${a.open ? 'open' : ''}`,
      );
    expect(await since(at(5))).toEqual(['a:', 'nested-new:', 'b:open', 'c:']);
    expect(await since(null)).toHaveLength(8);
    // Skipped means never parsed: an old line the report does not need cannot stop it (status --all reports it).
    await appendFile(archivePathOf(path), `{"id":"torn","createdAt":"${at(1)}","chat":{\n`);
    await appendFile(archivePathOf(path), `${JSON.stringify(anAlert({ id: 'last', createdAt: at(14) }))}\n`);
    expect(await since(at(5))).toEqual(['a:', 'nested-new:', 'last:', 'b:open', 'c:']);
    await expect(since(null)).rejects.toThrow(/line 7 is not valid JSON/);
  });

  it('reads lines that cross the 4 MiB chunks it reads the archive in', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'irbot-report-')), 'db.json');
    const big = (id: string, size: number) => anAlert({ id, description: 'x'.repeat(size) });
    // The first line ends just past the first chunk: the second chunk starts with its end.
    const lines = [big('a', 4 * 2 ** 20 - 100), big('b', 1000), anAlert({ id: 'c' })];
    await appendFile(archivePathOf(path), lines.map((a) => `${JSON.stringify(a)}\n`).join(''));
    const read = await openLowdbStore(path).scanArchive(undefined, (a) => ({ id: a.id, size: a.description.length }));
    expect(read).toEqual([
      { id: 'a', size: 4 * 2 ** 20 - 100 },
      { id: 'b', size: 1000 },
      { id: 'c', size: anAlert().description.length },
    ]);
  });
});
