// The Writer backed by any OpenAI-compatible Chat Completions endpoint, through the official SDK.

import OpenAI from 'openai';
import type { ChatCompletionMessage, ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { type Classification, MALFORMED_CLASSIFICATION, type Writer, type Written } from './port.js';
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
}

/** The model answered without text; the fallback writer takes over. */
export class EmptyAnswerError extends Error {
  override readonly name = 'EmptyAnswerError';
}

export function createOpenAiWriter(opts: OpenAiWriterOptions): Writer {
  const client = new OpenAI({
    apiKey: opts.apiKey,
    ...(opts.baseURL ? { baseURL: opts.baseURL } : {}),
    ...(opts.organization ? { organization: opts.organization } : {}),
    timeout: opts.timeoutMs,
    maxRetries: opts.maxRetries ?? 2,
  });

  async function write(task: string, messages: ChatCompletionMessageParam[]): Promise<Written> {
    const completion = await client.chat.completions.create({ model: opts.model, messages });
    const message = completion.choices[0]?.message;
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
      const completion = await client.chat.completions.create({
        model: opts.model,
        messages: classifyMessages(alert, lines),
        tools: [CLASSIFY_TOOL],
        tool_choice: { type: 'function', function: { name: CLASSIFY_TOOL_NAME } },
        // One verdict: two calls that disagree would leave the choice to the order they came in.
        parallel_tool_calls: false,
      });
      // The model may be talked round by the very reply it judges: the detector's count rides along, whatever it said.
      return { ...parseClassification(completion.choices[0]?.message), steering: countSteering(lines) };
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
  // Several calls (a model that ignored parallel_tool_calls) count only when they agree: else no verdict is the one.
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
