// Message text cut to Slack's length limit: a long text goes out as several consecutive messages, nothing dropped.
// https://docs.slack.dev/reference/methods/chat.postMessage#truncating: over 40,000 characters Slack truncates the
// text, or refuses it with msg_too_long.

/** Longest `text` of one message. JavaScript's length counts UTF-16 code units, never fewer than Slack's characters. */
export const MAX_MESSAGE_CHARS = 40_000;

/** Escapes as escapeText writes them, and the numeric ones Slack may send. */
const ENTITY = /^&(?:amp|lt|gt|quot|#\d{1,7}|#x[0-9a-f]{1,6});/i;
const LONGEST_ENTITY = 10;

/**
 * Cuts an already escaped text into parts of at most `limit` characters that join back into it. A cut is made
 * after a line break when one is in the second half of the part, else after a space, else at the limit; never
 * inside an escape (`&lt;`), a control sequence (`<@U…>`, `<url|label>`) or a UTF-16 surrogate pair.
 */
export function splitMessage(text: string, limit = MAX_MESSAGE_CHARS): string[] {
  if (!Number.isInteger(limit) || limit < 2) throw new RangeError(`limit must be an integer of at least 2: ${limit}`);
  const parts: string[] = [];
  let rest = text;
  while (rest.length > limit) {
    const cut = cutPoint(rest, limit);
    parts.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  parts.push(rest);
  return parts;
}

/**
 * Texts (each a relay, or a post) packed into as few messages of at most `limit` characters as keeps them in
 * order: consecutive texts share a message, joined by `separator`, while they fit; a text too long for one
 * message is split on its own (see splitMessage), and a quoted line cut in two stays quoted in the next message.
 */
export function packMessages(texts: string[], separator: string, limit = MAX_MESSAGE_CHARS): string[] {
  const messages: string[] = [];
  let current: string | undefined;
  for (const text of texts) {
    if (current !== undefined && current.length + separator.length + text.length <= limit) {
      current += separator + text;
      continue;
    }
    if (current !== undefined) messages.push(current);
    const parts = text.length <= limit ? [text] : requote(splitMessage(text, limit - QUOTE.length));
    current = parts.pop();
    messages.push(...parts);
  }
  if (current !== undefined) messages.push(current);
  return messages;
}

/** What quote() starts each line with: a raw `>` at the start of a line is always irbot's own quote marker. */
const QUOTE = '> ';

/**
 * A part that goes on with a quoted line cut in the middle starts with the quote marker again, so that a person's
 * words never show outside the quote (escaped text holds no other raw `>` that a cut could stand before).
 */
function requote(parts: string[]): string[] {
  const out: string[] = [];
  for (const part of parts) {
    const before = out.at(-1);
    const line = before?.slice(before.lastIndexOf('\n') + 1);
    out.push(line?.startsWith(QUOTE) && !before?.endsWith('\n') ? QUOTE + part : part);
  }
  return out;
}

function cutPoint(text: string, limit: number): number {
  const half = Math.floor(limit / 2);
  const newline = text.lastIndexOf('\n', limit - 1);
  if (newline >= half) return safeCut(text, newline + 1);
  const space = text.lastIndexOf(' ', limit - 1);
  return safeCut(text, space >= half ? space + 1 : limit);
}

/** Moves a cut back out of a control sequence, an escape or a surrogate pair; never to 0. */
function safeCut(text: string, at: number): number {
  let cut = at;
  const amp = text.lastIndexOf('&', cut - 1);
  if (amp > 0 && amp > cut - LONGEST_ENTITY) {
    const entity = ENTITY.exec(text.slice(amp, amp + LONGEST_ENTITY));
    if (entity && amp + entity[0].length > cut) cut = amp;
  }
  // An escape may sit in a link's label: the sequence around it is left whole too.
  const open = text.lastIndexOf('<', cut - 1);
  if (open > 0 && text.lastIndexOf('>', cut - 1) < open && text.indexOf('>', cut) >= 0) cut = open;
  if (isHighSurrogate(text.charCodeAt(cut - 1)) && isLowSurrogate(text.charCodeAt(cut)) && cut > 1) cut -= 1;
  return cut;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
