// What a failed request says about itself, safe to store and print: fetch's messages repeat the URL whole, and a
// URL's path or query (a sink's, PAGERDUTY_API_URL) may carry a token or a password.

/** A failed request's network error code (ECONNREFUSED…), else the error's kind (TypeError…): never its message. */
export function failureCode(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown } } | null)?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  const name = (err as { name?: unknown } | null)?.name;
  return typeof name === 'string' && name !== '' ? name : 'unknown error';
}
