// Text a person or a webhook controls, made safe for people to read: in a terminal, control and bidi characters are
// shown, never obeyed; in Markdown, every character that could open a heading, list, code, table, link or HTML is
// escaped, so a message can never forge a section of the case file.

/**
 * Characters that reorder what follows them on screen (Trojan Source, CVE-2021-42574), break lines where a terminal
 * or editor does not expect it, or are invisible: ALM, LRM/RLM, the embeddings and overrides U+202A–U+202E, the
 * isolates U+2066–U+2069, the line and paragraph separators, zero-width space, word joiner, invisible operators
 * and the deprecated format characters U+206A–U+206F, the byte order mark, the tag characters (invisible letters);
 * and the soft hyphen, the combining grapheme joiner, the Hangul and Khmer fillers, the Mongolian vowel separator
 * and the interlinear annotation marks, which show as nothing ("ad\u00admin" reads "admin"). The zero-width
 * (non-)joiners stay: emoji and several scripts need them.
 */
const INVISIBLE =
  '\\u00ad\\u034f\\u061c\\u115f\\u1160\\u17b4\\u17b5\\u180e\\u200b\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e' +
  '\\u2060-\\u206f\\u3164\\ufeff\\uffa0\\ufff9-\\ufffb\\u{e0000}-\\u{e007f}';

/** C0 controls but tab and newline, DEL, C1 controls; and the characters above. */
const UNSAFE = new RegExp(`[\\u0000-\\u0008\\u000b-\\u001f\\u007f-\\u009f${INVISIBLE}]`, 'gu');

/** `␛` for ESC, `␇` for BEL, `␍` for CR: the Unicode control picture of a C0 control, `␡` for DEL. */
function pictureOf(char: string): string {
  const code = char.codePointAt(0) ?? 0;
  if (code < 0x20) return String.fromCodePoint(0x2400 + code);
  if (code === 0x7f) return '\u2421';
  return `<U+${code.toString(16).toUpperCase().padStart(4, '0')}>`;
}

/**
 * Text for a terminal or a Markdown file: every control, bidi and invisible character is replaced by a visible
 * stand-in (`␛`, `␍`, `<U+202E>`), so it can neither move the cursor, retitle the window, clear the screen, ring
 * the bell nor reorder the line. Newlines and tabs stay; a CRLF is one newline.
 */
export function neutralise(text: string): string {
  return text.replace(/\r\n/g, '\n').replace(UNSAFE, pictureOf);
}

/** {@link neutralise}, on one line: a newline shows as `␤` and a tab as a space, so nothing can start a new line. */
export function neutraliseLine(text: string): string {
  return neutralise(text).replace(/\n/g, '\u2424').replace(/\t/g, ' ');
}

/**
 * One line of untrusted text inside Markdown (a heading's title, a list item's value, a table cell): neutralised,
 * its lines joined by spaces, and every character with a meaning inline escaped: `\` `` ` `` `*` `_` `~` `[` `]`
 * `<` `>` `&` `|` `#` (so no emphasis, code, link, image, autolink, HTML, entity, table cell or heading closer).
 */
export function markdownInline(text: string): string {
  return escapeInline(
    neutralise(text)
      .replace(/\s*\n\s*/g, ' ')
      .replace(/\t/g, ' '),
  );
}

/**
 * Untrusted text, several lines long, as a Markdown blockquote: every line is quoted and escaped, also at its
 * start (a heading, list item, setext underline, thematic break, code fence or indented code there is plain
 * text), so "hi\n## Verdict\naware" stays three lines of the quote.
 */
export function markdownQuote(text: string): string {
  return neutralise(text)
    .split('\n')
    .map((line) => {
      const escaped = escapeLineStart(escapeInline(line));
      return escaped === '' ? '>' : `> ${escaped}`;
    })
    .join('\n');
}

/** Intraword `_` (as in `source_host`) cannot open or close emphasis in CommonMark: left as written. */
function escapeInline(text: string): string {
  return text
    .replace(/[\\`*~[\]<>&|#]/g, '\\$&')
    .replace(/_/g, (_, at: number, whole: string) =>
      isWordChar(whole[at - 1]) && isWordChar(whole[at + 1]) ? '_' : '\\_',
    );
}

const isWordChar = (char: string | undefined): boolean => char !== undefined && /[\p{L}\p{N}]/u.test(char);

/**
 * Block structure that `escapeInline` leaves open at the start of a line: list markers `-` `+` `1.` `1)`, setext
 * underlines and thematic breaks of `-` or `=`. Leading spaces and tabs become no-break spaces, which keep the
 * indent but cannot make an indented code block nor let a marker through.
 */
function escapeLineStart(line: string): string {
  const indent = /^[ \t]*/.exec(line)?.[0] ?? '';
  const rest = line.slice(indent.length);
  const kept = indent.replace(/\t/g, '    ').replace(/ /g, '\u00a0');
  if (/^[-+=]/.test(rest)) return `${kept}\\${rest}`;
  const ordered = /^(\d{1,9})([.)])/.exec(rest);
  if (ordered) return `${kept}${ordered[1]}\\${rest.slice(ordered[1]?.length ?? 0)}`;
  return `${kept}${rest}`;
}

/** Every character {@link neutralise} replaces (and tab, newline, which JSON escapes anyway), for JSON output. */
const UNSAFE_IN_JSON = new RegExp(`[\\u007f-\\u009f${INVISIBLE}]`, 'gu');

/**
 * JSON for a terminal or a pipe: the same value as JSON.stringify gives, with every bidi, invisible and C1
 * character written as its `\uXXXX` escape (C0 controls JSON escapes already), so `status --json` read on a
 * screen cannot be reordered by a name or a message, and a program reading it gets the exact text.
 */
export function safeJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(UNSAFE_IN_JSON, (char) => {
    const code = char.codePointAt(0) ?? 0;
    if (code <= 0xffff) return `\\u${code.toString(16).padStart(4, '0')}`;
    const high = Math.floor((code - 0x10000) / 0x400) + 0xd800;
    const low = ((code - 0x10000) % 0x400) + 0xdc00;
    return `\\u${high.toString(16)}\\u${low.toString(16)}`;
  });
}
