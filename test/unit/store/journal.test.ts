// Tests of the journal's pure half: what `track` writes for a change, and that `applyLine` replays it exactly.
import { types } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ChatState } from '../../../src/chat/types.js';
import { applyLine, type Fields, JournalDamage, type JournalLine, track } from '../../../src/store/journal.js';
import { type AlertRecord, alertsOf, emptyStore, type StoreData } from '../../../src/store/port.js';
import { aLine, anAlert } from '../../support/records.js';

function aState(alerts: AlertRecord[], seenEvents: Record<string, string> = {}): StoreData {
  return { ...emptyStore(), alerts: Object.fromEntries(alerts.map((a) => [a.id, a])), seenEvents };
}

/** Runs `change` on a tracked view of `state` and returns the line it produced, parsed (null: none). */
function lineOf(state: StoreData, change: (view: StoreData) => void, heads = new Map<string, Fields>()) {
  const tracked = track(state, heads);
  change(tracked.view);
  const { line, replaced } = tracked.finish(1, 1);
  expect(replaced).toBe(false);
  return line === null ? null : (JSON.parse(line) as JournalLine);
}

describe('track', () => {
  it('writes nothing for a change that only reads alerts, by id or by scanning', () => {
    const state = aState([anAlert({ id: 'a', transcript: [aLine('hi')] }), anAlert({ id: 'b' })]);
    const line = lineOf(state, (view) => {
      void view.alerts.a?.transcript.length;
      void view.alerts.missing;
      void Object.keys(view.alerts);
      for (const found of alertsOf(view)) void found.chat.state;
      void view.seenEvents.Ev1;
    });
    expect(line).toBeNull();
  });

  it('does not see a change made to an alert found by scanning: it must be fetched again by id', () => {
    const state = aState([anAlert({ id: 'a' })]);
    const line = lineOf(state, (view) => {
      for (const found of alertsOf(view)) found.name = 'renamed';
    });
    expect(line).toBeNull();
    expect(state.alerts.a?.name).toBe('renamed');
    expect(state.alerts.a).not.toHaveProperty('personName');
    expect(state.alerts.a?.description).toBe(anAlert({ id: 'a' }).description);
  });

  it('writes only the alerts that changed, among those read', () => {
    const state = aState([anAlert({ id: 'a' }), anAlert({ id: 'b' }), anAlert({ id: 'c' })]);
    const line = lineOf(state, (view) => {
      for (const found of alertsOf(view)) {
        const record = view.alerts[found.id];
        if (record && found.id === 'b') record.chat = { ...record.chat, state: 'active' };
      }
    });
    expect(Object.keys(line?.a ?? {})).toEqual(['b']);
    // Only the field that changed: an alert's name, description and properties are not written again.
    expect(line?.a?.b?.f).toEqual({ chat: expect.objectContaining({ state: 'active' }) });
    expect(line?.s).toBeUndefined();
  });

  it('writes an appended transcript from its old length, and only the new lines', () => {
    const state = aState([anAlert({ id: 'a', transcript: [aLine('one'), aLine('two')] })]);
    const line = lineOf(state, (view) => {
      view.alerts.a?.transcript.push(aLine('three'), aLine('four', 'bot'));
    });
    expect(line?.a?.a).toMatchObject({ t0: 2, t: [aLine('three'), aLine('four', 'bot')] });
    expect(line?.a?.a?.f).toEqual({});
  });

  it('writes a replaced transcript array whole, from 0, even when it starts with the same lines', () => {
    const one = aLine('one');
    const state = aState([anAlert({ id: 'a', transcript: [one] })]);
    const line = lineOf(state, (view) => {
      const record = view.alerts.a as AlertRecord;
      record.transcript = [...record.transcript, aLine('two')];
    });
    expect(line?.a?.a).toMatchObject({ t0: 0, t: [one, aLine('two')] });
  });

  it('writes a transcript cut short and grown again whole', () => {
    const state = aState([anAlert({ id: 'a', transcript: [aLine('one'), aLine('two')] })]);
    const line = lineOf(state, (view) => {
      const record = view.alerts.a as AlertRecord;
      record.transcript.pop();
      record.transcript.push(aLine('deux'), aLine('trois'));
    });
    expect(line?.a?.a).toMatchObject({ t0: 0, t: [aLine('one'), aLine('deux'), aLine('trois')] });
  });

  it('writes a field change with the transcript untouched as a continuation of nothing', () => {
    const state = aState([anAlert({ id: 'a', transcript: [aLine('one')] })]);
    const line = lineOf(state, (view) => {
      const record = view.alerts.a as AlertRecord;
      record.outbox.push({ seq: record.nextSeq, effect: { type: 'Nudge' } });
      record.nextSeq++;
    });
    expect(line?.a?.a).toMatchObject({ t0: 1, t: [], f: { nextSeq: 2, outbox: [{ seq: 1 }] } });
    expect(Object.keys(line?.a?.a?.f ?? {}).sort()).toEqual(['nextSeq', 'outbox']);
  });

  it('writes a deleted alert as null, and nothing for one added and deleted in the same change', () => {
    const state = aState([anAlert({ id: 'a' })]);
    const line = lineOf(state, (view) => {
      delete view.alerts.a;
      view.alerts.b = anAlert({ id: 'b' });
      delete view.alerts.b;
    });
    expect(line?.a).toEqual({ a: null });
  });

  it('writes event ids set and deleted', () => {
    const state = aState([], { Ev1: '2026-11-27T10:00:00.000Z' });
    const line = lineOf(state, (view) => {
      delete view.seenEvents.Ev1;
      view.seenEvents.Ev2 = '2026-11-27T10:01:00.000Z';
    });
    expect(line).toEqual({ g: 1, q: 1, s: { Ev1: null, Ev2: '2026-11-27T10:01:00.000Z' } });
  });

  it('undoes what a change did to event ids and snoozes, and forgets the heads of the alerts it touched', () => {
    const snooze = {
      id: 'z1',
      template: 'pivot',
      until: '2026-12-05T00:00:00.000Z',
      reason: 'known',
      createdBy: { id: 'U1', via: 'slack' as const },
      createdAt: '2026-12-04T00:00:00.000Z',
    };
    const state: StoreData = { ...aState([anAlert({ id: 'a' })], { kept: '1', gone: '2' }), snoozes: { z1: snooze } };
    const before = structuredClone(state);
    const heads = new Map<string, Fields>();
    const tracked = track(state, heads);
    tracked.view.seenEvents.kept = 'changed';
    tracked.view.seenEvents.added = '3';
    delete tracked.view.seenEvents.gone;
    const z1 = tracked.view.snoozes?.z1;
    if (z1) z1.removedAt = '2026-12-04T01:00:00.000Z';
    (tracked.view.snoozes as Record<string, typeof snooze>).z2 = { ...snooze, id: 'z2' };
    void tracked.view.alerts.a?.chat;
    tracked.changes();
    expect(heads.has('a')).toBe(true);
    tracked.undo();
    expect(state.seenEvents).toEqual(before.seenEvents);
    expect(state.snoozes).toEqual(before.snoozes);
    expect(heads.has('a')).toBe(false);
  });

  it('remembers each alert as committed across changes, so that a later read-only change writes nothing', () => {
    const state = aState([anAlert({ id: 'a' })]);
    const heads = new Map<string, Fields>();
    const rename = (view: StoreData) => {
      (view.alerts.a as AlertRecord).name = 'renamed';
    };
    expect(lineOf(state, rename, heads)).not.toBeNull();
    expect(lineOf(state, rename, heads)).toBeNull();
    expect(lineOf(state, (view) => void view.alerts.a?.name, heads)).toBeNull();
  });

  const replacements: [string, (view: StoreData) => void][] = [
    [
      'alerts',
      (view) => {
        view.alerts = { ...view.alerts, b: anAlert({ id: 'b' }) };
      },
    ],
    [
      'seenEvents',
      (view) => {
        view.seenEvents = { Ev9: 'now' };
      },
    ],
    [
      'version',
      (view) => {
        view.version = 2;
      },
    ],
  ];
  it.each(replacements)(
    'reports a replaced %s (the store then writes a new snapshot) and leaves the alerts unwatched',
    (_, change) => {
      const state = aState([anAlert({ id: 'a' })], { Ev1: 'then' });
      const heads = new Map([['a', new Map([['name', '"stale"']])]]);
      const tracked = track(state, heads);
      change(tracked.view);
      const { version, seenEvents } = tracked.view;
      const expected = {
        version,
        alerts: Object.fromEntries(alertsOf(tracked.view).map((a) => [a.id, a])),
        seenEvents,
      };
      expect(tracked.finish(1, 1)).toEqual({ line: null, replaced: true });
      expect(heads.size).toBe(0);
      expect(types.isProxy(state.alerts)).toBe(false);
      expect(types.isProxy(state.seenEvents)).toBe(false);
      expect(state).toEqual(expected);
    },
  );
});

describe('applyLine', () => {
  const withTranscript = () => aState([anAlert({ id: 'a', transcript: [aLine('one'), aLine('two')] })]);

  it('applies a line of the expected generation and number', () => {
    const state = withTranscript();
    (state.alerts.a as AlertRecord).personName = 'Harold';
    const patch = { f: { name: 'renamed' }, d: ['personName'], t0: 2, t: [aLine('three')] };
    applyLine(state, JSON.stringify({ g: 3, q: 7, a: { a: patch }, s: { Ev1: 'now' } }), { g: 3, q: 7 });
    expect(state.alerts.a?.transcript).toEqual([aLine('one'), aLine('two'), aLine('three')]);
    expect(state.alerts.a?.name).toBe('renamed');
    expect(state.alerts.a).not.toHaveProperty('personName');
    expect(state.alerts.a?.description).toBe(anAlert({ id: 'a' }).description);
    expect(state.seenEvents).toEqual({ Ev1: 'now' });
  });

  it.each([
    ['a line of another number', { g: 3, q: 6 }],
    ['a line of another generation', { g: 2, q: 7 }],
  ])('rejects %s as out of sequence', (_, line) => {
    expect(() => applyLine(withTranscript(), JSON.stringify(line), { g: 3, q: 7 })).toThrow(JournalDamage);
    expect(() => applyLine(withTranscript(), JSON.stringify(line), { g: 3, q: 7 })).toThrow(/out of sequence/);
  });

  it.each([
    ['a transcript longer than it is', 'a', 3],
    ['a transcript shorter than it is', 'a', 1],
    ['the transcript of an alert that is not there', 'gone', 1],
  ])('rejects a continuation of %s', (_, id, t0) => {
    const line = JSON.stringify({ g: 1, q: 1, a: { [id]: { h: anAlert({ id }), t0, t: [aLine('two')] } } });
    expect(() => applyLine(withTranscript(), line, { g: 1, q: 1 })).toThrow(JournalDamage);
    expect(() => applyLine(withTranscript(), line, { g: 1, q: 1 })).toThrow(/continues a transcript/);
  });

  it('rejects a line that is not JSON', () => {
    expect(() => applyLine(withTranscript(), '{"g":1,"q":1,"a":{', { g: 1, q: 1 })).toThrow(JournalDamage);
  });
});

// Property: whatever a change does through the tracked view, its line replayed on the state as it was gives the
// state as it is. Ids include characters JSON must escape; lines are fresh objects (the transcript is append-only).
const ids = ['pivot-1', 'mfa-2', 'quote"id\\', 'üñï-€'];
const eventIds = ['Ev1', 'Ev2', 'Ev"3'];
const id = fc.constantFrom(...ids);
const text = fc.string({ unit: 'binary', maxLength: 12 });
const texts = fc.array(text, { maxLength: 3 });
const transcriptOf = (lines: string[]) => lines.map((t, i) => aLine(t, i % 2 === 0 ? 'person' : 'bot'));

type Op =
  | { kind: 'add'; id: string; name: string; lines: string[] }
  | { kind: 'delete'; id: string }
  | { kind: 'push'; id: string; lines: string[] }
  | { kind: 'replaceTranscript'; id: string; lines: string[] }
  | { kind: 'truncate'; id: string; keep: number; lines: string[] }
  | { kind: 'rename'; id: string; name: string }
  | { kind: 'chat'; id: string; state: ChatState }
  | { kind: 'enqueue'; id: string; text: string }
  | { kind: 'claim'; id: string; pid: number }
  | { kind: 'finishFirst'; id: string }
  | { kind: 'personName'; id: string; name: string | null }
  | { kind: 'rewrite'; id: string }
  | { kind: 'seen'; key: string; at: string }
  | { kind: 'unseen'; key: string }
  | { kind: 'read'; id: string }
  | { kind: 'scan' };

const READ_ONLY = new Set<Op['kind']>(['read', 'scan', 'rewrite']);

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('add' as const), id, name: text, lines: texts }),
  fc.record({ kind: fc.constant('delete' as const), id }),
  fc.record({ kind: fc.constant('push' as const), id, lines: texts }),
  fc.record({ kind: fc.constant('replaceTranscript' as const), id, lines: texts }),
  fc.record({ kind: fc.constant('truncate' as const), id, keep: fc.nat(3), lines: texts }),
  fc.record({ kind: fc.constant('rename' as const), id, name: fc.constantFrom('Impossible travel', 'MFA reset') }),
  fc.record({
    kind: fc.constant('chat' as const),
    id,
    state: fc.constantFrom<ChatState>('posted', 'queued', 'active', 'ended'),
  }),
  fc.record({ kind: fc.constant('enqueue' as const), id, text }),
  fc.record({ kind: fc.constant('claim' as const), id, pid: fc.nat(3) }),
  fc.record({ kind: fc.constant('finishFirst' as const), id }),
  fc.record({ kind: fc.constant('personName' as const), id, name: fc.option(text) }),
  fc.record({ kind: fc.constant('rewrite' as const), id }),
  fc.record({ kind: fc.constant('seen' as const), key: fc.constantFrom(...eventIds), at: text }),
  fc.record({ kind: fc.constant('unseen' as const), key: fc.constantFrom(...eventIds) }),
  fc.record({ kind: fc.constant('read' as const), id }),
  fc.constant({ kind: 'scan' as const }),
);

/** Performs one operation the way the app does: alerts fetched by id, transcripts only appended or replaced. */
function perform(view: StoreData, op: Op): void {
  if (op.kind === 'scan') {
    for (const found of alertsOf(view)) void found.transcript.length;
    return;
  }
  if (op.kind === 'seen') {
    view.seenEvents[op.key] = op.at;
    return;
  }
  if (op.kind === 'unseen') {
    delete view.seenEvents[op.key];
    return;
  }
  if (op.kind === 'add') {
    view.alerts[op.id] = anAlert({ id: op.id, name: op.name, transcript: transcriptOf(op.lines) });
    return;
  }
  if (op.kind === 'delete') {
    delete view.alerts[op.id];
    return;
  }
  const record = view.alerts[op.id];
  if (!record) return;
  switch (op.kind) {
    case 'push':
      record.transcript.push(...transcriptOf(op.lines));
      break;
    case 'replaceTranscript':
      record.transcript = transcriptOf(op.lines);
      break;
    case 'truncate':
      record.transcript.length = Math.min(op.keep, record.transcript.length);
      record.transcript.push(...transcriptOf(op.lines));
      break;
    case 'rename':
      record.name = op.name;
      break;
    case 'chat':
      record.chat = { ...record.chat, state: op.state, nudges: record.chat.nudges + 1 };
      break;
    case 'enqueue':
      record.outbox.push({ seq: record.nextSeq, effect: { type: 'SendDm', text: op.text, from: 'bot' } });
      record.nextSeq++;
      break;
    case 'claim': {
      const first = record.outbox[0];
      if (first) first.claim = { pid: op.pid, at: '2026-11-27T10:06:00.000Z' };
      break;
    }
    case 'finishFirst':
      record.outbox.shift();
      break;
    case 'personName':
      if (op.name === null) delete record.personName;
      else record.personName = op.name;
      break;
    case 'rewrite':
      view.alerts[op.id] = record;
      break;
    case 'read':
      void record.chat.state;
      break;
  }
}

const initialState = fc
  .record({
    alerts: fc.uniqueArray(fc.record({ id, name: text, lines: texts }), { selector: (a) => a.id }),
    seen: fc.dictionary(fc.constantFrom(...eventIds), text),
  })
  .map(({ alerts, seen }) =>
    aState(
      alerts.map((a) => anAlert({ id: a.id, name: a.name, transcript: transcriptOf(a.lines) })),
      seen,
    ),
  );

describe('journal properties', () => {
  it('for any sequence of changes: each line replayed on the state as it was gives the state as it is', () => {
    fc.assert(
      fc.property(initialState, fc.array(fc.array(op, { maxLength: 8 }), { maxLength: 6 }), (initial, changes) => {
        const state = structuredClone(initial);
        const replica = structuredClone(initial);
        const heads = new Map<string, Fields>();
        let q = 0;
        for (const ops of changes) {
          const tracked = track(state, heads);
          for (const o of ops) perform(tracked.view, o);
          const { line, replaced } = tracked.finish(4, q + 1);
          expect(replaced).toBe(false);
          if (ops.every((o) => READ_ONLY.has(o.kind))) expect(line).toBeNull();
          if (line !== null) {
            expect(line.endsWith('\n')).toBe(true);
            expect(line.slice(0, -1)).not.toContain('\n');
            applyLine(replica, line, { g: 4, q: ++q });
          }
          expect(replica).toStrictEqual(state);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
