// Duo's request signature (Auth API, canonicalization v2, HMAC-SHA512), as Duo's published clients compute it;
// shared by the client and the local Duo, which checks it. https://duo.com/docs/authapi#authentication
import { createHmac, timingSafeEqual } from 'node:crypto';

export type DuoParams = Readonly<Record<string, string>>;

/**
 * Parameters as Duo canonicalizes them, and as irbot sends them: sorted by key (UTF-16 order, a prefix first),
 * each key and value percent-encoded with everything but RFC 3986's unreserved characters escaped.
 */
export function canonParams(params: DuoParams): string {
  return Object.keys(params)
    .sort()
    .map((key) => `${encode(key)}=${encode(params[key] ?? '')}`)
    .join('&');
}

/** The text that is signed: date, method, lowercase host, path and the canonical parameters, one a line. */
export function canonicalize(method: string, host: string, path: string, params: DuoParams, date: string): string {
  return [date, method.toUpperCase(), host.toLowerCase(), path, canonParams(params)].join('\n');
}

/** The `Authorization` header: Basic base64(ikey:hex HMAC-SHA512 of the canonical request with the secret key). */
export function signRequest(
  keys: { integrationKey: string; secretKey: string },
  method: string,
  host: string,
  path: string,
  params: DuoParams,
  date: string,
): string {
  const signature = createHmac('sha512', keys.secretKey)
    .update(canonicalize(method, host, path, params, date))
    .digest('hex');
  return `Basic ${Buffer.from(`${keys.integrationKey}:${signature}`).toString('base64')}`;
}

/** Whether `authorization` is the header `signRequest` gives for these keys and this request (constant time). */
export function isSignedBy(
  authorization: string | undefined,
  keys: { integrationKey: string; secretKey: string },
  request: { method: string; host: string; path: string; params: DuoParams; date: string },
): boolean {
  if (authorization === undefined) return false;
  const expected = Buffer.from(
    signRequest(keys, request.method, request.host, request.path, request.params, request.date),
  );
  const given = Buffer.from(authorization);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** encodeURIComponent leaves !'()* alone; Duo escapes them. */
function encode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
