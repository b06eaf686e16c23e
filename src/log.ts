// One stderr line per thing that happened, with tokens redacted wherever they came from.
import type { Logger } from '@slack/logger';
import { LogLevel } from '@slack/logger';

export type Log = (line: string) => void;

const TOKEN = /\b(xox[abposr]|xapp|sk)-[A-Za-z0-9_-]{4,}/g;

/** Replaces anything shaped like a Slack or OpenAI token with its prefix and `***`. */
export function redact(text: string): string {
  return text.replace(TOKEN, (_, prefix: string) => `${prefix}-***`);
}

/** The first line of an error's message, redacted: what irbot prints for any failure. */
export function oneLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return redact(message.split('\n')[0] ?? '').trim();
}

export function stderrLog(stream: NodeJS.WritableStream, clock: () => Date = () => new Date()): Log {
  return (line) => stream.write(`${clock().toISOString()} ${redact(line)}\n`);
}

/** A @slack/logger that sends the SDKs' warnings and errors to our log and drops their chatter. */
export function slackLogger(log: Log, name: string): Logger {
  let level = LogLevel.WARN;
  const at =
    (min: LogLevel) =>
    (...msg: unknown[]) => {
      const order = [LogLevel.DEBUG, LogLevel.INFO, LogLevel.WARN, LogLevel.ERROR];
      if (order.indexOf(min) >= order.indexOf(level)) log(`${name}: ${msg.map(String).join(' ')}`);
    };
  return {
    debug: at(LogLevel.DEBUG),
    info: at(LogLevel.INFO),
    warn: at(LogLevel.WARN),
    error: at(LogLevel.ERROR),
    setLevel: (next) => {
      level = next;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}
