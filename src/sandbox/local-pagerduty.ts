// A local PagerDuty Events API v2 (POST /v2/enqueue) for the sandbox and the tests: it checks events as PagerDuty
// does (400 with its error JSON), opens one incident per dedup_key, can answer 429 or 500 for a while, and records
// every request. https://developer.pagerduty.com/docs/events-api-v2/overview/
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface PagerDutyEvent {
  routing_key: string;
  event_action: 'trigger' | 'acknowledge' | 'resolve';
  dedup_key: string;
  payload?: {
    summary: string;
    source: string;
    severity: 'critical' | 'error' | 'warning' | 'info';
    custom_details?: unknown;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export interface RecordedEnqueue {
  /** Parsed JSON, or the raw text when it is not JSON. */
  body: unknown;
  status: number;
  at: string;
}

export interface Incident {
  dedupKey: string;
  status: 'triggered' | 'acknowledged' | 'resolved';
  /** The trigger that opened it. */
  opened: PagerDutyEvent;
  /** Every event accepted for it, the opening one included. */
  events: PagerDutyEvent[];
}

export interface LocalPagerDutyOptions {
  /** When set, only this routing key is accepted (any other of the right shape: 400 invalid routing key). */
  routingKey?: string;
  /** Told of each event accepted, with its incident; `opened`: the event opened it (the sandbox shows pages). */
  onEvent?: (event: PagerDutyEvent, incident: Incident | undefined, opened: boolean) => void;
}

export interface LocalPagerDuty {
  /** `http://127.0.0.1:PORT`, for PAGERDUTY_API_URL. */
  url: string;
  /** Every request to /v2/enqueue, answered or refused, in order. */
  requests: RecordedEnqueue[];
  /** Events accepted (202), in order. */
  events(): PagerDutyEvent[];
  /** Incidents opened, in order: a trigger with the dedup_key of an open incident adds to it. */
  incidents(): Incident[];
  /**
   * The next `times` requests get `status` (429 with PagerDuty's throttle JSON, else a plain error). `processed`:
   * a valid event is acted on first, as when PagerDuty opened the incident and the answer was lost on the way.
   */
  failNext(status: number, times?: number, opts?: { headers?: Record<string, string>; processed?: boolean }): void;
  /** Resolves once `check` passes (now or after a later request); rejects after `timeoutMs`. */
  waitFor(check: (pd: LocalPagerDuty) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const SEVERITIES = ['critical', 'error', 'warning', 'info'];
const ACTIONS = ['trigger', 'acknowledge', 'resolve'];

/** What PagerDuty says of an event it refuses, or undefined for a valid one. */
export function eventErrors(value: unknown, routingKey?: string): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return ['Event object is not a JSON object'];
  const event = value as Record<string, unknown>;
  const errors: string[] = [];
  const blank = (v: unknown) => typeof v !== 'string' || v.trim() === '';
  if (blank(event.routing_key)) errors.push("'routing_key' is missing or blank");
  else if ((event.routing_key as string).length !== 32) {
    errors.push("Length of 'routing_key' is incorrect (should be 32 characters)");
  } else if (!/^[a-zA-Z0-9]{32}$/.test(event.routing_key as string)) errors.push("'routing_key' is invalid");
  else if (routingKey !== undefined && event.routing_key !== routingKey) errors.push('Invalid routing key');
  if (!ACTIONS.includes(event.event_action as string)) {
    errors.push("'event_action' is invalid (must be one of the following: 'trigger', 'acknowledge' or 'resolve')");
  }
  if (event.dedup_key !== undefined && (typeof event.dedup_key !== 'string' || event.dedup_key.length > 255)) {
    errors.push("'dedup_key' is invalid (must be a string of at most 255 characters)");
  }
  if (event.event_action !== 'trigger') {
    if (event.event_action !== undefined && blank(event.dedup_key)) errors.push("'dedup_key' is missing or blank");
    return errors;
  }
  const payload = event.payload;
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    errors.push("'payload' is missing or blank");
    return errors;
  }
  const fields = payload as Record<string, unknown>;
  if (blank(fields.summary)) errors.push("'payload.summary' is missing or blank");
  if (blank(fields.source)) errors.push("'payload.source' is missing or blank");
  if (!SEVERITIES.includes(fields.severity as string)) {
    errors.push(
      "'payload.severity' is invalid (must be one of the following: 'critical', 'warning', 'error' or 'info')",
    );
  }
  return errors;
}

export async function startLocalPagerDuty(options: LocalPagerDutyOptions = {}): Promise<LocalPagerDuty> {
  const requests: RecordedEnqueue[] = [];
  const accepted: PagerDutyEvent[] = [];
  const incidents: Incident[] = [];
  const failures: { status: number; headers: Record<string, string>; processed: boolean }[] = [];
  const waiters = new Set<() => void>();
  let generated = 0;

  const answer = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };

  /** Acts on a valid event as PagerDuty does: a trigger with the dedup_key of an open incident is added to it. */
  const accept = (event: PagerDutyEvent): PagerDutyEvent => {
    event.dedup_key ??= `local-${++generated}`;
    let incident = incidents.find((i) => i.dedupKey === event.dedup_key && i.status !== 'resolved');
    const opened = !incident && event.event_action === 'trigger';
    if (incident) {
      incident.events.push(event);
      if (event.event_action !== 'trigger') {
        incident.status = event.event_action === 'resolve' ? 'resolved' : 'acknowledged';
      }
    } else if (opened) {
      incident = { dedupKey: event.dedup_key, status: 'triggered', opened: event, events: [event] };
      incidents.push(incident);
    }
    accepted.push(event);
    options.onEvent?.(event, incident, opened);
    return event;
  };

  const enqueue = (text: string, res: ServerResponse) => {
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // recorded as text, refused below
    }
    const record = (status: number) => {
      requests.push({ body, status, at: new Date().toISOString() });
      for (const wake of [...waiters]) wake();
    };
    const failure = failures.shift();
    if (failure?.processed && typeof body !== 'string' && eventErrors(body, options.routingKey).length === 0) {
      accept(body as PagerDutyEvent);
    }
    if (failure) {
      record(failure.status);
      if (failure.status === 429) {
        answer(
          res,
          429,
          { status: 'throttle event', message: 'Requests for this service are arriving too quickly' },
          failure.headers,
        );
      } else {
        answer(res, failure.status, { status: 'error', message: 'Internal server error' }, failure.headers);
      }
      return;
    }
    if (typeof body === 'string') {
      record(400);
      answer(res, 400, { status: 'invalid event', message: 'Event object is invalid', errors: ['Invalid JSON'] });
      return;
    }
    const errors = eventErrors(body, options.routingKey);
    if (errors.length > 0) {
      record(400);
      answer(res, 400, { status: 'invalid event', message: 'Event object is invalid', errors });
      return;
    }
    const event = accept(body as PagerDutyEvent);
    record(202);
    answer(res, 202, { status: 'success', message: 'Event processed', dedup_key: event.dedup_key });
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url?.split('?')[0] !== '/v2/enqueue') {
        answer(res, 404, { status: 'not found', message: `no ${req.method} ${req.url}` });
        return;
      }
      enqueue(Buffer.concat(chunks).toString('utf8'), res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const local: LocalPagerDuty = {
    url: `http://127.0.0.1:${port}`,
    requests,
    events: () => accepted,
    incidents: () => incidents,
    failNext(status, times = 1, opts = {}) {
      for (let i = 0; i < times; i++) {
        failures.push({ status, headers: opts.headers ?? {}, processed: opts.processed === true });
      }
    },
    waitFor(check, timeoutMs = 10_000) {
      if (check(local)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const wake = () => {
          if (!check(local)) return;
          waiters.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(wake);
          reject(
            new Error(
              `LocalPagerDuty: not seen within ${timeoutMs} ms; requests: ${JSON.stringify(requests.map((r) => r.status))}`,
            ),
          );
        }, timeoutMs);
        waiters.add(wake);
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return local;
}

/** One terminal line about an event the local PagerDuty accepted (the sandbox prints it). */
export function describeEvent(event: PagerDutyEvent, opened: boolean): string {
  if (event.event_action !== 'trigger') return `${event.event_action} of incident ${event.dedup_key}`;
  const { severity = '?', summary = '' } = event.payload ?? {};
  return opened
    ? `incident opened (${severity}): ${summary}`
    : `added to the open incident ${event.dedup_key}, no new page: ${summary}`;
}
