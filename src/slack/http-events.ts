// `irbot listen --http`: Slack's HTTP Events API and interactivity on one path, signed requests only, each decoded
// to the same Inbound as a Socket Mode envelope and answered 200 once the App has recorded it.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type BoundAddress, bind, HttpError, InFlight, linger, pathOf, readBody, sendJson } from '../http/server.js';
import { type Log, oneLine } from '../log.js';
import { ACK_WITHIN_MS, decodeEnvelope, describeInbound, type Inbound } from './envelope.js';
import { checkSlackHeaders, checkSlackSignature } from './signature.js';

/**
 * Events and interactivity both come here (as Bolt's default receiver takes them): the body tells them apart,
 * JSON for an event, a form with `payload` for a button. slack-app-manifest-http.yml names it for both.
 */
export const EVENTS_PATH = '/slack/events';

/** Slack's bodies are a few KiB; a larger one is no event of Slack's. */
export const MAX_EVENT_BODY_BYTES = 1024 * 1024;

/** What a 503 asks the client to wait: Slack ignores it, a load balancer's health check may not. */
const RETRY_AFTER_SECONDS = 5;

const PATHS = `POST ${EVENTS_PATH} or GET /healthz`;

/**
 * Bodies read at once, at most: Slack sends a few KiB in one go, but a client that forges a fresh timestamp could
 * open connections that each send most of MAX_EVENT_BODY_BYTES and then stall. Past this, 503 (Slack retries).
 */
export const MAX_BODIES_READING = 64;

/** How long a /healthz answer is reused: a flood of them must not queue reads ahead of the events' transactions. */
export const HEALTH_REUSE_MS = 1_000;

export interface HttpEventsOptions {
  host: string;
  port: number;
  /** SLACK_SIGNING_SECRET: checks each request's X-Slack-Signature; never logged. */
  signingSecret: string;
  log: Log;
  clock: () => Date;
  /** Must call `ack` once what arrived is safe in the store, before slow work: the 200 is sent then. */
  handle: (inbound: Inbound, ack: () => Promise<void>) => Promise<void>;
  /** What keeps irbot from working now (the store cannot be read), or undefined: /healthz answers 503 with it. */
  health?: () => Promise<string | undefined>;
  /** Default ACK_WITHIN_MS. */
  ackWithinMs?: number;
  /** Default MAX_EVENT_BODY_BYTES. */
  maxBodyBytes?: number;
}

export interface HttpEvents {
  address: BoundAddress;
  /** Stops taking requests (503 meanwhile, so Slack retries), finishes the events in flight, closes connections. */
  close(): Promise<void>;
}

/** What a signed body asks for. Pure: an unreadable body is `bad` with a reason, never thrown. */
export type SlackRequest =
  | { kind: 'url_verification'; challenge: string }
  | { kind: 'envelope'; type: 'events_api' | 'interactive'; payload: unknown }
  | { kind: 'bad'; reason: string };

/** The body as the Socket Mode envelope Slack would have sent: its `type` and `payload`, for decodeEnvelope. */
export function readSlackRequest(contentType: string | undefined, body: string): SlackRequest {
  const type = (contentType ?? '').split(';', 1)[0]?.trim().toLowerCase() ?? '';
  if (type === 'application/json') {
    const parsed = parseJson(body);
    if (!isObject(parsed)) return { kind: 'bad', reason: 'the body is not a JSON object' };
    if (parsed.type === 'url_verification') {
      return typeof parsed.challenge === 'string'
        ? { kind: 'url_verification', challenge: parsed.challenge }
        : { kind: 'bad', reason: 'url_verification without a challenge' };
    }
    // event_callback, and anything else Slack sends here (app_rate_limited), which decodeEnvelope ignores.
    return { kind: 'envelope', type: 'events_api', payload: parsed };
  }
  if (type === 'application/x-www-form-urlencoded') {
    // https://docs.slack.dev/interactivity/handling-user-interaction: payload=<URL-encoded JSON>
    const payload = new URLSearchParams(body).get('payload');
    if (payload === null) return { kind: 'bad', reason: 'a form without a payload field' };
    const parsed = parseJson(payload);
    if (!isObject(parsed)) return { kind: 'bad', reason: 'payload is not a JSON object' };
    return { kind: 'envelope', type: 'interactive', payload: parsed };
  }
  return { kind: 'bad', reason: 'Content-Type must be application/json or application/x-www-form-urlencoded' };
}

export async function startHttpEvents(options: HttpEventsOptions): Promise<HttpEvents> {
  const { log } = options;
  const maxBody = options.maxBodyBytes ?? MAX_EVENT_BODY_BYTES;
  const ackWithin = options.ackWithinMs ?? ACK_WITHIN_MS;
  const health = sharedHealth(options.health ?? (async () => undefined), () => options.clock().getTime());
  const requests = new InFlight();
  let reading = 0;

  // A request that stalls is dropped within seconds: Slack's arrive whole at once (timeouts checked every second).
  const server = createServer({ connectionsCheckingInterval: 1_000 }, (req, res) => {
    requests.track(
      serveRequest(req, res).catch((err) => {
        log(`slack ${req.method} ${pathOf(req)} 500 ${oneLine(err)}`, { event: 'slack_request', level: 'error' });
        if (!res.headersSent) sendJson(res, 500, { error: 'internal error' }, {}, requests.closing);
      }),
    );
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;

  async function serveRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = pathOf(req);
    const method = req.method ?? 'GET';
    const answer = (status: number, body: object | undefined, what: string, headers: Record<string, string> = {}) => {
      if (body === undefined) res.writeHead(status, { 'content-length': '0', ...headers }).end();
      else sendJson(res, status, body, headers, requests.closing);
      if (!req.complete) linger(req);
      if (what) {
        const level = status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info';
        log(`slack ${method} ${path} ${status} ${what}`, { event: 'slack_request', status, level });
      }
    };
    try {
      if (requests.closing) throw new HttpError(503, 'shutting down', { 'retry-after': String(RETRY_AFTER_SECONDS) });
      if (path === '/healthz') {
        if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'method not allowed', { allow: 'GET' });
        const trouble = await health().catch((err: unknown) => oneLine(err));
        if (trouble)
          answer(503, { ok: false, error: trouble }, trouble, { 'retry-after': String(RETRY_AFTER_SECONDS) });
        else answer(200, { ok: true }, '');
        return;
      }
      if (path !== EVENTS_PATH) throw new HttpError(404, `not found: ${PATHS}`);
      if (method !== 'POST') throw new HttpError(405, `method not allowed: ${PATHS}`, { allow: 'POST' });
      const timestamp = header(req, 'x-slack-request-timestamp');
      const signature = header(req, 'x-slack-signature');
      // Refused before the body is read: a request that cannot be Slack's costs no more than its headers.
      const shaped = checkSlackHeaders({ timestamp, signature }, options.clock());
      if (!shaped.ok) throw new HttpError(401, shaped.reason);
      if (reading >= MAX_BODIES_READING) {
        throw new HttpError(503, 'too many requests at once', { 'retry-after': String(RETRY_AFTER_SECONDS) });
      }
      reading++;
      const body = await readBody(req, maxBody).finally(() => reading--);
      const signed = checkSlackSignature(options.signingSecret, { timestamp, signature, body }, options.clock());
      if (!signed.ok) throw new HttpError(401, signed.reason);
      const request = readSlackRequest(req.headers['content-type'], body.toString('utf8'));
      if (request.kind === 'bad') throw new HttpError(400, request.reason);
      if (request.kind === 'url_verification') {
        answer(200, { challenge: request.challenge }, 'url_verification');
        return;
      }
      const retry = retryOf(req);
      const inbound = decodeEnvelope(request.type, request.payload);
      const outcome = await handOver(inbound);
      if (outcome === 'recorded') {
        answer(200, undefined, retry ? `${describeInbound(inbound)} (${retry})` : '');
        return;
      }
      if (outcome === 'late' && inbound.kind === 'button') {
        // Slack never retries a click: a 503 would only show the clicker an error for a press applied anyway.
        answer(
          200,
          undefined,
          `${describeInbound(inbound)}: not recorded within ${ackWithin} ms, answered; applied once it is`,
        );
        return;
      }
      if (outcome === 'late') {
        // Never 200 before an event is recorded: Slack retries, and the retry is dropped as a duplicate by event
        // id if the App records this one meanwhile (the work goes on after the answer).
        answer(
          503,
          { error: `not recorded within ${ackWithin} ms` },
          `${describeInbound(inbound)}: not recorded in time`,
          {
            'retry-after': String(RETRY_AFTER_SECONDS),
          },
        );
        return;
      }
      const trouble = await health().catch((err: unknown) => oneLine(err));
      // Not recorded: Slack re-delivers on anything but 2xx, as Socket Mode re-delivers an envelope left unacked.
      answer(
        trouble ? 503 : 500,
        { error: trouble ?? 'internal error' },
        `${describeInbound(inbound)}: ${oneLine(outcome.failed)}`,
        trouble ? { 'retry-after': String(RETRY_AFTER_SECONDS) } : {},
      );
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      answer(err.status, { error: err.message }, err.message, err.headers);
    }
  }

  /** Hands the event to the App; settles when it is recorded, when it failed first, or after `ackWithin`. */
  async function handOver(inbound: Inbound): Promise<'recorded' | 'late' | { failed: unknown }> {
    let answered = false;
    let recorded: () => void = () => undefined;
    const acked = new Promise<'recorded'>((resolve) => {
      recorded = () => {
        answered = true;
        resolve('recorded');
      };
    });
    const work = options.handle(inbound, async () => recorded());
    // The App's work goes on after the answer (lanes, LLM): close() waits for it. A failure before the answer is
    // the answer's to log.
    requests.track(
      work.catch((err) => {
        if (answered) log(`${describeInbound(inbound)}: ${oneLine(err)}`, { event: 'event_failed', level: 'error' });
      }),
    );
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), ackWithin);
    });
    try {
      return await Promise.race([
        acked,
        // Done without an ack: nothing to record (the App acks even what it ignores).
        work.then(
          () => 'recorded' as const,
          (failed: unknown) => ({ failed }),
        ),
        late,
      ]);
    } finally {
      answered = true;
      clearTimeout(timer);
    }
  }

  const address = await bind(server, options, 'slack events', '--http');
  server.on('error', (err) => log(`slack events: ${oneLine(err)}`, { event: 'slack_http_error', level: 'error' }));

  return { address, close: () => requests.close(server) };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
}

/** `retry 1 http_timeout` for Slack's re-delivery, undefined for a first delivery. */
function retryOf(req: IncomingMessage): string | undefined {
  const num = header(req, 'x-slack-retry-num');
  if (num === undefined) return undefined;
  const reason = header(req, 'x-slack-retry-reason');
  return `retry ${num.slice(0, 8)}${reason ? ` ${reason.slice(0, 40).replace(/[^\w-]/g, '?')}` : ''}`;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * `health` shared by the requests that ask at once, and its answer reused for HEALTH_REUSE_MS: /healthz takes no
 * credentials, and each check reads the store, on the queue the events' transactions wait on.
 */
function sharedHealth(health: () => Promise<string | undefined>, now: () => number): () => Promise<string | undefined> {
  let last: { at: number; answer: Promise<string | undefined> } | undefined;
  return () => {
    const at = now();
    if (last && at - last.at < HEALTH_REUSE_MS && at >= last.at) return last.answer;
    const answer = health();
    last = { at, answer };
    return answer;
  };
}
