// `irbot listen --webhook`: alerts in over HTTP. POST /alerts (bearer token, JSON) → recorded and posted → 202.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { AlertBusyError } from '../app.js';
import type { AlertBatch, AlertInput, Rejection } from '../config/alerts.js';
import { ConfigError } from '../config/errors.js';
import { bind, HttpError, InFlight, linger, pathOf, readBody, sendJson } from '../http/server.js';
import { type Log, oneLine } from '../log.js';
import { classifySlackError, SlackCallError } from '../slack/errors.js';
import { type AlertSink, BatchError, describeStart, type Posted, postAlerts } from './post.js';

/**
 * Turns a request body into alerts checked one by one, or throws a ConfigError when the body cannot be read at
 * all; each refused alert's error names the bad field.
 */
export type ParseAlerts = (body: string) => AlertBatch;

export interface WebhookOptions {
  host: string;
  port: number;
  /** What clients send as `Authorization: Bearer …`. */
  token: string;
  log: Log;
  /** Default 256 KiB. */
  maxBodyBytes?: number;
  /** Default 30 s: how long one request may take to arrive, so a slow client cannot hold a shutdown. */
  requestTimeoutMs?: number;
  /** What keeps irbot from working now (the store cannot be read), or undefined: /healthz answers 503 with it. */
  health?: () => Promise<string | undefined>;
  /** Default the system's: when alerts could not be recorded, for /healthz. */
  clock?: () => Date;
}

export interface Webhook {
  address: { host: string; port: number; url: string };
  /** Stops accepting, finishes the requests and chat starts in flight, then closes every connection. */
  close(): Promise<void>;
}

export const MAX_BODY_BYTES = 256 * 1024;

const PATHS = 'POST /alerts or GET /healthz';

/** What a 503 asks the client to wait before trying again. */
const RETRY_AFTER_SECONDS = 5;

/** How long /healthz reports alerts that could not be recorded. */
export const RECORD_TROUBLE_MS = 30_000;

export async function startWebhook(app: AlertSink, parse: ParseAlerts, options: WebhookOptions): Promise<Webhook> {
  const { log } = options;
  const maxBody = options.maxBodyBytes ?? MAX_BODY_BYTES;
  // Comparing digests compares equal-length buffers whatever was sent: neither the token's length nor its
  // content shows in the time a wrong one takes.
  const expected = digest(options.token);
  const requests = new InFlight();

  /**
   * Why the last alerts could not be recorded (a full disk, a read-only store, PostgreSQL down), and when: /healthz
   * says so too for RECORD_TROUBLE_MS, where a read of the store alone would find nothing wrong (and not for
   * longer: a load balancer that believed it would send no alert to find out that the trouble is over).
   */
  let recordTrouble: { why: string; at: number } | undefined;
  const now = () => (options.clock ?? (() => new Date()))().getTime();
  const readTrouble = () => (options.health ?? (async () => undefined))().catch((e: unknown) => oneLine(e));
  const health = async () => {
    const trouble = await readTrouble();
    if (trouble !== undefined) return trouble;
    if (recordTrouble && now() - recordTrouble.at < RECORD_TROUBLE_MS) return recordTrouble.why;
    return undefined;
  };
  const server = createServer((req, res) => {
    requests.track(
      handle(req, res).catch(async (err) => {
        // Not the request's fault: irbot could not read or record what it sent. Slack's answer is not in it (a
        // failed post is a 502), so the client is to try again, as for a store that cannot be read.
        const trouble = await health();
        const reason = trouble ?? 'the alerts could not be recorded';
        log(`webhook ${req.method} ${pathOf(req)} 503 ${oneLine(err)}`, {
          event: 'webhook_request',
          status: 503,
          level: 'error',
        });
        if (res.headersSent) return;
        send(res, 503, { error: reason }, { 'retry-after': String(RETRY_AFTER_SECONDS) });
      }),
    );
  });
  server.requestTimeout = options.requestTimeoutMs ?? 30_000;
  server.headersTimeout = Math.min(10_000, server.requestTimeout);

  function send(res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
    sendJson(res, status, body, headers, requests.closing);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = pathOf(req);
    const method = req.method ?? 'GET';
    const done = (status: number, body: object, what = '', headers: Record<string, string> = {}) => {
      send(res, status, body, headers);
      if (!req.complete) linger(req);
      log(`webhook ${method} ${path} ${status}${what ? ` ${what}` : ''}`, { event: 'webhook_request', status });
    };
    try {
      if (requests.closing) throw new HttpError(503, 'shutting down', { 'retry-after': String(RETRY_AFTER_SECONDS) });
      if (path === '/healthz') {
        if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'method not allowed', { allow: 'GET' });
        const trouble = await health();
        if (trouble) {
          done(503, { ok: false, error: trouble }, trouble, { 'retry-after': String(RETRY_AFTER_SECONDS) });
          return;
        }
        done(200, { ok: true });
        return;
      }
      if (path !== '/alerts') throw new HttpError(404, `not found: ${PATHS}`);
      if (method !== 'POST') throw new HttpError(405, `method not allowed: ${PATHS}`, { allow: 'POST' });
      if (!authorized(req.headers.authorization, expected)) {
        throw new HttpError(401, 'missing or wrong bearer token', { 'www-authenticate': 'Bearer' });
      }
      if (!isJson(req.headers['content-type'])) {
        throw new HttpError(415, 'Content-Type must be application/json');
      }
      const body = (await readBody(req, maxBody)).toString('utf8');
      let alerts: AlertInput[];
      // One bad alert never holds back the good ones: they are posted and the bad ones listed (400: none good).
      let refused: { rejected?: Rejection[] } = {};
      try {
        const batch = parse(body);
        const [first] = batch.rejected;
        if (batch.accepted.length === 0 && first) {
          done(400, { error: first.error, rejected: batch.rejected.map(shown) }, first.error);
          return;
        }
        alerts = batch.accepted.map(({ alert }) => alert);
        if (batch.rejected.length > 0) refused = { rejected: batch.rejected.map(shown) };
      } catch (err) {
        if (err instanceof ConfigError) throw new HttpError(400, oneLine(err));
        throw err;
      }
      let posted: Posted[];
      try {
        posted = await postAlerts(app, alerts);
        recordTrouble = undefined;
      } catch (err) {
        const cause = err instanceof BatchError ? err.cause : err;
        // Neither Slack's answer nor another delivery at work on it: irbot could not record them.
        // (A store that cannot be read says so itself, and is well again once it reads.)
        if (
          slackCode(cause) === undefined &&
          !(cause instanceof AlertBusyError) &&
          (await readTrouble()) === undefined
        ) {
          recordTrouble = { why: `alerts could not be recorded: ${oneLine(cause)}`, at: now() };
        }
        if (!(err instanceof BatchError)) throw err;
        followChats(err.posted);
        if (err.cause instanceof AlertBusyError) {
          // Another irbot process is posting that alert right now: the source is to try again shortly.
          const lists = idLists(err.posted);
          done(503, { error: oneLine(err), ...lists }, `busy ${describeIds(lists)}`, {
            'retry-after': String(RETRY_AFTER_SECONDS),
          });
          return;
        }
        const code = slackCode(err.cause);
        if (code === undefined) throw err;
        const lists = idLists(err.posted);
        done(502, { error: oneLine(err), code, ...lists, ...refused }, `${code} ${describeIds(lists)}`);
        return;
      }
      followChats(posted);
      const lists = idLists(posted);
      const also = refused.rejected ? `; refused ${refused.rejected.map((r) => `#${r.index + 1}`).join(', ')}` : '';
      done(202, { ...lists, ...refused }, `${describeIds(lists)}${also}`);
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      done(err.status, { error: err.message }, err.status === 400 ? err.message : '', err.headers);
    }
  }

  function followChats(posted: Posted[]): void {
    for (const { alert, chat } of posted) {
      if (!chat) continue;
      requests.track(
        chat.then(
          (applied) => log(describeStart(alert.id, applied), { event: 'auto_chat', alert: alert.id }),
          (err) =>
            log(`alert ${alert.id}: auto_chat failed: ${oneLine(err)}`, {
              event: 'auto_chat',
              alert: alert.id,
              level: 'error',
            }),
        ),
      );
    }
  }

  const address = await bind(server, options, 'webhook', '--webhook');
  server.on('error', (err) => log(`webhook: ${oneLine(err)}`, { event: 'webhook_error', level: 'error' }));

  return { address, close: () => requests.close(server) };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

function authorized(header: string | undefined, expected: Buffer): boolean {
  const token = /^Bearer +(\S+) *$/i.exec(header ?? '')?.[1];
  // Hash even when the header is missing, so that every refusal takes about as long.
  return timingSafeEqual(digest(token ?? ''), expected) && token !== undefined;
}

/** application/json or application/<something>+json, with any parameters (charset). */
function isJson(contentType: string | undefined): boolean {
  const type = (contentType ?? '').split(';', 1)[0]?.trim().toLowerCase() ?? '';
  return type === 'application/json' || /^application\/[\w.-]+\+json$/.test(type);
}

/** A refusal as the client gets it: its place in the batch and the reason, not the id it sent back. */
function shown({ index, error }: Rejection): Rejection {
  return { index, error };
}

/** `suppressed` only when a snooze kept some alert from the feed: the answer is as before otherwise. */
function idLists(posted: Posted[]): {
  ids: string[];
  duplicates: string[];
  suppressed?: { id: string; snooze_id: string }[];
} {
  const suppressed = posted.flatMap((p) => (p.suppressed ? [{ id: p.alert.id, snooze_id: p.suppressed.id }] : []));
  return {
    ids: posted.map((p) => p.alert.id),
    duplicates: posted.filter((p) => p.duplicate).map((p) => p.alert.id),
    ...(suppressed.length > 0 ? { suppressed } : {}),
  };
}

function describeIds({
  ids,
  duplicates,
  suppressed = [],
}: {
  ids: string[];
  duplicates: string[];
  suppressed?: { id: string; snooze_id: string }[];
}): string {
  const quiet = suppressed.map((s) => s.id);
  const fresh = ids.filter((id) => !duplicates.includes(id) && !quiet.includes(id));
  const parts: string[] = [];
  if (fresh.length > 0 || (duplicates.length === 0 && quiet.length === 0))
    parts.push(`posted ${fresh.length ? fresh.join(', ') : 'none'}`);
  if (duplicates.length > 0) parts.push(`duplicates ${duplicates.join(', ')}`);
  if (quiet.length > 0) parts.push(`suppressed ${suppressed.map((s) => `${s.id} (${s.snooze_id})`).join(', ')}`);
  return parts.join('; ');
}

/** Slack's error code when posting failed at Slack; undefined for anything else (a store failure: 500). */
function slackCode(err: unknown): string | undefined {
  if (err instanceof SlackCallError) return err.failure.code;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('slack_webapi_') ? classifySlackError(err).code : undefined;
}
