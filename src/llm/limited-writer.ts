// At most `concurrency` LLM requests in flight; the rest wait their turn, so a campaign cannot flood the endpoint.
import pLimit from 'p-limit';
import type { Writer } from './port.js';

export function withConcurrencyLimit(writer: Writer, concurrency: number): Writer {
  const limit = pLimit(concurrency);
  return {
    greet: (alert) => limit(() => writer.greet(alert)),
    nudge: (alert, lines) => limit(() => writer.nudge(alert, lines)),
    classify: (alert, lines) => limit(() => writer.classify(alert, lines)),
    summarise: (alert, lines, verdict) => limit(() => writer.summarise(alert, lines, verdict)),
  };
}
