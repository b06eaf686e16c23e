// `send-alert --file PATH|-`: reads an alerts file or stdin and parses it in the format its name or content shows.
import path from 'node:path';
import {
  type AlertBatch,
  type AlertInput,
  detectAlertFormat,
  parseAlertBatch,
  parseAlertsAs,
} from '../config/alerts.js';
import { readText } from '../config/config.js';
import { ConfigError } from '../config/errors.js';

/** Reads `file` (relative to `cwd`; `-` is stdin) and returns its alerts, validated; messages name the source. */
export async function readAlertSource(
  file: string,
  io: { cwd: string; stdin: NodeJS.ReadableStream },
): Promise<AlertInput[]> {
  const { text, source } = await readSource(file, io);
  return parseAlertsAs(detectAlertFormat(file, text), text, source);
}

/** As readAlertSource, but each alert is checked on its own: the good ones, and why each bad one was refused. */
export async function readAlertBatch(
  file: string,
  io: { cwd: string; stdin: NodeJS.ReadableStream },
): Promise<AlertBatch> {
  const { text, source } = await readSource(file, io);
  return parseAlertBatch(detectAlertFormat(file, text), text, source);
}

async function readSource(
  file: string,
  io: { cwd: string; stdin: NodeJS.ReadableStream },
): Promise<{ text: string; source: string }> {
  const fromStdin = file === '-';
  const source = fromStdin ? 'stdin' : path.resolve(io.cwd, file);
  const raw = fromStdin ? await readStream(io.stdin) : await readText(source, 'Alerts file');
  const text = raw.replace(/^\uFEFF/, '');
  if (text.trim() === '') throw new ConfigError(`${source}: no alerts: it is empty`);
  return { text, source };
}

async function readStream(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}
