// Slack's request signing (HTTP Events API and interactivity): sign a body, or check a request's signature. Pure.
// https://docs.slack.dev/authentication/verifying-requests-from-slack
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Slack refuses, and so do we, a request whose timestamp is further than this from now, either way: a replay. */
export const MAX_SKEW_SECONDS = 5 * 60;

export interface SignedRequest {
  /** X-Slack-Request-Timestamp: seconds since the epoch, as Slack sent it. */
  timestamp: string | undefined;
  /** X-Slack-Signature: `v0=` and 64 hex digits. */
  signature: string | undefined;
  /** The raw body, exactly as received: a body parsed and serialised again would not match. */
  body: Buffer | string;
}

export type SignatureCheck = { ok: true } | { ok: false; reason: string };

/** `v0=` + hex HMAC-SHA256(secret, `v0:<timestamp>:<body>`): what Slack sends as X-Slack-Signature. */
export function signSlackRequest(secret: string, timestamp: string, body: Buffer | string): string {
  const hmac = createHmac('sha256', secret);
  hmac.update(`v0:${timestamp}:`);
  hmac.update(body);
  return `v0=${hmac.digest('hex')}`;
}

/**
 * What the headers alone say: both present, the timestamp within MAX_SKEW_SECONDS of `now`, the signature shaped as
 * Slack's. Checked before the body is read, so that a request that cannot be Slack's costs no more than its headers.
 */
export function checkSlackHeaders(request: Omit<SignedRequest, 'body'>, now: Date): SignatureCheck {
  const { timestamp, signature } = request;
  if (timestamp === undefined || signature === undefined) {
    return { ok: false, reason: 'missing X-Slack-Signature or X-Slack-Request-Timestamp' };
  }
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'X-Slack-Request-Timestamp is not a number' };
  if (Math.abs(now.getTime() / 1000 - Number(timestamp)) > MAX_SKEW_SECONDS) {
    return { ok: false, reason: 'X-Slack-Request-Timestamp is more than 5 minutes away from now' };
  }
  if (!/^v0=[0-9a-f]{64}$/.test(signature))
    return { ok: false, reason: 'X-Slack-Signature is not v0= and 64 hex digits' };
  return { ok: true };
}

/** Whether Slack signed this request with `secret` within MAX_SKEW_SECONDS of `now`; the reason names no secret. */
export function checkSlackSignature(secret: string, request: SignedRequest, now: Date): SignatureCheck {
  const headers = checkSlackHeaders(request, now);
  if (!headers.ok) return headers;
  const timestamp = request.timestamp as string;
  const signature = request.signature as string;
  const expected = Buffer.from(signSlackRequest(secret, timestamp, request.body), 'utf8');
  const given = Buffer.from(signature, 'utf8');
  // timingSafeEqual throws on buffers of different lengths; the length of a signature is no secret.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: 'X-Slack-Signature does not match' };
  }
  return { ok: true };
}
