// Tests of readAlertSource: a file or stdin, in the format its extension or content shows, named in messages.
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/errors.js';
import { MAX_SOURCE_BYTES, readAlertSource, type SourceIo } from '../../../src/intake/source.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'irbot-source-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const pivot = { id: 'pivot', name: 'Pivoting', user_id: 'U0HAROLD' };
const io = (stdin = ''): SourceIo => ({
  cwd: dir,
  stdin: Readable.from([Buffer.from(stdin)]),
  stderr: new PassThrough(),
});

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

  it('refuses a file larger than 32 MiB without reading it, and what is not a regular file', async () => {
    const big = path.join(dir, 'big.json');
    const handle = await open(big, 'w');
    await handle.truncate(MAX_SOURCE_BYTES + 1); // sparse: nothing is really written
    await handle.close();
    await expect(readAlertSource('big.json', io())).rejects.toThrow(
      new ConfigError(`${big}: larger than 32 MiB: split the batch`),
    );
    await mkdir(path.join(dir, 'folder'));
    for (const [file, shown] of [
      ['/dev/zero', '/dev/zero'],
      ['folder', path.join(dir, 'folder')],
    ]) {
      await expect(readAlertSource(file as string, io())).rejects.toThrow(
        new ConfigError(`${shown}: not a regular file: give --file a file, or - to read stdin`),
      );
    }
  });

  it('stops reading stdin once it passes 32 MiB', async () => {
    const mib = Buffer.alloc(1024 * 1024, 'x');
    let pulled = 0;
    // Twice the cap, as good as endless here: without the cap the test fails instead of filling memory.
    const endless = Readable.from(
      (function* () {
        for (; pulled < 64; pulled++) yield mib;
      })(),
    );
    await expect(readAlertSource('-', { ...io(), stdin: endless })).rejects.toThrow(
      new ConfigError('stdin: larger than 32 MiB: split the batch'),
    );
    expect(pulled).toBeLessThan(40);
    expect(endless.destroyed).toBe(true);
  });

  it('tells a person at a terminal how to end the alerts, and says nothing to a pipe', async () => {
    const said = (source: SourceIo) => {
      let text = '';
      source.stderr.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      return () => text;
    };
    const terminal = io(JSON.stringify(pivot));
    Object.assign(terminal.stdin, { isTTY: true });
    const told = said(terminal);
    expect(await readAlertSource('-', terminal)).toHaveLength(1);
    expect(told()).toBe('reading alerts from the terminal; end with Ctrl-D\n');
    const pipe = io(JSON.stringify(pivot));
    const silent = said(pipe);
    await readAlertSource('-', pipe);
    expect(silent()).toBe('');
  });
});
