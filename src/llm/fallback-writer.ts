// A Writer that answers from a fallback writer, and says why, whenever the primary one throws.

import OpenAI from 'openai';
import { EmptyAnswerError } from './openai-writer.js';
import { type Writer, WriterStopped } from './port.js';

export function withFallback(primary: Writer, fallback: Writer, onError: (task: string, err: unknown) => void): Writer {
  async function attempt<T extends { fallbackReason?: string }>(task: string, run: (w: Writer) => Promise<T>) {
    try {
      return await run(primary);
    } catch (err) {
      // Stopping is no failure of the model's: the effect waits for the next process, with the model.
      if (err instanceof WriterStopped) throw err;
      onError(task, err);
      return { ...(await run(fallback)), fallbackReason: describeLlmError(err) };
    }
  }

  return {
    greet: (alert) => attempt('greet', (w) => w.greet(alert)),
    nudge: (alert, lines) => attempt('nudge', (w) => w.nudge(alert, lines)),
    // A malformed classification comes back as a value, not an error, so it passes through untouched.
    classify: (alert, lines) => attempt('classify', (w) => w.classify(alert, lines)),
    summarise: (alert, lines, verdict) => attempt('summarise', (w) => w.summarise(alert, lines, verdict)),
  };
}

/** A short reason for a failed LLM call, fit for a Slack thread: `HTTP 429 rate_limit_exceeded`, `timeout`, … */
export function describeLlmError(err: unknown): string {
  // Order matters: the timeout error is a connection error, and both are APIErrors without a status.
  if (err instanceof OpenAI.APIConnectionTimeoutError) return 'timeout';
  if (err instanceof OpenAI.APIConnectionError) return 'connection error';
  if (err instanceof OpenAI.APIUserAbortError) return 'aborted';
  if (err instanceof Error && err.name === 'NoVerdictCallError') return 'no record_awareness call';
  if (err instanceof OpenAI.APIError && typeof err.status === 'number') {
    if (err.code) return `HTTP ${err.status} ${err.code}`;
    // A refusal without a code (Ollama, vLLM): what the server said is the only clue to the fix ("gemma3 does not
    // support tools"). A bad minute (429, 5xx) needs none.
    const said = err.status < 500 && err.status !== 429 ? serverMessage(err) : undefined;
    return said ? `HTTP ${err.status}: ${said}` : `HTTP ${err.status}`;
  }
  // Irbot's own: the message says what the model did (refused, wrote nothing, was cut short).
  if (err instanceof EmptyAnswerError) return cut(err.message);
  if (err instanceof Error) {
    // The SDK's error classes leave `name` as plain 'Error'; their class name says more.
    return err.name === 'Error' ? err.constructor.name : err.name;
  }
  return 'unknown error';
}

/** The server's own words in an API error (its `error.message`, else the SDK's message without the status). */
function serverMessage(err: InstanceType<typeof OpenAI.APIError>): string | undefined {
  const body = err.error as { message?: unknown } | undefined;
  const text = typeof body?.message === 'string' ? body.message : err.message.replace(/^\d{3}\s*/, '');
  const line = text.replace(/\s+/g, ' ').trim();
  return line === '' || line === 'status code (no body)' ? undefined : cut(line);
}

/** At most 160 characters: a thread note, not a log. */
function cut(text: string): string {
  return text.length > 160 ? `${text.slice(0, 159)}…` : text;
}
