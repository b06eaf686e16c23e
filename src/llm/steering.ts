// The steering detector: which of the person's replies try to instruct the bot. Every writer runs this same one.

import type { Line } from './port.js';

/*
 * A reply steers when, lowercased, curly apostrophes straightened and whitespace collapsed, it holds any of:
 * "ignore/disregard/forget/override … instructions/prompt/rules", a "system:/assistant:/developer:" prefix, the
 * classifier's tool or field names, "new instructions" or "you are now", a tag of a prompt's data blocks, or an
 * imperative "say/record/mark/classify/respond/reply/output/set … aware/yes/answered/it was me".
 * Keywords only: a paraphrase gets through, which is why the LLM prompts also say to report any attempt.
 */
const STEERING: RegExp[] = [
  /\b(ignore|disregard|forget|override)\b.{0,60}\b(instructions?|prompts?|rules)\b/,
  /\b(system|assistant|developer)\s*:/,
  /\b(has_answered|is_aware|record_awareness|needs_review)\b/,
  /\bnew instructions?\b|\byou are now\b/,
  /<\s*\/?\s*(data|alert_data|verdict_data|person_data|system|instructions?)\b/,
  /(^|[.!?,;:]\s*|\b(and|please|just|now)\s+)(say|record|classify|mark|respond|reply|output|set)\b.{0,40}\b(aware|yes|answered|it was me)\b/,
];

const INVISIBLE =
  // biome-ignore lint/suspicious/noMisleadingCharacterClass: each one is removed alone, never matched with what it joins
  /[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\u{e0000}-\u{e007f}\u{e0100}-\u{e01ef}]/gu;

/**
 * Texts already looked at: each LLM call of a chat counts every reply of the person's again (a long chat's
 * thousand replies, at every classification). Short texts only, and a bounded number of them (a few MB at most).
 */
const seen = new Map<string, boolean>();
const REMEMBERED = 10_000;
const REMEMBERED_CHARS = 500;

/** Whether one text of the person's tries to instruct the bot. */
export function isSteering(text: string): boolean {
  const known = seen.get(text);
  if (known !== undefined) return known;
  const flat = normalise(text);
  const steers = STEERING.some((re) => re.test(flat));
  if (text.length <= REMEMBERED_CHARS) {
    if (seen.size >= REMEMBERED) seen.clear();
    seen.set(text, steers);
  }
  return steers;
}

/** How many of the person's lines try to instruct the bot; the bot's and analysts' lines never count. */
export function countSteering(lines: readonly Line[]): number {
  let count = 0;
  for (const line of lines) if (line.from === 'person' && isSteering(line.text)) count++;
  return count;
}

/** The person's first line that tries to instruct the bot, for a summary to quote. */
export function firstSteering(lines: readonly Line[]): string | undefined {
  return lines.find((line) => line.from === 'person' && isSteering(line.text))?.text;
}

/**
 * Lowercased after NFKC (fullwidth ｉｇｎｏｒｅ and other compatibility forms become plain letters), with the
 * invisible characters that split a keyword for the eye but not for the LLM removed: zero-width and joiner
 * characters, soft hyphens, bidi controls, variation selectors, tag characters.
 */
export function normalise(text: string): string {
  return text
    .normalize('NFKC')
    .replace(INVISIBLE, '')
    .toLowerCase()
    .replace(/[\u2018\u2019`]/g, "'")
    .replace(/\s+/g, ' ');
}
