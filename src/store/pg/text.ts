// Text as PostgreSQL holds it. It has no NUL character, and the JSON a statement carries may not hold half of a
// surrogate pair (JavaScript strings may: a webhook's field that was "\ud800" in its JSON). Either would fail the
// commit and lose what it carried, a person's reply or an alert; each becomes U+FFFD instead.

/** A NUL, or a surrogate: rare, so that most strings are looked at once, by this. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: a NUL is what this looks for
const SUSPECT = /[\u0000\ud800-\udfff]/;
/** A NUL, a high surrogate not followed by a low one, or a low one not preceded by a high one. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: a NUL is what this looks for
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** The text as PostgreSQL can hold it. */
export function storableText(text: string): string {
  return SUSPECT.test(text) ? text.replace(UNSTORABLE, '\ufffd') : text;
}

/** Makes every string in `value` storable, in place, the names of its objects' fields too (a webhook's properties). */
export function storable(value: object): void {
  const container = value as Record<string | number, unknown>;
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) storableAt(container, i, item);
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    const name = storableText(key);
    if (name !== key) {
      delete container[key];
      container[name] = item;
    }
    storableAt(container, name, item);
  }
}

function storableAt(container: Record<string | number, unknown>, key: string | number, item: unknown): void {
  if (typeof item === 'string') {
    const text = storableText(item);
    if (text !== item) container[key] = text;
  } else if (typeof item === 'object' && item !== null) storable(item);
}

/**
 * The same for an alert a transaction changed, whose transcript lines before `from` are as committed (made storable
 * then): a long transcript is not walked again on every change.
 */
export function storableAlert(record: object & { transcript: object[] }, from: number): void {
  for (const [key, item] of Object.entries(record)) {
    if (key === 'transcript') for (const line of record.transcript.slice(from)) storable(line);
    else storableAt(record as Record<string, unknown>, key, item);
  }
}
