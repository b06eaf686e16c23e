// `send-alert --file PATH|-`: reads an alerts file or stdin and parses it in the format its name or content shows.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import {
  type AlertBatch,
  type AlertInput,
  detectAlertFormat,
  parseAlertBatch,
  parseAlertsAs,
} from '../config/alerts.js';
import { readProblem } from '../config/config.js';
import { ConfigError } from '../config/errors.js';

/** Where --file reads from: `cwd` for a path, `stdin` for `-`, `stderr` for the hint on a terminal. */
export interface SourceIo {
  cwd: string;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
}

/** The most bytes read from a file or stdin: a batch of alerts is far smaller; past this, reading stops. */
export const MAX_SOURCE_BYTES = 32 * 1024 * 1024;

/** Reads `file` (relative to `cwd`; `-` is stdin) and returns its alerts, validated; messages name the source. */
export async function readAlertSource(file: string, io: SourceIo): Promise<AlertInput[]> {
  const { text, source } = await readSource(file, io);
  return parseAlertsAs(detectAlertFormat(file, text), text, source);
}

/** As readAlertSource, but each alert is checked on its own: the good ones, and why each bad one was refused. */
export async function readAlertBatch(file: string, io: SourceIo): Promise<AlertBatch> {
  const { text, source } = await readSource(file, io);
  return parseAlertBatch(detectAlertFormat(file, text), text, source);
}

async function readSource(file: string, io: SourceIo): Promise<{ text: string; source: string }> {
  const fromStdin = file === '-';
  const source = fromStdin ? 'stdin' : path.resolve(io.cwd, file);
  // Without the hint, a terminal on stdin looks like a hang.
  if (fromStdin && io.stdin.isTTY) io.stderr.write('reading alerts from the terminal; end with Ctrl-D\n');
  const raw = fromStdin ? await readCapped(io.stdin, source) : await readFileCapped(source);
  const text = raw.replace(/^\uFEFF/, '');
  if (text.trim() === '') throw new ConfigError(`${source}: no alerts: it is empty`);
  return { text, source };
}

/** A regular file only: a device (/dev/zero) or a pipe never ends, and opening a pipe waits for a writer. */
async function readFileCapped(source: string): Promise<string> {
  const info = await stat(source).catch((err: unknown) => {
    throw readProblem(err, source, 'Alerts file');
  });
  if (!info.isFile()) {
    throw new ConfigError(`${source}: not a regular file: give --file a file, or - to read stdin`);
  }
  if (info.size > MAX_SOURCE_BYTES) throw tooLarge(source);
  // Capped again while reading: the file may have grown since.
  const stream = createReadStream(source, { end: MAX_SOURCE_BYTES });
  return readCapped(stream, source).catch((err: unknown) => {
    throw readProblem(err, source, 'Alerts file');
  });
}

/** The stream's text, refused as soon as it passes MAX_SOURCE_BYTES: leaving the loop destroys the stream. */
async function readCapped(stream: NodeJS.ReadableStream, source: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += bytes.length;
    if (size > MAX_SOURCE_BYTES) throw tooLarge(source);
    chunks.push(bytes);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function tooLarge(source: string): ConfigError {
  return new ConfigError(`${source}: larger than 32 MiB: split the batch`);
}
