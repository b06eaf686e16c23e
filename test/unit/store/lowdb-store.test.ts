import { existsSync } from 'node:fs';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/errors.js';
import { archivePathOf, openLowdbStore } from '../../../src/store/lowdb-store.js';
import { type AlertRecord, archiveAlert } from '../../../src/store/port.js';

let path: string;
beforeEach(async () => {
  path = join(await mkdtemp(join(tmpdir(), 'irbot-store-')), 'db.json');
});

describe('lowdb store', () => {
  it('reads an empty store when the file does not exist yet', async () => {
    expect(await openLowdbStore(path).read()).toEqual({ version: 3, alerts: {}, seenEvents: {} });
  });

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

  it('sees what another process wrote since its own last write', async () => {
    const mine = openLowdbStore(path);
    await mine.transact((data) => {
      data.seenEvents.mine = '1';
    });
    await openLowdbStore(path).transact((data) => {
      data.seenEvents.theirs = '2';
    });
    await mine.transact((data) => {
      data.seenEvents.again = '3';
    });
    expect(Object.keys((await mine.read()).seenEvents).sort()).toEqual(['again', 'mine', 'theirs']);
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
