// A Writer that answers from a fallback writer, and says why, whenever the primary one throws.

import OpenAI from 'openai';
import type { Writer } from './port.js';

export function withFallback(primary: Writer, fallback: Writer, onError: (task: string, err: unknown) => void): Writer {
  async function attempt<T extends { fallbackReason?: string }>(task: string, run: (w: Writer) => Promise<T>) {
    try {
      return await run(primary);
    } catch (err) {
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
    return err.code ? `HTTP ${err.status} ${err.code}` : `HTTP ${err.status}`;
  }
  if (err instanceof Error) {
    // The SDK's error classes leave `name` as plain 'Error'; their class name says more.
    return err.name === 'Error' ? err.constructor.name : err.name;
  }
  return 'unknown error';
}
