import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { alertHeadOf, allAlertHeads, headOfRecord } from '../../../src/store/alert-head.js';
import { archivePathOf, openLowdbStore } from '../../../src/store/lowdb-store.js';
import { type AlertRecord, archiveAlert } from '../../../src/store/port.js';
import { aLine, anAlert } from '../../support/records.js';

const withLines = (overrides: Partial<AlertRecord> = {}) =>
  anAlert({
    transcript: [aLine('Hi, was that you?', 'bot'), aLine('}]"\\ yes, "transcript":[] \\'), aLine('thanks', 'bot')],
    outbox: [{ seq: 1, effect: { type: 'PostInThread', kind: 'note', text: '{"chat":{}}' } }],
    ...overrides,
  });

describe('alertHeadOf', () => {
  it('reads what JSON.parse reads, without the skipped fields and with the transcript up to the first reply', () => {
    const record = withLines({
      // Keys a webhook controls, named like the record's own, and text that looks like JSON.
      properties: { transcript: '[{"from":"person"}]', chat: '{', '"outbox"': ']' },
      description: 'a "quoted" \\ description with } and ]',
      escalation: {
        outcome: 'no_answer',
        reason: 'r',
        severity: 'error',
        at: '2026-12-01T00:00:00Z',
        mention: null,
        pagerduty: false,
      },
    });
    const head = alertHeadOf(JSON.stringify(record));
    expect(head).toEqual(headOfRecord(record));
    expect(head.transcript.map((t) => t.from)).toEqual(['bot', 'person']);
    expect(head).not.toHaveProperty('outbox');
    expect(head).not.toHaveProperty('properties');
    expect(head.escalation?.outcome).toBe('no_answer');
  });

  it('agrees with JSON.parse for any text in any field', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme-composite' }),
        fc.string(),
        fc.dictionary(fc.string(), fc.string()),
        (text, name, properties) => {
          const record = withLines({ name, properties, transcript: [aLine(text, 'bot'), aLine(name), aLine(text)] });
          expect(alertHeadOf(JSON.stringify(record))).toEqual(headOfRecord(record));
        },
      ),
    );
  });

  it('throws on a torn line, as JSON.parse does', () => {
    const line = JSON.stringify(withLines());
    for (const cut of [10, line.indexOf('"transcript"') + 20, line.indexOf('"outbox"') + 15, line.length - 1]) {
      expect(() => alertHeadOf(line.slice(0, cut)), String(cut)).toThrow(SyntaxError);
    }
  });
});

describe('allAlertHeads', () => {
  it('reads the archive and the working set, the working copy winning', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'irbot-heads-')), 'db.json');
    const store = openLowdbStore(path);
    await store.transact((data) => {
      data.alerts.a = withLines({ id: 'a', name: 'archived' });
      data.alerts.b = withLines({ id: 'b', name: 'archived, then open again' });
      archiveAlert(data, 'a');
      archiveAlert(data, 'b');
    });
    await store.transact((data) => {
      data.alerts.b = withLines({ id: 'b', name: 'open' });
      data.alerts.c = withLines({ id: 'c', name: 'working' });
    });
    const heads = await allAlertHeads(store);
    expect(heads.map((h) => [h.id, h.name])).toEqual([
      ['a', 'archived'],
      ['b', 'open'],
      ['c', 'working'],
    ]);
    expect(heads.every((h) => h.transcript.length === 2)).toBe(true);
  });

  it('skips a torn last line of the archive, and reports damage elsewhere', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'irbot-heads-')), 'db.json');
    const line = JSON.stringify(withLines({ id: 'a' }));
    await writeFile(archivePathOf(path), `${line}\n${line.slice(0, 40)}`);
    expect((await openLowdbStore(path).readArchiveHeads()).map((h) => h.id)).toEqual(['a']);
    await writeFile(archivePathOf(path), `${line.slice(0, 40)}\n${line}\n`);
    await expect(openLowdbStore(path).readArchiveHeads()).rejects.toThrow(/line 1 is not valid JSON/);
  });
});
