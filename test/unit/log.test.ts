// Tests of the log: one line per call for people whatever it holds, colour only when asked, listen's default, and
// redaction of tokens and URL credentials in every log and error line.
import { PassThrough } from 'node:stream';
import { Chalk } from 'chalk';
import { describe, expect, it } from 'vitest';
import { logFormatFor, oneLine, redact, stderrLog } from '../../src/log.js';

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

describe('redact', () => {
  it('hides Slack tokens wherever they start, refresh tokens too, and leaves ids with an sk- inside', () => {
    expect(redact('Authorization: Bearer%20xoxb-1234-abcd and "\\nxapp-1-A0-secret" xoxe-1-refresh')).toBe(
      'Authorization: Bearer%20xoxb-*** and "\\nxapp-***" xoxe-***',
    );
    expect(redact('alert disk-full-7 and key sk-proj-abcdef')).toBe('alert disk-full-7 and key sk-***');
  });

  it('hides the credentials of any URL, and keeps the rest of it', () => {
    expect(redact('POST https://irbot:s3cret@slack.example/api/chat.postMessage failed')).toBe(
      'POST https://***@slack.example/api/chat.postMessage failed',
    );
    expect(redact('base http://user@proxy:8080/v1 and wss://a:b:c@x/y')).toBe(
      'base http://***@proxy:8080/v1 and wss://***@x/y',
    );
    expect(redact('mail alice@example.com at https://example.com/?by=bob@example.com')).toBe(
      'mail alice@example.com at https://example.com/?by=bob@example.com',
    );
  });

  it('hides tokens and URL credentials in error lines too', () => {
    const err = new Error('Request cannot be constructed from a URL that includes credentials: http://u:p4ss@h/api/x');
    expect(oneLine(err)).toBe('Request cannot be constructed from a URL that includes credentials: http://***@h/api/x');
    expect(oneLine('token xoxb-123-456-abcdef')).toBe('token xoxb-***');
  });
});

describe('redact, secrets in a URL query', () => {
  it('hides a query parameter named for a secret, and keeps the others', () => {
    expect(redact('POST https://hooks.example.com/in?api-key=abc123&team=sec failed: 503')).toBe(
      'POST https://hooks.example.com/in?api-key=***&team=sec failed: 503',
    );
    expect(redact('GET http://h/x?a=1&access_token=t0k3n#frag and ?sig=ZZZ')).toBe(
      'GET http://h/x?a=1&access_token=***#frag and ?sig=***',
    );
    expect(redact('GET http://h/x?monkey=1')).toBe('GET http://h/x?monkey=1');
  });
});

describe('redact, the secrets this process holds', () => {
  it('hides every secret read from the environment, whatever its shape, in log and error lines', async () => {
    const { readEnv } = await import('../../src/config/env.js');
    readEnv({
      OPENAI_API_KEY: 'gsk_groqStyleKey_7f3a9c',
      SLACK_SIGNING_SECRET: '8f14e45fceea167a5a36dedd4bea2543',
      DUO_SECRET_KEY: 'duoSecretKeyValue40charslongXXXXXXXXXXXX',
      PAGERDUTY_ROUTING_KEY: 'R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12',
      DATABASE_URL: 'postgres://irbot:p%40ss-w0rd!long@db:5432/irbot',
      OPENAI_BASE_URL: 'https://proxy.example/v1',
    });
    const echoed = new Error(
      'upstream said: invalid key gsk_groqStyleKey_7f3a9c (signature 8f14e45fceea167a5a36dedd4bea2543, ' +
        'skey duoSecretKeyValue40charslongXXXXXXXXXXXX, routing R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12, password p@ss-w0rd!long)',
    );
    expect(oneLine(echoed)).toBe('upstream said: invalid key *** (signature ***, skey ***, routing ***, password ***)');
    const { stream, text } = capture();
    stderrLog(stream, clock)('echoed gsk_groqStyleKey_7f3a9c');
    expect(text()).not.toContain('gsk_groqStyleKey_7f3a9c');
  });

  it('hides each sink secret once read, nothing under 8 characters (it would hide ordinary words), a longer one whole', async () => {
    const { sinkSecrets } = await import('../../src/config/sinks.js');
    const sinks = [{ url: 'https://siem.example', secretEnv: 'SIEM_SECRET', events: ['ended' as const] }];
    sinkSecrets(sinks, { SIEM_SECRET: 'whsec_sinkSecret_5e1d' });
    expect(redact('sink answered: bad signature for whsec_sinkSecret_5e1d')).toBe(
      'sink answered: bad signature for ***',
    );
    const { holdSecrets } = await import('../../src/log.js');
    holdSecrets(['short']);
    expect(redact('a short line')).toBe('a short line');
    // One secret inside another: the longer is hidden whole, whichever was read first.
    holdSecrets(['innerSecret42']);
    holdSecrets(['prefix-innerSecret42-suffix']);
    expect(redact('got prefix-innerSecret42-suffix')).toBe('got ***');
    // A short password in a URL is hidden there, not in every word that spells it.
    const { readEnv } = await import('../../src/config/env.js');
    readEnv({ DATABASE_URL: 'postgres://postgres:postgres@db:5432/irbot' });
    expect(redact('postgres://postgres:postgres@db/irbot is down')).toBe('postgres://***@db/irbot is down');
  });
});
