// The local Slack's rate limits: token buckets on an injected clock, and the 429 the unmodified WebClient sees.

import { WebClient } from '@slack/web-api';
import { afterEach, describe, expect, it } from 'vitest';
import { slackLogger } from '../../../src/log.js';
import { LocalSlack } from '../../../src/sandbox/local-slack.js';
import { RateLimiter, SLACK_RATE_LIMITS } from '../../../src/sandbox/local-slack-ratelimit.js';

function clock(start = 0) {
  const c = { t: start, now: () => c.t };
  return c;
}

/** Takes `n` tokens and returns which calls were refused (by index). */
function refusedOf(limiter: RateLimiter, n: number, method = 'chat.postMessage', channel = 'C0FEED'): number[] {
  const refused: number[] = [];
  for (let i = 0; i < n; i++) if (limiter.take(method, channel) !== undefined) refused.push(i);
  return refused;
}

describe('RateLimiter', () => {
  it('lets a burst through, then refuses with the time until the next token', () => {
    const c = clock();
    const limiter = new RateLimiter({ now: c.now });
    expect(refusedOf(limiter, 3)).toEqual([]);
    expect(limiter.take('chat.postMessage', 'C0FEED')).toEqual({ retryAfterMs: 1000, retryAfterSeconds: 1 });
    c.t += 400;
    expect(limiter.take('chat.postMessage', 'C0FEED')?.retryAfterMs).toBeCloseTo(600);
    c.t += 600;
    expect(limiter.take('chat.postMessage', 'C0FEED')).toBeUndefined();
    expect(limiter.rateLimited).toEqual({ 'chat.postMessage': 2 });
  });

  it('refills at the rate and never above the burst', () => {
    const c = clock();
    const limiter = new RateLimiter({ now: c.now });
    refusedOf(limiter, 3);
    c.t += 60_000; // a quiet minute refills three tokens, not sixty
    expect(refusedOf(limiter, 4)).toEqual([3]);
    c.t += 2_000;
    expect(refusedOf(limiter, 3)).toEqual([2]);
  });

  it('keeps one chat.postMessage bucket per channel, DMs included', () => {
    const limiter = new RateLimiter({ now: clock().now });
    expect(refusedOf(limiter, 4, 'chat.postMessage', 'C0FEED')).toEqual([3]);
    expect(refusedOf(limiter, 3, 'chat.postMessage', 'D0HAROLD')).toEqual([]);
    expect(refusedOf(limiter, 3, 'chat.postMessage', 'D0ALICE')).toEqual([]);
  });

  it('counts tiered methods per workspace, whatever the channel', () => {
    const limiter = new RateLimiter({ now: clock().now });
    const burst = SLACK_RATE_LIMITS['chat.update']?.burst ?? 0;
    for (let i = 0; i < burst; i++) expect(limiter.take('chat.update', `C${i}`)).toBeUndefined();
    // Tier 3: 50 a minute, a token every 1.2 s.
    expect(limiter.take('chat.update', 'C0OTHER')).toEqual({ retryAfterMs: 1200, retryAfterSeconds: 2 });
    expect(limiter.take('users.info', undefined)).toBeUndefined();
    expect(limiter.take('chat.delete', 'C0FEED')).toBeUndefined(); // not limited here
  });

  it('scales every rate by one factor; Retry-After stays a whole second, at least 1', () => {
    const c = clock();
    const limiter = new RateLimiter({ scale: 50, now: c.now });
    expect(limiter.limitOf('chat.update')?.perMinute).toBe(2500);
    refusedOf(limiter, 3);
    const refusal = limiter.take('chat.postMessage', 'C0FEED');
    expect(refusal?.retryAfterMs).toBeCloseTo(20);
    expect(refusal?.retryAfterSeconds).toBe(1);
    c.t += 20;
    expect(limiter.take('chat.postMessage', 'C0FEED')).toBeUndefined();
  });

  it('takes limits over the defaults, and null switches one off', () => {
    const limiter = new RateLimiter({
      now: clock().now,
      limits: { 'chat.postMessage': null, 'chat.update': { perMinute: 6, burst: 1, per: 'channel' } },
    });
    expect(refusedOf(limiter, 100)).toEqual([]);
    expect(limiter.take('chat.update', 'C1')).toBeUndefined();
    expect(limiter.take('chat.update', 'C2')).toBeUndefined();
    expect(limiter.take('chat.update', 'C1')).toEqual({ retryAfterMs: 10_000, retryAfterSeconds: 10 });
    expect(() => new RateLimiter({ scale: 0 })).toThrow(RangeError);
  });

  it('lets a call through up to toleranceMs before its token is due, once: the rate stays the same', () => {
    const c = clock();
    const limiter = new RateLimiter({
      now: c.now,
      toleranceMs: 100,
      limits: { 'chat.postMessage': { perMinute: 60, burst: 1, per: 'channel' } },
    });
    expect(limiter.take('chat.postMessage', 'C0FEED')).toBeUndefined();
    c.t += 900; // 100 ms early: borrowed
    expect(limiter.take('chat.postMessage', 'C0FEED')).toBeUndefined();
    c.t += 850; // the next token is due 100 ms after the borrowed one was: at 2,000 ms, so from 1,900 ms
    expect(limiter.take('chat.postMessage', 'C0FEED')?.retryAfterMs).toBeCloseTo(150);
    c.t += 150;
    expect(limiter.take('chat.postMessage', 'C0FEED')).toBeUndefined();
  });

  it('passes everything while disabled; enable starts with full buckets and no counts', () => {
    const limiter = new RateLimiter({ now: clock().now });
    refusedOf(limiter, 5);
    limiter.disable();
    expect(refusedOf(limiter, 10)).toEqual([]);
    limiter.enable();
    expect(limiter.rateLimited).toEqual({});
    expect(refusedOf(limiter, 4)).toEqual([3]);
  });
});

describe('LocalSlack with rate limits', () => {
  const silent = slackLogger(() => undefined, 'test');
  let slack: LocalSlack | undefined;
  afterEach(async () => {
    await slack?.close();
    slack = undefined;
  });

  it('answers 429 with Retry-After over the limit, counts it, and applies nothing', async () => {
    const c = clock();
    slack = await LocalSlack.start({
      rateLimits: { now: c.now, limits: { 'chat.postMessage': { perMinute: 60, burst: 1, per: 'channel' } } },
    });
    const web = new WebClient(slack.botToken, {
      slackApiUrl: slack.apiUrl,
      logger: silent,
      rejectRateLimitedCalls: true,
    });
    await web.chat.postMessage({ channel: 'C0FEED', text: 'one' });
    await expect(web.chat.postMessage({ channel: 'C0FEED', text: 'two' })).rejects.toMatchObject({
      code: 'slack_webapi_rate_limited_error',
      retryAfter: 1,
    });
    // A user ID posts in the DM with that user: another channel, its own bucket, and again the same one.
    await web.chat.postMessage({ channel: 'U0HAROLD', text: 'hi' });
    await expect(web.chat.postMessage({ channel: 'D0HAROLD', text: 'again' })).rejects.toMatchObject({
      retryAfter: 1,
    });
    expect(slack.callsTo('chat.postMessage').map((call) => call.status)).toEqual([200, 429, 200, 429]);
    expect(slack.history('C0FEED').map((m) => m.text)).toEqual(['one']);
    expect(slack.rateLimited).toEqual({ 'chat.postMessage': 2 });
    c.t += 1000;
    await web.chat.postMessage({ channel: 'C0FEED', text: 'three' });
    expect(slack.history('C0FEED').map((m) => m.text)).toEqual(['one', 'three']);
  });

  it('has no limits unless asked', async () => {
    slack = await LocalSlack.start();
    const web = new WebClient(slack.botToken, {
      slackApiUrl: slack.apiUrl,
      logger: silent,
      rejectRateLimitedCalls: true,
    });
    for (let i = 0; i < 10; i++) await web.chat.postMessage({ channel: 'C0FEED', text: `m${i}` });
    expect(slack.rateLimiter).toBeUndefined();
    expect(slack.rateLimited).toEqual({});
  });
});
