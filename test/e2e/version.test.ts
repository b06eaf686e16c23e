// `irbot --version` and `-V`, and output into a pipe closed early, as people expect of a command-line tool.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, makeWorkspace, runIrbot, startIrbot } from '../support/irbot.js';

describe('irbot --version', () => {
  it('prints the version in package.json and exits 0, as -V does', async () => {
    const { version } = JSON.parse(await readFile(join(BIN, '../../package.json'), 'utf8')) as { version: string };
    const ws = await makeWorkspace({ slackApiUrl: 'http://127.0.0.1:9/api/' });
    for (const flag of ['--version', '-V']) {
      const result = await runIrbot([flag], ws);
      expect(result).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    }
  });
});

describe('output into a pipe its reader closed (`irbot status | head -1`)', () => {
  it('stops quietly with the status of a command killed by SIGPIPE, no stack trace', async () => {
    const ws = await makeWorkspace({ slackApiUrl: 'http://127.0.0.1:9/api/' });
    const running = startIrbot(['--help'], ws);
    running.child.stdout.destroy();
    const result = await running.exited;
    expect(result.stderr).toBe('');
    expect(result.code).toBe(141);
  });
});
