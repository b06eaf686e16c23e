// An alert's properties come back from either store in the order the source gave them: jsonb orders an object's
// keys shortest first, so PostgreSQL keeps them as pairs (rows.ts); the details, the case file, the prompts and the
// sink and PagerDuty bodies list them alike whichever store, and a `__proto__` property stays one.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transcriptOf } from '../../../src/cli/transcript.js';
import { detailsText } from '../../../src/slack/blocks.js';
import { openLowdbStore } from '../../../src/store/lowdb-store.js';
import { openPgStore } from '../../../src/store/pg/pg-store.js';
import type { AlertRecord, Store } from '../../../src/store/port.js';
import { createTestDatabase } from '../../support/pg.js';
import { anAlert } from '../../support/records.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
const opened: Store[] = [];
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close?.()));
  await db.drop();
});

const PROPERTIES: Record<string, string> = JSON.parse(
  '{"source_host": "web-1.example.org", "ip": "203.0.113.7", "__proto__": "x", "country": "NZ", "mfa": "passed"}',
);

describe.each([
  ['lowdb', async () => join(await mkdtemp(join(tmpdir(), 'irbot-order-')), 'db.json')],
  ['PostgreSQL', async () => db.url],
] as const)('property order: %s', (name, where) => {
  it('reads an alert back with its properties in the order they were given', async () => {
    const at = await where();
    const open = () => {
      const store = name === 'lowdb' ? openLowdbStore(at) : openPgStore(at, { poolSize: 2 });
      opened.push(store);
      return store;
    };
    await open().transact((data) => {
      data.alerts.a = anAlert({ id: 'a', properties: { ...PROPERTIES } });
    });
    const back = (await open().read()).alerts.a as AlertRecord;
    expect(Object.keys(back.properties)).toEqual(Object.keys(PROPERTIES));
    expect(Object.hasOwn(back.properties, '__proto__')).toBe(true);
    expect(Object.keys(transcriptOf(back).alert.properties)).toEqual(Object.keys(PROPERTIES));
    expect(detailsText(back)).toBe(detailsText(anAlert({ id: 'a', properties: PROPERTIES })));
  });
});
