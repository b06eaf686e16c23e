// The sink transport: POSTs a delivery's body to a `[[sinks]]` URL, signed as Slack and GitHub sign theirs, and
// says whether a failure may pass (timeouts, 408, 429, 5xx) or is for good (any other answer but 2xx).
import { createHmac } from 'node:crypto';
import { failureCode } from './failure-code.js';
import type { Delivery, SendResult, Transport } from './port.js';

/** A sink that does not answer within this is tried again later: it never holds a delivery slot for long. */
export const SINK_TIMEOUT_MS = 10_000;

/** `v1=<hex HMAC-SHA256(secret, "v1:" + timestamp + ":" + body)>`: what X-Irbot-Signature carries. */
export function signatureOf(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`v1:${timestamp}:${body}`).digest('hex')}`;
}

/** The headers of one attempt: signed at send time, so the timestamp is fresh on every retry. */
export function signedHeaders(delivery: Delivery, secret: string, now: Date): Record<string, string> {
  const timestamp = Math.floor(now.getTime() / 1000);
  return {
    'Content-Type': 'application/json',
    'User-Agent': 'irbot',
    'X-Irbot-Timestamp': String(timestamp),
    'X-Irbot-Signature': signatureOf(secret, timestamp, delivery.body),
    'Idempotency-Key': delivery.key,
  };
}

/** What an HTTP answer means for the delivery; `retryAfter`: the answer's Retry-After header, if any. */
export function resultOf(status: number, retryAfter: string | null, now: Date): SendResult {
  if (status >= 200 && status < 300) return { ok: true, status };
  const reason = `HTTP ${status}`;
  if (status === 408 || status === 429 || status >= 500) {
    const retryAfterMs = retryAfterMsOf(retryAfter, now);
    return { ok: false, retry: true, reason, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  }
  if (status >= 300 && status < 400) {
    return { ok: false, retry: false, reason: `${reason} (a redirect: set the sink's url to where it points)` };
  }
  return { ok: false, retry: false, reason };
}

/** Retry-After in seconds or as an HTTP date (RFC 9110 §10.2.3), in ms from now; undefined when absent or bad. */
export function retryAfterMsOf(value: string | null, now: Date): number | undefined {
  const given = value?.trim() ?? '';
  if (/^\d+$/.test(given)) return Number(given) * 1000;
  // A date names its day or month (`Thu, 01 Jan …`): JavaScript would read "1.5" as a date in 2001.
  if (!/[a-z]/i.test(given)) return undefined;
  const at = Date.parse(given);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime());
}

export interface SinkOptions {
  url: string;
  secret: string;
  clock: () => Date;
  timeoutMs?: number;
}

export function createSinkTransport(options: SinkOptions): Transport {
  const timeoutMs = options.timeoutMs ?? SINK_TIMEOUT_MS;
  return {
    async send(delivery) {
      const now = options.clock();
      let response: Response;
      try {
        response = await fetch(options.url, {
          method: 'POST',
          headers: signedHeaders(delivery, options.secret, now),
          body: delivery.body,
          // A redirect is reported, not followed: the request is signed for the sink it was meant for.
          redirect: 'manual',
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        return { ok: false, retry: true, reason: requestFailure(err, timeoutMs) };
      }
      // Read to the end so that the connection can be reused; the body itself says nothing we act on.
      await response.arrayBuffer().catch(() => undefined);
      return resultOf(response.status, response.headers.get('retry-after'), options.clock());
    },
  };
}

/**
 * Why a request got no answer, without the URL (its path or query may carry a token): a network error's code, else
 * the error's kind. Never its message: fetch's repeat the URL whole (a URL it refuses, a redirect it could not follow).
 */
function requestFailure(err: unknown, timeoutMs: number): string {
  const name = (err as { name?: unknown } | null)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') return `no answer within ${timeoutMs / 1000} s`;
  return `request failed (${failureCode(err)})`;
}
