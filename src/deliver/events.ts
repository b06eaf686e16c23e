// Outcome events for the sinks: which events a chat's move gives, and the JSON body each carries, fixed when it
// is enqueued so that every attempt sends the same bytes.
import { createHash } from 'node:crypto';
import type { Chat, ChatState, Effect } from '../chat/types.js';
import type { SinkConfig } from '../config/types.js';
import type { AlertRecord } from '../store/port.js';
import type { DeliveryEvent, DeliveryTarget } from './port.js';
import { enqueueDelivery } from './queue.js';

/**
 * A sink's target, named by what it is, not by its place in config.toml: its URL's host and a digest of its URL and
 * `secret_env` (`sink:siem.example.com#3f2a9c1b`). Reordering or removing sinks while events are queued leaves each
 * event to its own sink (or to none, failed after its 24 hours); the host says which in `status`, the path and query
 * (which may hold a token) stay out.
 */
export function sinkTarget(sink: Pick<SinkConfig, 'url' | 'secretEnv'>): DeliveryTarget {
  const digest = createHash('sha256').update(`${sink.url}\n${sink.secretEnv}`).digest('hex').slice(0, 8);
  return `sink:${new URL(sink.url).host}#${digest}`;
}

/**
 * The target queued events had before sinks were named (`sink:0` for the first of `[[sinks]]`): a process still
 * sends those to the sink now at that place.
 */
export function legacySinkTarget(index: number): DeliveryTarget {
  return `sink:${index}`;
}

/**
 * The events a move of the chat from `before` gives: `started` when it becomes active (the person is greeted),
 * `dismissed`, and `ended` when it closes, unless a summary is on its way (`Summarise`): then `ended` waits for it,
 * so that its verdict carries the summary (see `summaryWritten`).
 */
export function eventsOfMove(before: ChatState, chat: Chat, effects: readonly Effect[]): DeliveryEvent[] {
  if (before === chat.state) return [];
  if (chat.state === 'active') return ['started'];
  if (chat.state === 'dismissed') return ['dismissed'];
  const closed = chat.state === 'ended' || chat.state === 'failed';
  if (closed && !effects.some((effect) => effect.type === 'Summarise')) return ['ended'];
  return [];
}

/** The body of an event about the alert; `summary`: the chat's summary once written (for `ended`, `escalated`). */
export function deliveryBody(record: AlertRecord, event: DeliveryEvent, at: string, summary?: string | null): string {
  const { chat } = record;
  const closed = chat.state === 'ended' || chat.state === 'failed';
  const verdict = closed
    ? {
        outcome: chat.state === 'failed' ? 'failed' : chat.outcome,
        aware: chat.aware,
        verified: chat.verified ?? null,
        summary: summary ?? null,
      }
    : null;
  return JSON.stringify({
    event,
    at,
    alert: {
      id: record.id,
      template: record.template,
      name: record.name,
      user_id: record.userId,
      properties: record.properties,
      dedupe_key: record.dedupeKey ?? null,
    },
    verdict,
    // A suppressed alert was never posted: the snooze that matched it (src/snoozes.ts).
    ...(record.suppressed ? { suppressed: { snooze_id: record.suppressed.snoozeId, at: record.suppressed.at } } : {}),
    transcript: record.transcript.map(({ from, text, at: said, by }) => ({
      from,
      text,
      at: said,
      ...(by !== undefined ? { by } : {}),
    })),
  });
}

/**
 * Queues `event` for every sink that asks for it, in the caller's store transaction; the same body for each.
 * Returns how many were queued.
 */
export function enqueueSinkEvent(
  record: AlertRecord,
  event: DeliveryEvent,
  sinks: readonly SinkConfig[],
  at: string,
  summary?: string | null,
): number {
  const wanted = sinks.filter((sink) => sink.events.includes(event));
  if (wanted.length === 0) return 0;
  const body = deliveryBody(record, event, at, summary);
  return wanted.filter((sink) => enqueueDelivery(record, { target: sinkTarget(sink), event, body, at })).length;
}
