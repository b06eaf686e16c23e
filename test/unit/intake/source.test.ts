// Tests of readAlertSource: a file or stdin, in the format its extension or content shows, named in messages.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/errors.js';
import { readAlertSource } from '../../../src/intake/source.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'irbot-source-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const pivot = { id: 'pivot', name: 'Pivoting', user_id: 'U0HAROLD' };
const io = (stdin = '') => ({ cwd: dir, stdin: Readable.from([Buffer.from(stdin)]) });

describe('readAlertSource', () => {
  it('reads a file relative to the working directory, by extension', async () => {
    await writeFile(path.join(dir, 'batch.json'), `\uFEFF${JSON.stringify([pivot, pivot])}`);
    expect(await readAlertSource('batch.json', io())).toHaveLength(2);
  });

  it('reads stdin and tells NDJSON, JSON and TOML apart by content', async () => {
    const ndjson = `${JSON.stringify(pivot)}\n${JSON.stringify({ ...pivot, id: 'b' })}\n`;
    expect((await readAlertSource('-', io(ndjson))).map((a) => a.id)).toEqual(['pivot', 'b']);
    expect(await readAlertSource('-', io(JSON.stringify(pivot)))).toHaveLength(1);
    const toml = '[[alerts]]\nid = "pivot"\nname = "Pivoting"\nuser_id = "U0HAROLD"\n';
    expect(await readAlertSource('-', io(toml))).toHaveLength(1);
  });

  it('names stdin or the file in its messages', async () => {
    await expect(readAlertSource('-', io(`${JSON.stringify(pivot)}\n{"id": "x"}\n`))).rejects.toThrow(
      new ConfigError("stdin: line 2 (id 'x'): missing 'name'"),
    );
    await expect(readAlertSource('-', io('  \n'))).rejects.toThrow(new ConfigError('stdin: no alerts: it is empty'));
    const missing = path.join(dir, 'nope.json');
    await expect(readAlertSource('nope.json', io())).rejects.toThrow(
      new ConfigError(`Alerts file not found: ${missing}`),
    );
  });
});
