// PagerDuty Events API v2: the trigger event of an escalated alert (built when it is enqueued, without the routing
// key) and the Transport that POSTs it to /v2/enqueue, adding the key at send time.
// https://developer.pagerduty.com/docs/events-api-v2/trigger-events/
import type { Escalation } from '../escalation/decide.js';
import type { AlertRecord } from '../store/port.js';
import { failureCode } from './failure-code.js';
import type { Delivery, SendResult, Transport } from './port.js';
import { retryAfterMsOf } from './sink.js';

export const DEFAULT_PAGERDUTY_API_URL = 'https://events.pagerduty.com';

/** PagerDuty cuts a summary at 1,024 characters; irbot cuts it itself so that the end says it was cut. */
const MAX_SUMMARY = 1024;
/** The transcript's last lines, each cut, and the description cut: the page stays far under PagerDuty's 512 KB. */
const TRANSCRIPT_LINES = 12;
const MAX_LINE = 500;
const MAX_DESCRIPTION = 2000;

/** The body of the page, every attempt the same; `routing_key` is added by the transport. */
export function pagerDutyBody(alert: AlertRecord, escalation: Escalation): string {
  const { chat } = alert;
  const event = {
    event_action: 'trigger',
    // One incident per alert: a retry, or a second process, adds to it instead of paging again.
    dedup_key: alert.id,
    client: 'irbot',
    payload: {
      summary: cut(`irbot: ${escalation.reason}`, MAX_SUMMARY),
      source: 'irbot',
      severity: escalation.severity,
      component: alert.template,
      custom_details: {
        alert: {
          id: alert.id,
          template: alert.template,
          name: alert.name,
          description: cut(alert.description, MAX_DESCRIPTION),
          user_id: alert.userId,
          person: alert.personName ?? null,
          properties: alert.properties,
          ...(alert.dedupeKey ? { dedupe_key: alert.dedupeKey } : {}),
        },
        verdict: {
          escalation: escalation.outcome,
          reason: escalation.reason,
          state: chat.state,
          outcome: chat.outcome,
          aware: chat.aware,
          verified: chat.verified ?? null,
          ...(chat.failure ? { failure: chat.failure } : {}),
        },
        transcript: alert.transcript
          .slice(-TRANSCRIPT_LINES)
          .map((line) => ({ from: line.from, at: line.at, text: cut(line.text, MAX_LINE) })),
      },
    },
  };
  return JSON.stringify(event);
}

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export interface PagerDutyOptions {
  routingKey: string;
  /** Base URL, e.g. https://events.pagerduty.com (PAGERDUTY_API_URL). */
  apiUrl?: string | undefined;
  /** Per request; a timeout is retried like a 5xx. */
  timeoutMs?: number;
  /** For a Retry-After given as a date; default the system clock. */
  clock?: () => Date;
}

/** Sends pages to PagerDuty: 202 delivered; 408, 429, 5xx and network failures retried; any other answer refused. */
export function createPagerDutyTransport(options: PagerDutyOptions): Transport {
  const url = new URL('/v2/enqueue', options.apiUrl ?? DEFAULT_PAGERDUTY_API_URL).toString();
  const { routingKey } = options;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const clock = options.clock ?? (() => new Date());
  // Whatever PagerDuty or a proxy says is shown in status and the log: the key never is.
  const hide = (text: string) => text.replaceAll(routingKey, '[routing key]');
  return {
    async send(delivery: Delivery): Promise<SendResult> {
      const body = JSON.stringify({ routing_key: routingKey, ...JSON.parse(delivery.body) });
      let response: Response;
      try {
        response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          // Never followed: the body carries the routing key, and a 202 from elsewhere is no page.
          redirect: 'manual',
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        return { ok: false, retry: true, reason: hide(`PagerDuty unreachable: ${networkReason(err)}`) };
      }
      // Hidden before it is cut: a key echoed across the cut would be left in part.
      const text = hide(await response.text().catch(() => ''));
      const { status } = response;
      if (status === 202) return { ok: true, status };
      if (status >= 300 && status < 400) {
        return {
          ok: false,
          retry: false,
          reason: `PagerDuty answered ${status}, a redirect, not followed (check PAGERDUTY_API_URL)`,
        };
      }
      const reason = hide(`PagerDuty answered ${status}${describeAnswer(text)}`);
      if (status === 408 || status === 429 || status >= 500) {
        const retryAfterMs = retryAfterMsOf(response.headers.get('retry-after'), clock());
        return { ok: false, retry: true, reason, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
      }
      return { ok: false, retry: false, reason };
    },
  };
}

/** PagerDuty's error JSON (`{status, message, errors: [...]}`) in one line, or nothing for another body. */
function describeAnswer(text: string): string {
  try {
    const answer = JSON.parse(text) as { status?: unknown; message?: unknown; errors?: unknown };
    const parts = [answer.status, answer.message].filter((p): p is string => typeof p === 'string');
    const errors = Array.isArray(answer.errors) ? answer.errors.filter((e): e is string => typeof e === 'string') : [];
    const said = [parts.join(': '), errors.join('; ')].filter(Boolean).join(': ');
    return said ? ` (${cut(said.replace(/\s+/g, ' '), 300)})` : '';
  } catch {
    return '';
  }
}

function networkReason(err: unknown): string {
  if (err instanceof Error && err.name === 'TimeoutError') return 'timed out';
  // Never the message: fetch's repeat the URL whole, and PAGERDUTY_API_URL may carry a password.
  return failureCode(err);
}
