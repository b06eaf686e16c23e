// The README's receiver example, extracted as written and run with node, against irbot's real signed deliveries:
// it accepts them (a body with non-ASCII text included) and refuses a wrong secret or a stale timestamp.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveryBody } from '../../src/deliver/events.js';
import type { Delivery } from '../../src/deliver/port.js';
import { createSinkTransport } from '../../src/deliver/sink.js';
import { anAlert } from '../support/records.js';

const README = resolve(dirname(fileURLToPath(import.meta.url)), '../../README.md');
const SECRET = 'whsec_readme';

/** The js block after "A receiver in Node" in the README. */
async function receiverExample(): Promise<string> {
  const readme = await readFile(README, 'utf8');
  const start = readme.indexOf('A receiver in Node');
  expect(start).toBeGreaterThan(0);
  const block = /```js\n([\s\S]*?)```/.exec(readme.slice(start))?.[1];
  if (block === undefined) throw new Error('no js block after "A receiver in Node" in the README');
  return block;
}

let child: ChildProcess;
let url = '';
let stdout = '';

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'irbot-receiver-'));
  await writeFile(join(dir, 'receiver.mjs'), await receiverExample());
  child = spawn(process.execPath, ['receiver.mjs'], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', IRBOT_SINK_SECRET: SECRET, PORT: '0' },
  });
  child.stdout?.setEncoding('utf8');
  url = await new Promise<string>((done, fail) => {
    child.stdout?.on('data', (chunk: string) => {
      stdout += chunk;
      const port = /listening on (\d+)/.exec(stdout)?.[1];
      if (port) done(`http://127.0.0.1:${port}/`);
    });
    child.on('exit', (code) => fail(new Error(`the README's receiver exited ${code}`)));
  });
});

afterAll(() => {
  child.kill();
});

const alert = anAlert({
  id: 'pivot-3f9a2c',
  transcript: [{ from: 'person', text: 'oui, c’était moi ✓ — migration', at: '2026-11-27T10:05:00.000Z' }],
});
const ended = { ...alert, chat: { ...alert.chat, state: 'ended' as const, outcome: 'answered' as const, aware: true } };

function delivery(event: 'ended' | 'ping', at: Date): Delivery {
  const body =
    event === 'ping'
      ? JSON.stringify({ event, at: at.toISOString() })
      : deliveryBody(ended, event, at.toISOString(), 'Migrating.');
  return { key: `pivot-3f9a2c:${event}`, target: 'sink:0', event: 'ended', body, at: at.toISOString(), attempts: 0 };
}

function send(secret: string, at: Date, event: 'ended' | 'ping' = 'ended') {
  return createSinkTransport({ url, secret, clock: () => at }).send(delivery(event, at));
}

describe("the README's receiver", () => {
  it('accepts a signed delivery and reads its key, event and verdict', async () => {
    expect(await send(SECRET, new Date())).toEqual({ ok: true, status: 200 });
    await expect
      .poll(() => stdout)
      .toContain('pivot-3f9a2c:ended ended {"outcome":"answered","aware":true,"verified":null,"summary":"Migrating."}');
  });

  it('answers a ping and records nothing', async () => {
    const before = stdout;
    expect(await send(SECRET, new Date(), 'ping')).toEqual({ ok: true, status: 200 });
    expect(await send(SECRET, new Date())).toEqual({ ok: true, status: 200 });
    await expect.poll(() => stdout.length).toBeGreaterThan(before.length);
    expect(stdout.slice(before.length)).not.toContain('ping');
  });

  it('refuses a wrong secret and a timestamp over 5 minutes old, for good', async () => {
    expect(await send('not-the-secret', new Date())).toEqual({ ok: false, retry: false, reason: 'HTTP 401' });
    expect(await send(SECRET, new Date(Date.now() - 6 * 60_000))).toEqual({
      ok: false,
      retry: false,
      reason: 'HTTP 401',
    });
  });
});
