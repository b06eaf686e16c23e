// What a Slack request that got no answer means: whether it provably never reached Slack, and which URL it tried.
import { describe, expect, it } from 'vitest';
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

  it('names the URL it could not reach, without its credentials', () => {
    const err = withApiUrl(requestError(sys('ECONNREFUSED')), 'https://u:pw@slack.example/api/');
    expect(classifySlackError(err)).toMatchObject({ kind: 'retry', code: 'ECONNREFUSED' });
    expect(new SlackCallError('chat.postMessage', err).message).toBe(
      'chat.postMessage failed: ECONNREFUSED (could not reach Slack at https://***@slack.example/api/: check SLACK_API_URL and the network)',
    );
  });
});

describe('retryPolicy', () => {
  const retries = (oneShot: boolean, err: unknown) => {
    const { onFailedAttempt } = retryPolicy(oneShot) as { onFailedAttempt: (e: unknown) => void };
    try {
      onFailedAttempt(err);
      return true;
    } catch {
      return false;
    }
  };
  const timeout = Object.assign(new Error('A request error occurred'), {
    code: 'slack_webapi_request_error',
    original: new DOMException('The operation was aborted due to timeout', 'TimeoutError'),
  });
  const http500 = Object.assign(new Error('An HTTP protocol error occurred'), { code: 'slack_webapi_http_error' });

  it('never resends blindly a request that may have reached Slack; resends one that never left in the daemon only', () => {
    expect(retries(false, timeout)).toBe(false);
    expect(retries(true, timeout)).toBe(false);
    expect(retries(false, requestError(sys('ECONNREFUSED')))).toBe(true);
    expect(retries(true, requestError(sys('ECONNREFUSED')))).toBe(false);
    expect(retries(false, http500)).toBe(true);
    expect(retries(true, http500)).toBe(true);
    expect(retryPolicy(true)).toMatchObject({ maxRetryTime: 20_000 });
  });
});
