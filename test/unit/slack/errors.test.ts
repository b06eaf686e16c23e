// What a Slack request that got no answer means: whether it provably never reached Slack, and which URL it tried.
import { getEventListeners } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { classifySlackError, requestFailureOf, SlackCallError, withApiUrl } from '../../../src/slack/errors.js';
import { retryPolicy } from '../../../src/slack/web-slack.js';

/** @slack/web-api's request error around fetch's TypeError, whose cause carries the system's error code. */
function requestError(cause: unknown, message = 'fetch failed'): Error {
  const original = Object.assign(new TypeError(message), { cause });
  return Object.assign(new Error(`A request error occurred: ${message}`), {
    code: 'slack_webapi_request_error',
    original,
  });
}
const sys = (code: string) => Object.assign(new Error(code), { code });

describe('requestFailureOf', () => {
  it('tells a request that never left (refused, no host, TLS) from one that may have reached Slack', () => {
    for (const code of ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_HAS_EXPIRED']) {
      expect(requestFailureOf(requestError(sys(code)))).toEqual({ reason: code, neverSent: true });
    }
    expect(requestFailureOf(requestError(sys('ECONNRESET')))).toEqual({ reason: 'ECONNRESET', neverSent: false });
    const timeout = Object.assign(new Error('A request error occurred'), {
      code: 'slack_webapi_request_error',
      original: new DOMException('The operation was aborted due to timeout', 'TimeoutError'),
    });
    expect(requestFailureOf(timeout)).toEqual({ reason: 'timed out', neverSent: false });
    expect(
      requestFailureOf(requestError(undefined, 'Request cannot be constructed from a URL that includes credentials')),
    ).toMatchObject({ neverSent: true });
    expect(requestFailureOf(Object.assign(new Error('x'), { code: 'slack_webapi_platform_error' }))).toBeUndefined();
  });

  it.each(['rate_limited', 'ratelimited', 'internal_error', 'fatal_error', 'service_unavailable', 'request_timeout'])(
    'tries a call Slack answered %s again later (chat.postMessage says rate_limited with an answer of 200)',
    (code) => {
      const err = Object.assign(new Error(`An API error occurred: ${code}`), {
        code: 'slack_webapi_platform_error',
        data: { ok: false, error: code },
      });
      expect(classifySlackError(err)).toMatchObject({ kind: 'retry', code });
    },
  );

  it('names the URL it could not reach, without its credentials', () => {
    const err = withApiUrl(requestError(sys('ECONNREFUSED')), 'https://u:pw@slack.example/api/');
    expect(classifySlackError(err)).toMatchObject({ kind: 'retry', code: 'ECONNREFUSED' });
    expect(new SlackCallError('chat.postMessage', err).message).toBe(
      'chat.postMessage failed: ECONNREFUSED (could not reach Slack at https://***@slack.example/api/: check SLACK_API_URL and the network)',
    );
  });
});

describe('retryPolicy', () => {
  type OnFailed = { onFailedAttempt: (e: unknown) => void | Promise<void> };
  const retries = (oneShot: boolean, err: unknown, stopping?: AbortSignal) => {
    const { onFailedAttempt } = retryPolicy(oneShot, stopping) as OnFailed;
    return Promise.resolve()
      .then(() => onFailedAttempt(err))
      .then(
        () => true,
        () => false,
      );
  };
  const timeout = Object.assign(new Error('A request error occurred'), {
    code: 'slack_webapi_request_error',
    original: new DOMException('The operation was aborted due to timeout', 'TimeoutError'),
  });
  const http500 = Object.assign(new Error('An HTTP protocol error occurred'), { code: 'slack_webapi_http_error' });

  it('never resends blindly a request that may have reached Slack; resends one that never left in the daemon only', async () => {
    expect(await retries(false, timeout)).toBe(false);
    expect(await retries(true, timeout)).toBe(false);
    expect(await retries(false, requestError(sys('ECONNREFUSED')))).toBe(true);
    expect(await retries(true, requestError(sys('ECONNREFUSED')))).toBe(false);
    expect(await retries(false, http500)).toBe(true);
    expect(await retries(true, http500)).toBe(true);
    expect(retryPolicy(true)).toMatchObject({ maxRetryTime: 20_000 });
  });

  it('waits the five-retries-in-five-minutes pauses itself, and stops waiting (and retrying) once listen is stopping', async () => {
    vi.useFakeTimers();
    try {
      const controller = new AbortController();
      const stopping = controller.signal;
      const stop = () => controller.abort();
      const refused = (attemptNumber: number) =>
        Object.assign(requestError(sys('ECONNREFUSED')), { attemptNumber, retriesLeft: 5 - attemptNumber + 1 });
      // p-retry's own pause is none: the policy's is here.
      expect(retryPolicy(false, stopping)).toMatchObject({ retries: 5, minTimeout: 0, maxTimeout: 0 });
      let settled: boolean | undefined;
      void retries(false, refused(3), stopping).then((r) => {
        settled = r;
      });
      await vi.advanceTimersByTimeAsync(1000 * 3.86 ** 2 - 1);
      expect(settled).toBeUndefined();
      await vi.advanceTimersByTimeAsync(1);
      expect(settled).toBe(true);
      // Nothing left waiting on the stop after a pause that ran its course (a long outage makes thousands).
      expect(getEventListeners(stopping, 'abort')).toHaveLength(0);
      // A pause under way when the stop comes ends at once, and the call fails instead of trying again.
      settled = undefined;
      void retries(false, refused(4), stopping).then((r) => {
        settled = r;
      });
      await vi.advanceTimersByTimeAsync(10_000);
      expect(settled).toBeUndefined();
      stop();
      await vi.advanceTimersByTimeAsync(0);
      expect(settled).toBe(false);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
