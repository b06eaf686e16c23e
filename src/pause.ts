// A pause that a stopping process ends early: between a Slack call's tries (src/slack/web-slack.ts), and an LLM
// call's (src/llm/openai-writer.ts).

/** Waits `ms`; true, at once, if `stopping` is (or becomes) aborted first. Leaves no listener nor timer behind. */
export function stoppedWithin(ms: number, stopping: AbortSignal | undefined): Promise<boolean> {
  if (stopping?.aborted) return Promise.resolve(true);
  return new Promise((resolve) => {
    const stop = () => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      stopping?.removeEventListener('abort', stop);
      resolve(false);
    }, ms);
    stopping?.addEventListener('abort', stop, { once: true });
  });
}
