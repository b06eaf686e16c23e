// Reading Web API requests as Slack does (form or JSON body, bearer or body token) and the failures tests inject.

import type { IncomingMessage } from 'node:http';
import type { ApiReply } from './local-slack-types.js';

export interface Failure {
  error?: string;
  status?: number;
  retryAfterSeconds?: number;
  /** Never answer: the call stays open until the server closes, like a request lost mid-crash. */
  hang?: boolean;
  /** With `hang`: the call is carried out (a post lands) and only its answer never comes. */
  landed?: boolean;
  /** Only for a call to this channel (others pass): which of two posts racing each other fails. */
  channel?: string;
}

// WebClient form-encodes structured arguments as JSON text.
const JSON_ARGS = ['blocks', 'attachments', 'metadata'];

/** The request's arguments, structured ones decoded; throws a SyntaxError for a JSON body that is not an object. */
export function parseArgs(
  contentType: string | undefined,
  body: string,
  query: URLSearchParams,
): Record<string, unknown> {
  const args: Record<string, unknown> = Object.fromEntries(query);
  if (body === '') return args;
  if (contentType?.includes('application/json') === true) {
    const parsed: unknown = JSON.parse(body);
    if (!isRecord(parsed)) throw new SyntaxError('JSON body is not an object');
    return { ...args, ...parsed };
  }
  for (const [key, value] of new URLSearchParams(body)) args[key] = value;
  for (const key of JSON_ARGS) {
    const value = args[key];
    if (typeof value !== 'string') continue;
    try {
      args[key] = JSON.parse(value);
    } catch {
      // Left as text: the method answers invalid_blocks, as Slack does.
    }
  }
  return args;
}

export function bearer(header: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(header ?? '')?.[1];
}

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** An injected failure as Slack sends it: `ok: false` with HTTP 200, or a status; 429 carries Retry-After. */
export function injected(failure: Failure): ApiReply {
  const status = failure.status ?? (failure.retryAfterSeconds !== undefined ? 429 : 200);
  const error = failure.error ?? (status === 429 ? 'ratelimited' : 'internal_error');
  const headers: Record<string, string> =
    status === 429 ? { 'retry-after': String(failure.retryAfterSeconds ?? 1) } : {};
  return { status, body: { ok: false, error }, headers };
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
