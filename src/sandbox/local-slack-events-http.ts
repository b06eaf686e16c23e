// The HTTP side of the local Slack: an envelope POSTed, signed, to the app's Request URL, as Slack does when Socket
// Mode is off (https://docs.slack.dev/apis/events-api/#responding, .../interactivity/handling-user-interaction).

import { signSlackRequest } from '../slack/signature.js';
import type { Envelope } from './local-slack-envelopes.js';

export interface HttpEventRequest {
  headers: Record<string, string>;
  body: string;
}

/** Slack's names for why it retries an HTTP event, sent as X-Slack-Retry-Reason. */
export type HttpRetryReason = 'http_timeout' | 'http_error' | 'connection_failed';

export interface HttpAnswer {
  /** The app's status; 0 when no answer came in time or the connection failed. */
  status: number;
  /** Why Slack would retry, for anything but a 2xx. */
  failure?: HttpRetryReason;
}

/**
 * The request Slack sends for `envelope`: an event callback as JSON, a click as `payload=<JSON>` in a form, or
 * `raw` as it is (a malformed body); signed at `nowSeconds`, with the retry headers of a re-delivery.
 */
export function httpRequestOf(envelope: Envelope, secret: string, nowSeconds: number, raw?: string): HttpEventRequest {
  const payload = JSON.stringify(envelope.payload ?? {});
  const form = envelope.type === 'interactive' && raw === undefined;
  const body = raw ?? (form ? new URLSearchParams({ payload }).toString() : payload);
  const timestamp = String(Math.floor(nowSeconds));
  const attempt = typeof envelope.retry_attempt === 'number' ? envelope.retry_attempt : 0;
  return {
    headers: {
      'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json',
      'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
      'x-slack-request-timestamp': timestamp,
      'x-slack-signature': signSlackRequest(secret, timestamp, body),
      ...(attempt > 0
        ? {
            'x-slack-retry-num': String(attempt),
            'x-slack-retry-reason': String(envelope.retry_reason || 'http_error'),
          }
        : {}),
    },
    body,
  };
}

/** POSTs the request and waits up to `timeoutMs` (Slack: 3 s) for the answer, read to the end. */
export async function postEvent(url: string, request: HttpEventRequest, timeoutMs: number): Promise<HttpAnswer> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: request.headers,
      body: request.body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.arrayBuffer();
    return res.ok ? { status: res.status } : { status: res.status, failure: 'http_error' };
  } catch (err) {
    const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
    return { status: 0, failure: timedOut ? 'http_timeout' : 'connection_failed' };
  }
}
