// The Writer backed by any OpenAI-compatible Chat Completions endpoint, through the official SDK.

import OpenAI from 'openai';
import type { ChatCompletionMessage, ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { stoppedWithin } from '../pause.js';
import { type Classification, MALFORMED_CLASSIFICATION, type Writer, WriterStopped, type Written } from './port.js';
import {
  CLASSIFY_TOOL,
  CLASSIFY_TOOL_NAME,
  classifyMessages,
  greetMessages,
  nudgeMessages,
  summariseMessages,
} from './prompts.js';
import { countSteering } from './steering.js';

export interface OpenAiWriterOptions {
  apiKey: string;
  baseURL?: string;
  organization?: string;
  model: string;
  timeoutMs: number;
  maxRetries?: number;
  /** Default MAX_PAUSE_MS. */
  maxPauseMs?: number;
  /** The process's stop: a call in flight, or a pause before the next try, is let go (WriterStopped). */
  stopping?: AbortSignal;
}

/** The model answered without text; the fallback writer takes over. */
export class EmptyAnswerError extends Error {
  override readonly name = 'EmptyAnswerError';
}

/** The longest pause between two attempts, whatever a 429's Retry-After asks (Azure's quota asks for hours). */
export const MAX_PAUSE_MS = 30_000;

/** The model judged in words instead of calling `record_awareness` (a server that ignores a forced tool call). */
export class NoVerdictCallError extends Error {
  override readonly name = 'NoVerdictCallError';
}

export function createOpenAiWriter(opts: OpenAiWriterOptions): Writer {
  const maxRetries = opts.maxRetries ?? 2;
  const client = new OpenAI({
    apiKey: opts.apiKey,
    ...(opts.baseURL ? { baseURL: opts.baseURL } : {}),
    ...(opts.organization ? { organization: opts.organization } : {}),
    timeout: opts.timeoutMs,
    // Retried here: the SDK sleeps whatever a 429's Retry-After says (a day, from a quota), unabortably, holding a
    // concurrency slot, while greetings and judgements wait behind it.
    maxRetries: 0,
  });
  const maxPauseMs = opts.maxPauseMs ?? MAX_PAUSE_MS;

  const { stopping } = opts;
  const requestOptions = stopping ? { signal: stopping } : {};

  /** `run`, tried again as the SDK would (a connection error, 408, 409, 429, 5xx), pausing at most maxPauseMs. */
  async function withRetries<T>(run: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await run();
      } catch (err) {
        if (stopping?.aborted) throw new WriterStopped();
        const pause = attempt < maxRetries ? pauseBefore(err, attempt) : undefined;
        // Asked to wait longer than irbot will: the offline text now beats a greeting in an hour.
        if (pause === undefined || pause > maxPauseMs) throw err;
        if (await stoppedWithin(pause, stopping)) throw new WriterStopped();
      }
    }
  }

  async function write(task: string, messages: ChatCompletionMessageParam[]): Promise<Written> {
    const completion = await withRetries(() =>
      client.chat.completions.create({ model: opts.model, messages }, requestOptions),
    );
    const choice = completion.choices[0];
    const message = choice?.message;
    // Cut short (the context's end, Azure's content filter): never sent to the person as if whole.
    if (choice?.finish_reason === 'length' || choice?.finish_reason === 'content_filter') {
      throw new EmptyAnswerError(`the model's ${task} was cut short (finish_reason ${choice.finish_reason})`);
    }
    const text = message?.content?.trim() ?? '';
    if (text === '') {
      throw new EmptyAnswerError(
        message?.refusal ? `the model refused the ${task}: ${message.refusal}` : `the model wrote no ${task}`,
      );
    }
    return { text };
  }

  return {
    greet: (alert) => write('greeting', greetMessages(alert)),
    nudge: (alert, lines) => write('nudge', nudgeMessages(alert, lines)),
    summarise: (alert, lines, verdict) => write('summary', summariseMessages(alert, lines, verdict)),
    async classify(alert, lines) {
      const completion = await withRetries(() =>
        client.chat.completions.create(
          {
            model: opts.model,
            messages: classifyMessages(alert, lines),
            tools: [CLASSIFY_TOOL],
            tool_choice: { type: 'function', function: { name: CLASSIFY_TOOL_NAME } },
            // No `parallel_tool_calls: false`: OpenAI's reasoning models (o1, o3, o4-mini) refuse it with a 400, and
            // several calls count only when they agree anyway (parseClassification).
          },
          requestOptions,
        ),
      );
      const message = completion.choices[0]?.message;
      // No call at all (text instead): not a malformed verdict but none, every time with such a server. The keyword
      // rules judge then, whose aware answers an analyst confirms, rather than every chat nudged to no answer.
      if (!message?.tool_calls?.length) {
        throw new NoVerdictCallError('the model answered without calling record_awareness');
      }
      // The model may be talked round by the very reply it judges: the detector's count rides along, whatever it said.
      return { ...parseClassification(message), steering: countSteering(lines) };
    },
  };
}

/** Reads the forced `record_awareness` call; anything else is a malformed answer, never an exception. */
export function parseClassification(message: ChatCompletionMessage | undefined): Omit<Classification, 'steering'> {
  const malformed = { hasAnswered: false, isAware: false, fallbackReason: MALFORMED_CLASSIFICATION };
  const calls = (message?.tool_calls ?? []).filter(
    (c) => c.type === 'function' && c.function.name === CLASSIFY_TOOL_NAME,
  );
  const verdicts = calls.map((call) => (call.type === 'function' ? verdictOf(call.function.arguments) : null));
  const [first] = verdicts;
  if (!first || verdicts.some((v) => v === null)) return malformed;
  // Several calls count only when they agree: else no verdict is the one (the first would win by its order).
  if (verdicts.some((v) => v?.hasAnswered !== first.hasAnswered || v?.isAware !== first.isAware)) return malformed;
  return first;
}

/** One call's arguments as a verdict, or null when they are not one. */
function verdictOf(text: string): { hasAnswered: boolean; isAware: boolean } | null {
  let args: unknown;
  try {
    args = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof args !== 'object' || args === null) return null;
  const { has_answered: hasAnswered, is_aware: isAware } = args as Record<string, unknown>;
  if (typeof hasAnswered !== 'boolean' || typeof isAware !== 'boolean') return null;
  // Awareness means nothing until the person has answered; keep the pair consistent for the engine.
  return { hasAnswered, isAware: hasAnswered && isAware };
}

/**
 * How long to wait before trying `err`'s call again, or undefined when it is not worth trying again: the SDK's
 * rule (a connection error or timeout, 408, 409, 429, 5xx, unless `x-should-retry` says otherwise) and its pause
 * (Retry-After, in ms or s or a date; else 0.5 s doubling up to 8 s, less up to a quarter).
 */
export function pauseBefore(err: unknown, attempt: number): number | undefined {
  const backoff = Math.min(500 * 2 ** attempt, 8000) * (1 - Math.random() * 0.25);
  if (err instanceof OpenAI.APIConnectionError) return backoff;
  if (!(err instanceof OpenAI.APIError) || err.status === undefined) return undefined;
  const headers = err.headers;
  const should = headers?.get('x-should-retry');
  if (should === 'false') return undefined;
  const { status } = err;
  if (should !== 'true' && !(status === 408 || status === 409 || status === 429 || status >= 500)) return undefined;
  const ms = Number.parseFloat(headers?.get('retry-after-ms') ?? '');
  if (!Number.isNaN(ms)) return Math.max(0, ms);
  const after = headers?.get('retry-after');
  if (after) {
    const seconds = Number.parseFloat(after);
    const wait = Number.isNaN(seconds) ? Date.parse(after) - Date.now() : seconds * 1000;
    if (!Number.isNaN(wait)) return Math.max(0, wait);
  }
  return backoff;
}
