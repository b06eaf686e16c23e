// Store schema migrations: each takes the data of one version to the next. Pure; the store backs the file up first.
import type { StoreData } from './port.js';

type Loose = Record<string, unknown> & { alerts: Record<string, { chat: Record<string, unknown> }> };

const MIGRATIONS: Record<number, (data: Loose) => void> = {
  // 2: silence deadlines and failed chats.
  1: (data) => {
    for (const alert of Object.values(data.alerts)) {
      alert.chat.quietSince ??= null;
      alert.chat.failure ??= null;
    }
  },
  // 3: the journal beside the store file; the data is as in 2, but an irbot that reads 2 would miss the journal.
  2: () => undefined,
};

/** Brings data of any older schema up to `target`, in place; returns the version it started from. */
export function migrate(data: StoreData, target: number): number {
  const from = data.version;
  for (let version = from; version < target; version++) {
    const up = MIGRATIONS[version];
    if (!up) throw new Error(`no migration from store schema ${version}`);
    up(data as unknown as Loose);
    data.version = version + 1;
  }
  return from;
}
