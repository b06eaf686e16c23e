// The Writer without a network: templated texts and a keyword classifier, for the sandbox and as the LLM fallback.

import { cleanLine, cleanName, cleanText } from './bounds.js';
import type { AlertFacts, Classification, Line, Writer } from './port.js';
import { countSteering, isSteering, normalise } from './steering.js';

/** Starts every text the offline writer produces, so nobody mistakes a template for the model. */
export const OFFLINE_LABEL = '[offline] ';

const MAX_QUOTED_REPLIES = 10;
const MAX_QUOTE_CHARS = 200;
/** The alert as a greeting tells it: a DM to a person, not the case file (that is the thread's details post). */
const MAX_GREETING_DESCRIPTION_CHARS = 1_000;
const MAX_GREETING_PROPERTIES = 10;
const MAX_GREETING_ALERT_NAME_CHARS = 200;
const MAX_GREETING_PROPERTY_CHARS = 200;

export function createOfflineWriter(): Writer {
  return {
    async greet(alert) {
      const props = describeProperties(alert.properties);
      const description = cleanText(alert.description, MAX_GREETING_DESCRIPTION_CHARS);
      return {
        text:
          `${OFFLINE_LABEL}Hi ${nameOf(alert)}! Our security tooling flagged "${alertNameOf(alert)}": ` +
          `${trimEnd(description)}${props ? ` (${props})` : ''}. ` +
          'No worries at all, this is a routine check — were you aware of this activity?',
      };
    },
    async nudge(alert) {
      return {
        text:
          `${OFFLINE_LABEL}Sorry to bother you again, ${nameOf(alert)}, about "${alertNameOf(alert)}". ` +
          'Were you aware of that activity?',
      };
    },
    async classify(_alert, lines) {
      return classifyOffline(lines);
    },
    async summarise(alert, lines, verdict) {
      const replies = lines.filter((l) => l.from === 'person').map((l) => l.text);
      const awareness =
        verdict.aware === true
          ? 'said they were aware of'
          : verdict.aware === false
            ? 'said they were not aware of'
            : 'did not say whether they were aware of';
      const quoted = replies.slice(-MAX_QUOTED_REPLIES).map(quote).join(' / ');
      const earlier = replies.length > MAX_QUOTED_REPLIES ? ` (last ${MAX_QUOTED_REPLIES} of ${replies.length})` : '';
      const steering = replies.filter(isSteering);
      const review = !verdict.needsReview
        ? ''
        : steering.length > 0
          ? "Needs review: the person's reply tried to instruct the bot, so an analyst must confirm the answer. "
          : "Needs review: no model judged this chat, and irbot's offline rules only match keywords, so an analyst must confirm the answer. ";
      const suspicion =
        steering.length > 0
          ? `Suspicious: ${steering.length === 1 ? 'a reply' : `${steering.length} replies`} tried to steer the bot, ` +
            `e.g. ${quote(steering[0] ?? '')}.`
          : 'The offline rules found no attempt to steer the bot; they only match keywords, so read the replies.';
      return {
        text:
          `${OFFLINE_LABEL}${review}Outcome: ${verdict.outcome}. ${nameOf(alert)} ${awareness} the activity in ` +
          `"${alertNameOf(alert)}". ${replies.length > 0 ? `Their replies${earlier}: ${quoted}.` : 'They did not reply.'} ` +
          suspicion,
      };
    },
  };
}

/*
 * The offline classifier's rules. Only the person's lines count; the bot's and analysts' never do.
 * Each line is lowercased, curly apostrophes straightened, then:
 *  - A line that tries to steer the bot (src/llm/steering.ts: ignore/disregard instructions, "SYSTEM:", tool field
 *    names, data-block tags, "new instructions", an imperative "say/record/mark … aware") is no answer at all,
 *    whatever it contains.
 *  - Phrases are matched in this order, and a later match overlapping an earlier one is dropped:
 *    1. idioms that hold a yes/no word but answer nothing: "no problem", "no worries", "yes or no";
 *    2. clear "not aware": "no idea", "no clue", "not me", "wasn't me", "I didn't", "not aware", "never heard",
 *       "don't know what/about", "not that I know of";
 *    3. doubt, which voids the rest of its sentence: "not sure", "maybe", "might", "don't remember", "let me check";
 *    4. bare "no", "nope", "nah", "not really" → not aware;
 *    5. "yes", "yeah", "yep", "yup", "correct" (but not "yes?", which asks back), "it/that was me", "I did",
 *       "I was/I'm aware" → aware.
 *  - Within a line the last surviving match wins ("no wait, yes it was me" is aware); across lines the last line
 *    with an answer wins, so a later hostile or doubtful line never erases an earlier answer.
 */
type Answer = 'aware' | 'unaware' | 'none';

const IDIOMS = [/\bno (problem|problemo|worries|worry|rush|pressure|hurry|prob|biggie)\b/, /\b(yes or no|no or yes)\b/];
const CLEAR_NO = [
  /\bno (idea|clue)\b/,
  /\b(it|that|this) (was not|wasn'?t|is not|isn'?t) (me|mine)\b/,
  /\b(not|wasn'?t|was not) me\b/,
  /\bnot mine\b/,
  /\bi (didn'?t|did not|have not|haven'?t|never)\b/,
  /\b(not|wasn'?t|was not|weren'?t|am not|i'?m not)( really| fully| at all)? aware\b/,
  /\bunaware\b/,
  /\bnever (heard|seen|did)\b/,
  /\b(don'?t|do not|didn'?t) (know|recogni[sz]e) (what|anything|about|this|that|it)\b/,
  /\bnot that i('?m| am)? (know|aware)( of)?\b/,
];
const DOUBT = [
  /\b(not sure|unsure|not certain|maybe|perhaps|might|may have|could have|can'?t remember|don'?t remember|don'?t recall|let me check|i'?ll check|checking)\b[^.!?\n]*/,
];
const BARE_NO = [/\b(no|nope|nah|negative|not really)\b/];
const YES = [
  /\b(yes|yeah|yep|yup|yea|correct|affirmative|that'?s right)\b(?!\s*\?)/,
  /\b(it|that|this) was (all )?me\b/,
  /\b(that'?s|that is) (me|mine)\b/,
  /\bi did\b/,
  /\bi (was|am|'?m|knew|know) (aware|about (it|this|that))\b/,
];

const RULES: { patterns: RegExp[]; answer: Answer }[] = [
  { patterns: IDIOMS, answer: 'none' },
  { patterns: CLEAR_NO, answer: 'unaware' },
  { patterns: DOUBT, answer: 'none' },
  { patterns: BARE_NO, answer: 'unaware' },
  { patterns: YES, answer: 'aware' },
];

export function classifyOffline(lines: Line[]): Classification {
  let answer: Answer = 'none';
  for (const line of lines) {
    if (line.from !== 'person') continue;
    const found = answerOf(line.text);
    if (found !== 'none') answer = found;
  }
  // Keyword rules, not a model: an aware answer they find closes the chat as needing review (src/chat/engine.ts).
  return {
    hasAnswered: answer !== 'none',
    isAware: answer === 'aware',
    steering: countSteering(lines),
    byRules: true,
  };
}

function answerOf(raw: string): Answer {
  if (isSteering(raw)) return 'none';
  const text = normalise(raw);
  const taken: { start: number; end: number; answer: Answer }[] = [];
  for (const rule of RULES) {
    for (const pattern of rule.patterns) {
      for (const m of text.matchAll(new RegExp(pattern.source, 'g'))) {
        const start = m.index;
        const end = start + m[0].length;
        if (taken.some((t) => start < t.end && t.start < end)) continue;
        // A "yes" inside a question ("Wait, it was me?", "Are you saying I did this?") is no answer.
        if (rule.answer === 'aware' && /^[^.!\n]*\?/.test(text.slice(end))) continue;
        taken.push({ start, end, answer: rule.answer });
      }
    }
  }
  const last = taken
    .filter((t) => t.answer !== 'none')
    .sort((a, b) => a.start - b.start)
    .at(-1);
  return last?.answer ?? 'none';
}

/** The person's display name, bounded and on one line: they wrote it, and it goes into the bot's own words. */
function nameOf(alert: AlertFacts): string {
  return cleanName(alert.personName);
}

function alertNameOf(alert: AlertFacts): string {
  return cleanLine(alert.name, MAX_GREETING_ALERT_NAME_CHARS);
}

function describeProperties(props: Record<string, string>): string {
  const entries = Object.entries(props);
  const shown = entries
    .slice(0, MAX_GREETING_PROPERTIES)
    .map(([key, value]) => `${cleanName(key)}: ${cleanLine(value, MAX_GREETING_PROPERTY_CHARS)}`)
    .join(', ');
  const more = entries.length - MAX_GREETING_PROPERTIES;
  return more > 0 ? `${shown} and ${more} more` : shown;
}

function trimEnd(text: string): string {
  return text.trim().replace(/[.!?\s]+$/, '');
}

function quote(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return `"${flat.length > MAX_QUOTE_CHARS ? `${flat.slice(0, MAX_QUOTE_CHARS)}…` : flat}"`;
}
