// Tests of the log for people: one line per call whatever it holds, colour only when asked, and listen's default.
import { PassThrough } from 'node:stream';
import { Chalk } from 'chalk';
import { describe, expect, it } from 'vitest';
import { logFormatFor, stderrLog } from '../../src/log.js';

const clock = () => new Date('2026-12-04T10:00:00.000Z');

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString('utf8')));
  return { stream, text: () => chunks.join('') };
}

describe('logFormatFor', () => {
  it.each([
    [undefined, true, 'pretty'],
    [undefined, false, 'json'],
    [undefined, undefined, 'json'],
    ['json', true, 'json'],
    ['pretty', false, 'pretty'],
    ['pretty', true, 'pretty'],
  ] as const)('--log-format %s with stderr a terminal: %s → %s', (option, isTTY, format) => {
    expect(logFormatFor(option, isTTY === undefined ? {} : { isTTY })).toBe(format);
  });
});

describe('stderrLog', () => {
  it('writes time, tags and message on one line', () => {
    const out = capture();
    stderrLog(out.stream, clock)('listening on Socket Mode', { event: 'listening' });
    expect(out.text()).toBe('2026-12-04T10:00:00.000Z [listening] listening on Socket Mode\n');
  });

  it('keeps a message or a tag holding newlines, escapes and bidi overrides on one line, shown not obeyed', () => {
    const out = capture();
    const forged = 'unknown alert nope\n2026-12-04T10:00:01.000Z [button] forged\r\u001b[2J\u202eok';
    stderrLog(out.stream, clock)(`button dismiss on ${forged}`, { event: 'button', alert: 'a\nb\u001b]0;x\u0007' });
    const text = out.text();
    expect(text.split('\n')).toEqual([
      '2026-12-04T10:00:00.000Z [button a␤b␛]0;x␇] button dismiss on unknown alert nope␤2026-12-04T10:00:01.000Z [button] forged␍␛[2J<U+202E>ok',
      '',
    ]);
  });

  it('still redacts tokens', () => {
    const out = capture();
    stderrLog(out.stream, clock)('token xoxb-1234-secret leaked');
    expect(out.text()).toContain('xoxb-***');
    expect(out.text()).not.toContain('secret');
  });

  it('colours only with a chalk that colours: dim time, cyan tags, yellow warnings, red errors', () => {
    const coloured = new Chalk({ level: 1 });
    const out = capture();
    const log = stderrLog(out.stream, clock, coloured);
    log('slow', { event: 'rate_limited', level: 'warn' });
    log('broken', { event: 'effect_failed', level: 'error' });
    const [warn, error] = out.text().split('\n');
    expect(warn).toBe(
      `${coloured.dim('2026-12-04T10:00:00.000Z')} ${coloured.cyan('[rate_limited]')} ${coloured.yellow('slow')}`,
    );
    expect(error).toContain(coloured.red('broken'));
    const plain = capture();
    stderrLog(plain.stream, clock, new Chalk({ level: 0 }))('slow', { event: 'rate_limited', level: 'warn' });
    expect(plain.text()).toBe('2026-12-04T10:00:00.000Z [rate_limited] slow\n');
  });
});
