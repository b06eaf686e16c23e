// Closed chats live in the archive beside the store: status --all, transcript and chat still find them.
import { writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { newChat } from '../../src/chat/engine.js';
import { archivePathOf } from '../../src/store/lowdb-store.js';
import type { AlertRecord } from '../../src/store/port.js';
import { runCli } from '../support/cli.js';
import { makeWorkspace, runIrbot } from '../support/irbot.js';

const at = '2026-11-27T10:00:00.000Z';
const record = (id: string, chat: Partial<AlertRecord['chat']>): AlertRecord => ({
  id,
  template: 'pivot',
  name: 'Pivoting',
  description: 'User was found pivoting',
  userId: 'U0HAROLD',
  properties: {},
  channelId: 'C0FEED',
  ts: '1700000000.000100',
  createdAt: at,
  lastActivityAt: at,
  chat: { ...newChat(), ...chat },
  transcript: [{ from: 'person', text: 'yes, that was me', at }],
  outbox: [],
  nextSeq: 1,
});

describe('the archive', () => {
  it('keeps closed chats findable once they left the working set', async () => {
    const ws = await makeWorkspace({ slackApiUrl: 'http://127.0.0.1:9/api/' });
    const open = record('pivot-open', { state: 'active', startedAt: at });
    const closed = record('pivot-closed', { state: 'ended', outcome: 'answered', aware: true, endedAt: at });
    await writeFile(ws.dbPath, JSON.stringify({ version: 2, alerts: { [open.id]: open }, seenEvents: {} }));
    await writeFile(archivePathOf(ws.dbPath), `${JSON.stringify(closed)}\n`);

    const status = await runCli(['status', '--json'], ws);
    expect(JSON.parse(status.stdout).map((r: { id: string }) => r.id)).toEqual(['pivot-open']);
    const all = await runCli(['status', '--all', '--json'], ws);
    expect(JSON.parse(all.stdout).map((r: { id: string; outcome: string }) => [r.id, r.outcome])).toEqual([
      ['pivot-closed', 'answered'],
      ['pivot-open', null],
    ]);
    const transcript = await runIrbot(['transcript', 'pivot-closed'], ws);
    expect(transcript.code).toBe(0);
    expect(transcript.stdout).toContain('yes, that was me');
    const chat = await runIrbot(['chat', 'pivot-closed'], ws);
    expect(chat.code).toBe(2);
    expect(chat.stderr).toContain("Alert 'pivot-closed' is already ended");
  });
});
