// The feed channel of the local Slack as an analyst would see it, for the sandbox: alerts, updates, thread replies.
import type { LocalSlack, StoredMessage } from '../sandbox/local-slack.js';
import type { Deps } from './deps.js';
import { chalkFor } from './render.js';

const FEED = 'C0FEED';

/** Shows the feed channel as an analyst sees it: alerts, their updates, and thread replies. */
export function feedPrinter(deps: Deps, slack: LocalSlack): (message: StoredMessage & { channel: string }) => void {
  const chalk = chalkFor(deps.stdout, deps.env);
  const seen = new Set<string>();
  return (message) => {
    if (message.channel !== FEED) return;
    const text = readable(message.text ?? '', slack);
    const isReply = message.thread_ts !== undefined && message.thread_ts !== message.ts;
    const updated = seen.has(message.ts);
    seen.add(message.ts);
    const prefix = isReply ? chalk.dim('  #security-alerts › thread │ ') : chalk.bold('#security-alerts │ ');
    const buttons = buttonsOf(message.blocks);
    const sections = updated
      ? sectionTexts(message.blocks)
          .slice(1)
          .map((t) => readable(t, slack))
      : [];
    const body = updated ? `${chalk.dim('(alert updated)')} ${sections.join(' · ')}` : text;
    deps.stdout.write(
      `${prefix}${body.replace(/\n/g, `\n${' '.repeat(isReply ? 30 : 19)}`)}${buttons ? ` ${chalk.cyan(buttons)}` : ''}\n`,
    );
  };
}

function readable(text: string, slack: LocalSlack): string {
  return text
    .replace(/<@([UW][A-Z0-9]+)>/g, (_, id: string) => `@${slack.displayNameOf(id)}`)
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

type Blocks = StoredMessage['blocks'];

function buttonsOf(blocks: Blocks): string {
  const labels: string[] = [];
  for (const block of blocks ?? []) {
    if (block.type !== 'actions' || !Array.isArray(block.elements)) continue;
    for (const element of block.elements as { text?: { text?: string } }[])
      labels.push(`[${element.text?.text ?? '?'}]`);
  }
  return labels.join(' ');
}

function sectionTexts(blocks: Blocks): string[] {
  return (blocks ?? []).flatMap((block) => {
    const text = (block as { text?: { text?: string } }).text?.text;
    return block.type === 'section' && text ? [text] : [];
  });
}
