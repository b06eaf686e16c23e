// The alert picker of `irbot chat` without an id, with a scripted select instead of a terminal.
import { describe, expect, it } from 'vitest';
import { newChat } from '../../../src/chat/engine.js';
import { pickAlertId, type Select } from '../../../src/cli/chat.js';
import { type Deps, realDeps } from '../../../src/cli/deps.js';
import { ConfigError } from '../../../src/config/errors.js';
import type { AlertRecord } from '../../../src/store/port.js';
import { memoryStore } from '../../support/memory-ports.js';

const alert = (id: string, createdAt: string, overrides: Partial<AlertRecord> = {}): AlertRecord => ({
  id,
  template: 'pivot',
  name: 'Pivoting',
  description: '',
  userId: 'U0HAROLD',
  properties: {},
  channelId: 'C0FEED',
  ts: '1.1',
  createdAt,
  lastActivityAt: createdAt,
  chat: newChat(),
  transcript: [],
  outbox: [],
  nextSeq: 1,
  ...overrides,
});

/** Only whether stdin and stdout are terminals matters to the picker. */
const on = (isTTY: boolean): Deps => ({ ...realDeps(), stdin: { isTTY }, stdout: { isTTY } }) as unknown as Deps;

async function storeWith(...records: AlertRecord[]) {
  const store = memoryStore();
  await store.transact((data) => {
    for (const r of records) data.alerts[r.id] = r;
  });
  return store;
}

describe('the alert picker', () => {
  it('offers the posted alerts without a chat, newest first, and returns the one picked', async () => {
    const store = await storeWith(
      alert('pivot-old', '2026-11-27T09:00:00Z', { personName: 'Harold' }),
      alert('pivot-new', '2026-11-27T10:00:00Z', { name: 'Pivoting \u001b[2J' }),
      alert('pivot-busy', '2026-11-27T11:00:00Z', { chat: { ...newChat(), state: 'active' } }),
    );
    const asked: Parameters<Select>[0][] = [];
    const select: Select = async (question) => {
      asked.push(question);
      return question.choices[1]?.value ?? '';
    };
    expect(await pickAlertId(store, on(true), select)).toBe('pivot-old');
    expect(asked[0]?.choices).toEqual([
      { name: 'pivot-new  Pivoting ␛[2J — U0HAROLD', value: 'pivot-new' },
      { name: 'pivot-old  Pivoting — Harold', value: 'pivot-old' },
    ]);
  });

  it('says what to do when there is nothing to pick, or no terminal to pick on', async () => {
    const never: Select = async () => {
      throw new Error('not asked');
    };
    await expect(pickAlertId(await storeWith(), on(true), never)).rejects.toThrow(/No alert is waiting for a chat/);
    await expect(pickAlertId(await storeWith(alert('a', '2026-11-27T09:00:00Z')), on(false), never)).rejects.toThrow(
      ConfigError,
    );
  });
});
