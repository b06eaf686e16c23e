// The sink transport: the signature (a vector computed with openssl), the headers, what each answer means, and
// real requests to the local sink receiver, which checks them as a receiver would.
import { afterEach, describe, expect, it } from 'vitest';
import type { Delivery } from '../../../src/deliver/port.js';
import {
  createSinkTransport,
  resultOf,
  retryAfterMsOf,
  signatureOf,
  signedHeaders,
} from '../../../src/deliver/sink.js';
import { LocalSink, verifySignature } from '../../../src/sandbox/local-sink.js';

const SECRET = 'whsec_test';
const NOW = new Date('2026-11-27T10:00:00.000Z');

function aDelivery(overrides: Partial<Delivery> = {}): Delivery {
  return {
    key: 'pivot-000001:ended',
    target: 'sink:0',
    event: 'ended',
    body: '{"event":"ended"}',
    at: NOW.toISOString(),
    attempts: 0,
    ...overrides,
  };
}

describe('signing', () => {
  it('signs "v1:" + timestamp + ":" + body with HMAC-SHA256 in hex', () => {
    // printf 'v1:1700000000:{"event":"ended"}' | openssl dgst -sha256 -hmac 'whsec_test'
    expect(signatureOf(SECRET, 1_700_000_000, '{"event":"ended"}')).toBe(
      'v1=a86f4fd5691512dc38d2d9a577ee31af08af2322eb3b1bd6b00b81314d980dab',
    );
  });

  it('sends the timestamp in unix seconds, the signature, the idempotency key and JSON; never the secret', () => {
    const headers = signedHeaders(aDelivery(), SECRET, new Date(1_700_000_000_900));
    expect(headers).toEqual({
      'Content-Type': 'application/json',
      'User-Agent': 'irbot',
      'X-Irbot-Timestamp': '1700000000',
      'X-Irbot-Signature': 'v1=a86f4fd5691512dc38d2d9a577ee31af08af2322eb3b1bd6b00b81314d980dab',
      'Idempotency-Key': 'pivot-000001:ended',
    });
    expect(JSON.stringify(headers)).not.toContain(SECRET);
  });

  it('is what the receiver accepts, and a changed body, secret or stale timestamp it refuses', () => {
    const signed = { timestamp: '1700000000', signature: signatureOf(SECRET, 1_700_000_000, '{}') };
    const at = 1_700_000_000_000;
    expect(verifySignature(SECRET, signed, '{}', at)).toBeUndefined();
    expect(verifySignature(SECRET, signed, '{} ', at)).toBe('bad X-Irbot-Signature');
    expect(verifySignature('other', signed, '{}', at)).toBe('bad X-Irbot-Signature');
    expect(verifySignature(SECRET, signed, '{}', at + 5 * 60_000)).toBeUndefined();
    expect(verifySignature(SECRET, signed, '{}', at + 5 * 60_000 + 1000)).toBe('stale X-Irbot-Timestamp');
  });
});

describe('what an answer means', () => {
  it.each([
    [200, true, undefined],
    [202, true, undefined],
    [204, true, undefined],
    [408, false, true],
    [429, false, true],
    [500, false, true],
    [502, false, true],
    [503, false, true],
    [400, false, false],
    [401, false, false],
    [404, false, false],
    [410, false, false],
    [422, false, false],
    [301, false, false],
  ])('HTTP %i: ok %s, retry %s', (status, ok, retry) => {
    const result = resultOf(status, null, NOW);
    expect(result.ok).toBe(ok);
    if (!result.ok) expect(result.retry).toBe(retry);
  });

  it('honours Retry-After in seconds or as a date', () => {
    expect(resultOf(429, '30', NOW)).toEqual({ ok: false, retry: true, reason: 'HTTP 429', retryAfterMs: 30_000 });
    expect(retryAfterMsOf('Fri, 27 Nov 2026 10:01:00 GMT', NOW)).toBe(60_000);
    expect(retryAfterMsOf('soon', NOW)).toBeUndefined();
    // Not a whole number of seconds, and no date (JavaScript would read it as one, in 2001).
    expect(retryAfterMsOf('1.5', NOW)).toBeUndefined();
    expect(retryAfterMsOf(null, NOW)).toBeUndefined();
  });
});

describe('the transport against the local sink', () => {
  let sink: LocalSink | undefined;
  afterEach(async () => {
    await sink?.close();
    sink = undefined;
  });

  it('delivers a body the receiver verifies, with its key', async () => {
    sink = await LocalSink.start({ secret: SECRET });
    const transport = createSinkTransport({ url: sink.url, secret: SECRET, clock: () => new Date() });
    expect(await transport.send(aDelivery())).toEqual({ ok: true, status: 200 });
    expect(sink.delivered.map((r) => [r.key, r.event, r.raw])).toEqual([
      ['pivot-000001:ended', 'ended', '{"event":"ended"}'],
    ]);
  });

  it('is refused for good with the wrong secret', async () => {
    sink = await LocalSink.start({ secret: SECRET });
    const transport = createSinkTransport({ url: sink.url, secret: 'wrong', clock: () => new Date() });
    expect(await transport.send(aDelivery())).toEqual({ ok: false, retry: false, reason: 'HTTP 401' });
    expect(sink.requests[0]?.refused).toBe('bad X-Irbot-Signature');
  });

  it('retries a receiver that is down, resets the connection, or does not answer in time', async () => {
    sink = await LocalSink.start({ secret: SECRET });
    const transport = createSinkTransport({ url: sink.url, secret: SECRET, clock: () => new Date() });
    sink.setMode({ kind: 'unavailable', retryAfter: 2 });
    expect(await transport.send(aDelivery())).toEqual({
      ok: false,
      retry: true,
      reason: 'HTTP 503',
      retryAfterMs: 2000,
    });
    sink.setMode({ kind: 'reset' });
    expect(await transport.send(aDelivery())).toMatchObject({ ok: false, retry: true, reason: /^request failed/ });
    // A receiver that holds the request never answers: a short timeout proves the transport gives up on it.
    sink.setMode({ kind: 'hold' });
    const impatient = createSinkTransport({ url: sink.url, secret: SECRET, clock: () => new Date(), timeoutMs: 50 });
    expect(await impatient.send(aDelivery())).toEqual({ ok: false, retry: true, reason: 'no answer within 0.05 s' });
  });

  it('never says what the URL holds when fetch refuses it: the failure is stored and shown by status and doctor', async () => {
    sink = await LocalSink.start({ secret: SECRET });
    const url = new URL(sink.url);
    url.username = 'irbot';
    url.password = 'Hunter2-sink-pass';
    url.search = '?token=abc123';
    const transport = createSinkTransport({ url: url.href, secret: SECRET, clock: () => new Date() });
    expect(await transport.send(aDelivery())).toEqual({ ok: false, retry: true, reason: 'request failed (TypeError)' });
  });
});
