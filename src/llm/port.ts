// What irbot asks of a language model: four texts and one judgement. OpenAI-backed or offline.

export type Speaker = 'bot' | 'person' | 'analyst';

/** One line of a chat, as the LLM sees it. */
export interface Line {
  from: Speaker;
  text: string;
}

/** The alert as data for the prompts; never mixed with the person's words. */
export interface AlertFacts {
  name: string;
  description: string;
  properties: Record<string, string>;
  /**
   * How to address the person: display name, or the user ID when the name is unknown. The person wrote it: the
   * writers pass it on as data (src/llm/bounds.ts cleanName), never as an instruction or as the bot's own words.
   */
  personName: string;
}

export interface Written {
  text: string;
  /** Set when the text is the offline fallback because the LLM failed; says why, e.g. `timeout` or `429`. */
  fallbackReason?: string;
}

/**
 * The process is stopping (SIGTERM): the call was let go, and its effect is left queued for the next process,
 * never answered from the offline texts (a restart must not change what the person is sent).
 */
export class WriterStopped extends Error {
  override readonly name = 'WriterStopped';

  constructor() {
    super('irbot is stopping: the LLM call was let go, for the next start');
  }
}

/** The fallbackReason of a classification the model answered in a malformed way: counted as not answered. */
export const MALFORMED_CLASSIFICATION = 'malformed classification';

export interface Classification {
  hasAnswered: boolean;
  isAware: boolean;
  /**
   * How many of the person's lines try to instruct the bot: every writer counts them with the one detector
   * (src/llm/steering.ts), whatever judged the answer.
   */
  steering: number;
  /** Judged by the offline keyword rules, not a model (no LLM, or it failed): an aware answer needs review. */
  byRules?: boolean;
  fallbackReason?: string;
}

/** What the bot recorded, for the summary. */
export interface Verdict {
  outcome: string;
  aware: boolean | null;
  /** The person said they were aware, but a reply of theirs tried to instruct the bot: an analyst must look. */
  needsReview?: boolean;
}

export interface Writer {
  greet(alert: AlertFacts): Promise<Written>;
  nudge(alert: AlertFacts, lines: Line[]): Promise<Written>;
  classify(alert: AlertFacts, lines: Line[]): Promise<Classification>;
  /** Summary of the whole chat: whether the person was aware, and whether anything looks suspicious. */
  summarise(alert: AlertFacts, lines: Line[], verdict: Verdict): Promise<Written>;
}
