// Untrusted text on its way to the LLM: cut to a bound with a marker saying how much, control characters taken out.

/** Longest display name passed on: a name is a few words, and anything longer is someone writing instructions. */
export const MAX_NAME_CHARS = 80;

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** A person's display name (or any one-line profile field) as data: one line, no control characters, bounded. */
export function cleanName(name: string): string {
  return cleanLine(name, MAX_NAME_CHARS);
}

/** One line of data: control characters and line breaks become spaces, and past `max` characters it ends in `…`. */
export function cleanLine(text: string, max: number): string {
  const flat = text.replace(CONTROL, ' ').replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, safeEnd(flat, max - 1)).trimEnd()}…` : flat;
}

/** Free text from a webhook or a person, as data: newlines and tabs stay, other control characters go, bounded. */
export function cleanText(text: string, max: number): string {
  return cut(text.replace(CONTROL, ''), max);
}

/**
 * `text` cut to about `max` characters: its start and its end are kept (an answer often comes last), and the
 * middle gives way to a marker saying how much was cut, e.g. `[… 12,345 characters cut]`.
 */
export function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  const tailLength = Math.floor(max / 4);
  const headEnd = safeEnd(text, max - tailLength);
  const tailStart = safeStart(text, text.length - tailLength);
  const removed = tailStart - headEnd;
  return `${text.slice(0, headEnd)}\n[… ${removed.toLocaleString('en-US')} characters cut]\n${text.slice(tailStart)}`;
}

/** An end index that does not split a surrogate pair. */
function safeEnd(text: string, at: number): number {
  const code = text.charCodeAt(at - 1);
  return at > 0 && code >= 0xd800 && code <= 0xdbff ? at - 1 : at;
}

/** A start index that does not split a surrogate pair. */
function safeStart(text: string, at: number): number {
  const code = text.charCodeAt(at);
  return code >= 0xdc00 && code <= 0xdfff ? at + 1 : at;
}

/**
 * A greeting or a nudge without links: the bot asks whether the person was aware, and has no link to give them. An
 * alert's text (a SIEM's, which may copy an attacker's words) reaches the model and the offline greeting, and a
 * link from it in a DM of the trusted bot would be phishing ("sign in at … and reply with the code"). URLs with a
 * scheme, `www.` names and names followed by a path go; a bare host name (`build-7.corp.example`) stays.
 */
export function withoutLinks(text: string): string {
  return text
    .replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s<>]+/gi, '[link removed]')
    .replace(/\bwww\.[^\s<>]+/gi, '[link removed]')
    .replace(/\b(?:[a-z0-9-]+\.)+[a-z][a-z0-9-]*\/[^\s<>]*/gi, '[link removed]');
}
