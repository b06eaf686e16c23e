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
  /(^|[.!?,;:]\s*|\b(and|please|just|now|kindly)\s+|\byou\s+(to\s+)?)(say|record|classify|mark|respond|reply|output|set|note|log|write|put)\b.{0,40}\b(aware|yes|answered|it was me)\b/,
  // A chat template's own tokens (`<|im_start|>system`), and a role or instructions heading in brackets or markdown.
  /<\|/,
  /\[\s*(system|assistant|developer)\s*\]|(^|\n|\s)#{1,6}\s*(system|instructions?)\b/,
];

/** Letters of other scripts that look like Latin ones, as they are read in a keyword (Cyrillic and Greek). */
const LOOKALIKES: Record<string, string> = {
  а: 'a',
  в: 'b',
  е: 'e',
  к: 'k',
  м: 'm',
  н: 'h',
  о: 'o',
  р: 'p',
  с: 'c',
  т: 't',
  у: 'y',
  х: 'x',
  і: 'i',
  ј: 'j',
  ѕ: 's',
  ԁ: 'd',
  ɡ: 'g',
  ԛ: 'q',
  ԝ: 'w',
  α: 'a',
  ε: 'e',
  ι: 'i',
  κ: 'k',
  ν: 'v',
  ο: 'o',
  ρ: 'p',
  τ: 't',
  υ: 'u',
  χ: 'x',
  γ: 'y',
};
const LOOKALIKE = new RegExp(`[${Object.keys(LOOKALIKES).join('')}]`, 'g');

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

/**
 * How many of the person's lines try to instruct the bot, alone or read on from their line before (an instruction
 * split across two replies in a row); the bot's and analysts' lines never count.
 */
export function countSteering(lines: readonly Line[]): number {
  let count = 0;
  let before: string | undefined;
  for (const line of lines) {
    if (line.from !== 'person') {
      before = undefined;
      continue;
    }
    // A pair counts once: not when the line before steers alone (counted already).
    const split = before !== undefined && !isSteering(before) && isSteering(`${before} ${line.text}`);
    if (isSteering(line.text) || split) count++;
    before = line.text;
  }
  return count;
}

/** The person's first line that tries to instruct the bot, for a summary to quote. */
export function firstSteering(lines: readonly Line[]): string | undefined {
  return lines.find((line) => line.from === 'person' && isSteering(line.text))?.text;
}

/**
 * Lowercased after NFKD without its combining marks (fullwidth ｉｇｎｏｒｅ and other compatibility forms become plain
 * letters, İ an I, an underline drawn with U+0332 goes), with the invisible characters that split a keyword for the
 * eye but not for the LLM removed (zero-width and joiner characters, soft hyphens, bidi controls, variation
 * selectors, tag characters), Cyrillic and Greek lookalikes read as the Latin letters they imitate, and Slack's
 * formatting marks (`_italic_`, `*bold*`, `~strike~`) read as spaces.
 */
export function normalise(text: string): string {
  return (
    text
      .normalize('NFKD')
      .replace(/\p{M}/gu, '')
      .replace(INVISIBLE, '')
      .toLowerCase()
      .replace(LOOKALIKE, (c) => LOOKALIKES[c] ?? c)
      .replace(/[\u2018\u2019`]/g, "'")
      // An underscore inside a word stays (`has_answered`); one that opens or closes italics is a mark.
      .replace(/[*~]/g, ' ')
      .replace(/(^|[^\p{L}\p{N}])_+|_+(?=[^\p{L}\p{N}_]|$)/gu, '$1 ')
      .replace(/\s+/g, ' ')
  );
}

/**
 * Whether the alert's own text (its name, description, properties' names and values: a SIEM's, which an attacker
 * may write into) tries to instruct the bot: it goes into every prompt as data, and a model may obey it anyway.
 */
export function alertSteers(alert: { name: string; description: string; properties: Record<string, string> }): boolean {
  return [alert.name, alert.description, ...Object.entries(alert.properties).flat()].some(isSteering);
}
