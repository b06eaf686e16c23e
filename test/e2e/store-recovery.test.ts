// A store that cannot be read: every command says which file to move and why, and after the
// README's own recovery commands, run as written, every command works again. Also: modes tightened on open.
import { execFile } from 'node:child_process';
import { chmod, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { openLowdbStore } from '../../src/store/lowdb-store.js';
import { archiveAlert } from '../../src/store/port.js';
import { runCli } from '../support/cli.js';
import { useHarness } from '../support/harness.js';
import { BIN, makeWorkspace, type Result, type Workspace } from '../support/irbot.js';
import { anAlert } from '../support/records.js';

const h = useHarness();
const README = join(BIN, '../../README.md');

/** The README's names: the store is `irbot-db.json` in the workspace, so its commands run as they are written. */
async function workspace(): Promise<Workspace> {
  return makeWorkspace({
    slackApiUrl: h.slack.apiUrl,
    openaiBaseUrl: h.openai.baseURL,
    config: 'feed_channel_id = "C0FEED"\ndatabase_path = "./irbot-db.json"\nopenai_model = "gpt-4o-mini"\n',
  });
}

/** The shell block of the README's Troubleshooting entry for a store file that cannot be read. */
async function readmeRecovery(): Promise<string> {
  const readme = await readFile(README, 'utf8');
  const start = readme.indexOf('**`Store file … is not valid JSON`**');
  expect(start).toBeGreaterThan(0);
  const entry = readme.slice(start, readme.indexOf('\n**', start + 1));
  const block = /```sh\n([\s\S]*?)```/.exec(entry)?.[1];
  if (block === undefined) throw new Error('no sh block in the README entry');
  return block;
}

/** Exit 2 with one stderr line that matches every pattern, nothing on stdout. */
function expectRefusal(result: Result, ...patterns: string[]): void {
  expect(result.code).toBe(2);
  expect(result.stdout).toBe('');
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  for (const pattern of patterns) expect(lines[0]).toContain(pattern);
}

/** A store with an open alert and one closed in the archive (irbot moves it there after it ended), then corrupted. */
async function brokenStore(ws: Workspace): Promise<{ snapshot: string; journal: string }> {
  const snapshot = join(ws.dir, 'irbot-db.json');
  const store = openLowdbStore(snapshot);
  await store.transact((data) => {
    data.alerts['pivot-open'] = anAlert({ id: 'pivot-open' });
    data.alerts['pivot-closed'] = anAlert({ id: 'pivot-closed', chat: { ...anAlert().chat, state: 'dismissed' } });
  });
  await store.transact((data) => archiveAlert(data, 'pivot-closed'));
  await writeFile(snapshot, '{"version": 3, "alerts": {');
  return { snapshot, journal: join(ws.dir, 'irbot-db.journal') };
}

describe('a store that cannot be read', () => {
  it('stops every command with the file to move and why, the journal too when the store file alone is moved', async () => {
    const ws = await workspace();
    const { snapshot, journal } = await brokenStore(ws);
    const corrupt = [`Store file ${snapshot} is not valid JSON`, 'or move both away to start a new store'];
    expectRefusal(await runCli(['status'], ws), ...corrupt, 'irbot-db.journal');

    // Half of it: the store file alone moved away. The journal is named, and left as it was.
    await rename(snapshot, `${snapshot}.moved`);
    const held = await readFile(journal, 'utf8');
    const orphan = [
      `Store journal ${journal} has no store file ${snapshot} beside it`,
      'move irbot-db.journal away too',
    ];
    expectRefusal(await runCli(['status'], ws), ...orphan);
    expectRefusal(await runCli(['send-alert', 'pivot'], ws), ...orphan);
    const doctor = await runCli(['doctor'], ws);
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toContain(`✗ store — Store journal ${journal} has no store file`);
    expect(await readFile(journal, 'utf8')).toBe(held);
  });

  /** A broken store, then the README's commands, as written. */
  async function recovered(): Promise<Workspace> {
    const ws = await workspace();
    await brokenStore(ws);
    await promisify(execFile)('sh', ['-e', '-c', await readmeRecovery()], { cwd: ws.dir });
    return ws;
  }

  it("works again after the README's recovery commands, run as written: status, send-alert, transcript", async () => {
    const ws = await recovered();
    const status = await runCli(['status', '--all', '--json'], ws);
    expect(status.code).toBe(0);
    expect((JSON.parse(status.stdout) as Array<{ id: string }>).map((r) => r.id)).toEqual(['pivot-closed']);
    const sent = await runCli(['send-alert', 'pivot', '--json'], ws);
    expect(sent.stderr).toBe('');
    expect(sent.code).toBe(0);
    const { id } = JSON.parse(sent.stdout) as { id: string };
    expect((await runCli(['transcript', id], ws)).code).toBe(0);
  });

  it("works again after the README's recovery commands, run as written: doctor, listen", async () => {
    const ws = await recovered();
    const doctor = await runCli(['doctor'], ws);
    expect(doctor.stdout).toMatch(
      /✓ store — .*irbot-db\.json does not exist yet; irbot will create it, 1 closed in the archive\n/,
    );
    expect(doctor.code).toBe(0);
    await h.listen(ws);
    await h.startChat(ws);
    await h.slack.waitForCall((c) => c.method === 'chat.postMessage' && c.args.channel === 'U0HAROLD');
  });
});

describe('store file modes', () => {
  it('sets files open to other users to 0600 when a command opens them, and logs it once per file', async () => {
    const ws = await workspace();
    await openLowdbStore(join(ws.dir, 'irbot-db.json')).transact((data) => {
      data.alerts['pivot-open'] = anAlert({ id: 'pivot-open' });
    });
    const files = ['irbot-db.json', 'irbot-db.journal'].map((name) => join(ws.dir, name));
    for (const file of files) await chmod(file, 0o644);
    const status = await runCli(['status'], ws);
    expect(status.code).toBe(0);
    for (const file of files) expect((await stat(file)).mode & 0o777).toBe(0o600);
    const said = status.stderr.trimEnd().split('\n');
    expect(said).toHaveLength(2);
    for (const [i, file] of files.entries()) {
      expect(said[i]).toContain(`Store file ${file} was mode 0644, open to other users: set it to 0600`);
    }
    expect((await runCli(['status'], ws)).stderr).toBe('');
  });
});
