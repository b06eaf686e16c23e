// `irbot sandbox --tz`: Harold's zone in the local Slack, his working hours followed, in this process.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { realDeps } from '../../../src/cli/deps.js';
import { main } from '../../../src/cli/main.js';

function capture(onText: (text: string) => void = () => undefined) {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      text += chunk.toString();
      onText(text);
      done();
    },
  });
  return { stream, text: () => text };
}

/** Runs the sandbox at `now`; it is stopped (as by Ctrl-C) once its output shows `until`. */
async function sandbox(args: string[], now: string, until?: string) {
  const dir = await mkdtemp(join(tmpdir(), 'irbot-sandbox-tz-'));
  let stop: (signal: NodeJS.Signals) => void = () => undefined;
  const stopped = new Promise<NodeJS.Signals>((resolve) => {
    stop = resolve;
  });
  const out = capture((text) => {
    if (until !== undefined && text.includes(until)) stop('SIGINT');
  });
  const err = capture();
  try {
    const code = await main(['node', 'irbot', 'sandbox', 'pivot', ...args], {
      ...realDeps(),
      cwd: dir,
      env: { NO_COLOR: '1' },
      stdin: Readable.from(['']),
      stdout: out.stream,
      stderr: err.stream,
      clock: () => new Date(now),
      nextSignal: () => stopped,
    });
    return { code, stdout: out.text(), stderr: err.text() };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('irbot sandbox --tz', () => {
  it('shows a chat scheduled for Harold’s working hours, then started with Start Chat now', async () => {
    // Thursday 26 November 2026, 12:00 UTC: Friday 01:00 in Auckland (UTC+13).
    // Stopped once Harold is greeted: the rest of the chat is the plain sandbox's.
    const result = await sandbox(['--tz', 'Pacific/Auckland'], '2026-11-26T12:00:00.000Z', '[offline] Hi Harold!');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      '@Harold is outside working hours (Pacific/Auckland, 01:00); the chat starts at 09:00 their time.',
    );
    expect(result.stdout).toContain('[Start Chat now] [End Chat]');
    expect(result.stdout).toContain('the sandbox presses Start Chat now');
    expect(result.stdout.indexOf('[offline] Hi Harold!')).toBeGreaterThan(result.stdout.indexOf('Start Chat now'));
  });

  it('refuses a zone Intl does not know, with the fix', async () => {
    const result = await sandbox(['--tz', 'Mars/Olympus'], '2026-11-26T12:00:00.000Z');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      "option '--tz <zone>' argument 'Mars/Olympus' is invalid. must be an IANA time zone, e.g. Pacific/Auckland",
    );
  });
});
