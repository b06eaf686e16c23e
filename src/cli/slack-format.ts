// Slack formatting for people at a terminal: *bold*, _italics_, ~strike~, `code`, :emoji:, mentions by name, links
// as `text (url)`. Always applied to text already neutralised, so nothing it adds can come from a control character.
// https://docs.slack.dev/messaging/formatting-message-text
import type { ChalkInstance } from 'chalk';
import { requireCjs } from '../cjs.js';
import { neutralise, neutraliseLine } from '../untrusted-text.js';

export interface SlackFormat {
  chalk: ChalkInstance;
  /** A person's name for a user id, from what the process already knows; undefined when it does not. */
  nameOf?: (userId: string) => string | undefined;
}

/**
 * A message's text as Slack delivers it (`<@U123>`, `<https://x|label>`, `<!here>`, `&lt;`), as a person would
 * read it in Slack: `@Harold`, `label (https://x)`, `@here`, `<`, with its formatting and emoji.
 */
export function formatSlackText(raw: string, format: SlackFormat): string {
  const out: string[] = [];
  let last = 0;
  const text = neutralise(raw);
  for (const match of text.matchAll(/<([^<>\n]*)>/g)) {
    out.push(styled(decodeEntities(text.slice(last, match.index)), format));
    out.push(controlSequence(match[1] ?? '', format));
    last = match.index + match[0].length;
  }
  out.push(styled(decodeEntities(text.slice(last)), format));
  return out.join('');
}

/**
 * Text as irbot stores it (a person's words already decoded from Slack, or the bot's own), with its formatting and
 * emoji shown and `@U123` mentions named; URLs are left exactly as written.
 */
export function formatPlainText(plain: string, format: SlackFormat): string {
  const out: string[] = [];
  let last = 0;
  const text = neutralise(plain);
  for (const match of text.matchAll(/\bhttps?:\/\/[^\s<>]+/g)) {
    out.push(styled(mentionsNamed(text.slice(last, match.index), format), format));
    out.push(match[0]);
    last = match.index + match[0].length;
  }
  out.push(styled(mentionsNamed(text.slice(last), format), format));
  return out.join('');
}

const ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>' };

function decodeEntities(text: string): string {
  return text.replace(/&(amp|lt|gt);/g, (entity) => ENTITIES[entity] ?? entity);
}

/** A name looked up for display: a person controls it, so it is neutralised too. */
function nameFor(userId: string, format: SlackFormat): string | undefined {
  const name = format.nameOf?.(userId);
  return name ? neutraliseLine(name) : undefined;
}

function mentionsNamed(text: string, format: SlackFormat): string {
  return text.replace(/@([UW][A-Z0-9]{2,})\b/g, (whole, id: string) => {
    const name = nameFor(id, format);
    return name ? `@${name}` : whole;
  });
}

/** One `<…>` of Slack's text. The neutraliser's own `<U+202E>` is not one of them and is kept as it is. */
function controlSequence(inner: string, format: SlackFormat): string {
  if (/^U\+[0-9A-F]{4,6}$/.test(inner)) return `<${inner}>`;
  const bar = inner.indexOf('|');
  const target = bar === -1 ? inner : inner.slice(0, bar);
  const label = bar === -1 ? undefined : decodeEntities(inner.slice(bar + 1));
  if (target.startsWith('@')) return `@${nameFor(target.slice(1), format) ?? label ?? target.slice(1)}`;
  if (target.startsWith('#')) return `#${label ?? target.slice(1)}`;
  if (target.startsWith('!subteam^')) return `@${(label ?? target.slice('!subteam^'.length)).replace(/^@/, '')}`;
  // <!date^1392734382^{date}|fallback> reads as its fallback text.
  if (target.startsWith('!date^')) return label ?? target;
  if (target.startsWith('!')) return `@${label ?? target.slice(1)}`;
  const url = decodeEntities(target);
  if (!label || label === url || `mailto:${label}` === url) return url.replace(/^mailto:/, '');
  return `${label} (${url})`;
}

/** Slack's own names that emojilib spells otherwise, and its skin tones. */
const SLACK_EMOJI: Record<string, string> = {
  thumbsup: '👍',
  thumbsdown: '👎',
  'skin-tone-2': '\u{1f3fb}',
  'skin-tone-3': '\u{1f3fc}',
  'skin-tone-4': '\u{1f3fd}',
  'skin-tone-5': '\u{1f3fe}',
  'skin-tone-6': '\u{1f3ff}',
};

/** node-emoji loads its table of names on first use only: commands that show no `:code:` do not pay for it. */
let emojiOf: ((name: string) => string | undefined) | undefined;
function emojiNamed(name: string): string | undefined {
  emojiOf ??= (requireCjs('node-emoji') as typeof import('node-emoji')).get;
  return emojiOf(name);
}

function emojified(text: string): string {
  return text.replace(/:([a-z0-9_+'-]+):/g, (code, name: string) => SLACK_EMOJI[name] ?? emojiNamed(name) ?? code);
}

/**
 * Slack's markers open after a space or punctuation and close before one, with no space just inside: `*a* b`,
 * not `a*b*c` nor `* a *`. Without colour the markers stay as written: they are all that shows the emphasis.
 */
const marker = (char: string) => {
  const literal = char === '*' ? '\\*' : char;
  return new RegExp(
    `(?<![\\p{L}\\p{N}${char}])${literal}(?=\\S)([^${char}\\n]*?\\S)${literal}(?![\\p{L}\\p{N}${char}])`,
    'gu',
  );
};
const BOLD = marker('*');
const ITALIC = marker('_');
const STRIKE = marker('~');

function styled(text: string, { chalk }: SlackFormat): string {
  return text
    .split(/(`[^`\n]+`)/)
    .map((part, index) => {
      if (index % 2 === 1) return chalk.level > 0 ? chalk.cyan(part.slice(1, -1)) : part;
      const shown = emojified(part);
      if (chalk.level === 0) return shown;
      return shown
        .replace(BOLD, (_, inner: string) => chalk.bold(inner))
        .replace(ITALIC, (_, inner: string) => chalk.italic(inner))
        .replace(STRIKE, (_, inner: string) => chalk.strikethrough(inner));
    })
    .join('');
}
