// The store's lock library loads with the first lock: a command that only reads the JSON store (status, report,
// transcript) starts without it (src/store/lock.ts), and a transaction still takes the lock.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const STORE = fileURLToPath(new URL('../../../dist/store/lowdb-store.js', import.meta.url));

describe('the JSON store in a fresh Node', () => {
  it('reads without loading proper-lockfile, and loads it for its first transaction', async ({ onTestFinished }) => {
    const dir = await mkdtemp(join(tmpdir(), 'irbot-lock-loading-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const script = `
      import { createRequire } from 'node:module';
      const { openLowdbStore } = await import(${JSON.stringify(STORE)});
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((f) => f.includes('proper-lockfile'));
      const store = openLowdbStore(${JSON.stringify(join(dir, 'db.json'))});
      await store.read();
      const afterRead = loaded();
      await store.transact((data) => { data.seenEvents.Ev1 = new Date().toISOString(); });
      const afterTransaction = loaded();
      const other = openLowdbStore(${JSON.stringify(join(dir, 'db.json'))});
      console.log(JSON.stringify({ afterRead, afterTransaction, seen: Object.keys((await other.read()).seenEvents) }));`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({ afterRead: false, afterTransaction: true, seen: ['Ev1'] });
  });
});
