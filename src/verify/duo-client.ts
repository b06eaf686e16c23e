// Signed calls to Duo's Auth API over Node's fetch: a timeout on each, a few tries when Duo cannot be reached or is
// busy, and every failure turned into one line with Duo's error code. No secret ever appears in a result.
import { setTimeout as sleep } from 'node:timers/promises';
import { canonParams, type DuoParams, signRequest } from './duo-sign.js';

export interface DuoClientOptions {
  integrationKey: string;
  secretKey: string;
  /**
   * Where requests go: `https://<api_hostname>`, or DUO_API_URL. The signature names this URL's host (with its
   * port when it has one), which is the Host header the server receives.
   */
  baseUrl: string;
  /** Milliseconds before a call is abandoned; default 10 s. */
  timeoutMs?: number;
  /** Tries of a call that failed in a way that may pass (see CallOptions); default 3. */
  tries?: number;
  /** Milliseconds to wait before the next try, after `failed` tries; default 0.5 s, 1 s, 2 s… */
  backoffMs?: (failed: number) => number;
  now?: () => Date;
}

export type DuoAnswer =
  | { ok: true; response: Record<string, unknown> }
  | {
      ok: false;
      /** One line for a person: what was called, what came back (HTTP status, Duo's code and message). */
      problem: string;
      /** Duo's error code (40103…), when it answered with one. */
      code?: number;
      status?: number;
      /** No answer within the timeout (the request may have been carried out). */
      timedOut?: boolean;
      /** No connection could be made at all. */
      unreachable?: boolean;
    };

export interface CallOptions {
  /** Milliseconds before this call is abandoned; default the client's. */
  timeoutMs?: number;
  /**
   * Safe to send again once it may have reached Duo (after a timeout, a dropped connection or a 5xx): reads and
   * preauth are, a push is not. Every call is tried again after a 429 or when no connection could be made.
   */
  idempotent: boolean;
  /** Try again after a timeout; default `idempotent`. A long poll that runs out has its answer: still waiting. */
  retryTimeout?: boolean;
  /** Default the client's. */
  tries?: number;
}

export interface DuoClient {
  /** Where calls go, as scheme, host and port: for messages. */
  readonly origin: string;
  call(method: 'GET' | 'POST', path: string, params: DuoParams, options: CallOptions): Promise<DuoAnswer>;
}

// Connection failures that mean the request never reached Duo, so sending it again cannot do anything twice.
const NOT_SENT = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

export function createDuoClient(options: DuoClientOptions): DuoClient {
  const base = new URL(options.baseUrl);
  const prefix = base.pathname.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 10_000;
  const backoff = options.backoffMs ?? ((failed: number) => 500 * 2 ** (failed - 1));
  const now = options.now ?? (() => new Date());
  const keys = { integrationKey: options.integrationKey, secretKey: options.secretKey };

  async function once(method: 'GET' | 'POST', path: string, params: DuoParams, ms: number): Promise<Attempt> {
    const fullPath = `${prefix}${path}`;
    const date = now().toUTCString();
    const authorization = signRequest(keys, method, base.host, fullPath, params, date);
    // Sent exactly as signed, like Duo's own clients: the server reads back the values that were signed.
    const encoded = canonParams(params);
    const url = new URL(base.origin);
    url.pathname = fullPath;
    if (method === 'GET' && encoded !== '') url.search = encoded;
    try {
      const res = await fetch(url, {
        method,
        headers: {
          authorization,
          date,
          'user-agent': 'irbot',
          ...(method === 'POST' && { 'content-type': 'application/x-www-form-urlencoded' }),
        },
        ...(method === 'POST' && { body: encoded }),
        signal: AbortSignal.timeout(ms),
        // A redirect is Duo's answer, reported as such: a signed request is never sent on to another URL.
        redirect: 'manual',
      });
      const text = await res.text();
      return { kind: 'answered', status: res.status, body: parseJson(text) };
    } catch (err) {
      const e = err as { name?: string; code?: string; cause?: { code?: string } };
      if (e.name === 'TimeoutError' || e.name === 'AbortError') return { kind: 'timeout' };
      const code = e.code ?? e.cause?.code ?? e.name ?? 'error';
      return { kind: 'network', code, notSent: NOT_SENT.has(code) };
    }
  }

  return {
    origin: base.origin,
    async call(method, path, params, callOptions) {
      const ms = callOptions.timeoutMs ?? timeoutMs;
      const tries = Math.max(1, callOptions.tries ?? options.tries ?? 3);
      const where = `Duo at ${base.origin}`;
      for (let attempt = 1; ; attempt++) {
        const result = await once(method, path, params, ms);
        const last = attempt >= tries;
        const after = attempt > 1 ? ` after ${attempt} tries` : '';
        if (result.kind === 'timeout') {
          if (last || !(callOptions.retryTimeout ?? callOptions.idempotent)) {
            return {
              ok: false,
              timedOut: true,
              problem: `${path}: no answer from ${where} within ${seconds(ms)}${after}`,
            };
          }
        } else if (result.kind === 'network') {
          if (last || (!callOptions.idempotent && !result.notSent)) {
            return {
              ok: false,
              ...(result.notSent && { unreachable: true }),
              problem: `${path}: cannot reach ${where} (${result.code})${after}`,
            };
          }
        } else {
          const { status, body } = result;
          if (status === 200 && body?.stat === 'OK' && isRecord(body.response))
            return { ok: true, response: body.response };
          const retryable = status === 429 || (status >= 500 && callOptions.idempotent);
          if (last || !retryable)
            return { ok: false, status, ...codeOf(body), problem: `${path}: ${failure(status, body)}${after}` };
        }
        await sleep(backoff(attempt));
      }
    },
  };
}

type Attempt =
  | { kind: 'answered'; status: number; body: Record<string, unknown> | undefined }
  | { kind: 'timeout' }
  | { kind: 'network'; code: string; notSent: boolean };

/** `HTTP 401, Duo error 40103: Invalid signature in request credentials`, from Duo's `{stat: "FAIL"}` body. */
function failure(status: number, body: Record<string, unknown> | undefined): string {
  const code = typeof body?.code === 'number' ? `, Duo error ${body.code}` : '';
  const message = typeof body?.message === 'string' ? `: ${oneLine(body.message)}` : '';
  const detail = typeof body?.message_detail === 'string' ? ` (${oneLine(body.message_detail)})` : '';
  const unexpected = status === 200 ? ' with a body that is not Duo’s' : '';
  return `Duo answered HTTP ${status}${unexpected}${code}${message}${detail}`;
}

function codeOf(body: Record<string, unknown> | undefined): { code?: number } {
  return typeof body?.code === 'number' ? { code: body.code } : {};
}

/** Text from the server, kept to one short line. */
export function oneLine(text: string, max = 200): string {
  const line = text.replace(/\p{Cc}+/gu, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return isRecord(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const seconds = (ms: number) => `${ms / 1000} s`;
