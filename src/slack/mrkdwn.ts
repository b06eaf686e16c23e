// Slack message text in and out: decode what people wrote, escape what we relay, so it can never ping or forge links.
// https://docs.slack.dev/messaging/formatting-message-text#escaping

const ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>' };

/**
 * Turns a message's text as Slack delivers it (`<!channel>`, `<@U123>`, `<https://x|label>`, `&lt;`) into what
 * the person saw and typed: `@channel`, `@U123`, `label (https://x)`, `<`.
 */
export function fromSlackText(text: string): string {
  const decoded = text.replace(/<([^<>]*)>/g, (_, inner: string) => {
    const [target = '', label] = inner.split('|', 2);
    if (target.startsWith('!subteam^')) return `@${(label ?? target.slice('!subteam^'.length)).replace(/^@/, '')}`;
    if (target.startsWith('!')) return `@${label ?? target.slice(1)}`;
    if (target.startsWith('@') || target.startsWith('#')) return label ? `${target[0]}${label}` : target;
    return label && label !== target ? `${label} (${target})` : target;
  });
  return decoded.replace(/&(amp|lt|gt);/g, (entity) => ENTITIES[entity] ?? entity);
}

/**
 * Makes plain text safe to post: `&`, `<`, `>` escaped, so no control sequence survives, and broadcast words
 * (`@channel`, `@here`, `@everyone`) shown in code style so they read as quoted, not as a ping.
 */
export function escapeText(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/(?<![\w.@])`?@(channel|here|everyone)\b`?/gi, (_, word: string) => `\`@${word}\``);
}

/** A block quote of plain text: every line quoted, so a newline cannot break out of it. */
export function quote(text: string): string {
  const lines = text.split(/\r\n|\r|\n/);
  return lines.map((line) => `> ${escapeText(line)}`).join('\n');
}
