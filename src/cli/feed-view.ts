// The feed channel of the local Slack as an analyst would see it, for the sandbox: alerts, updates, thread replies.
import type { LocalSlack, StoredMessage } from '../sandbox/local-slack.js';
import { neutraliseLine } from '../untrusted-text.js';
import type { Deps } from './deps.js';
import { chalkFor, hanging, widthOf } from './render.js';
import { formatSlackText, type SlackFormat } from './slack-format.js';

const FEED = 'C0FEED';

/** Shows the feed channel as an analyst sees it: alerts, their updates, and thread replies. */
export function feedPrinter(deps: Deps, slack: LocalSlack): (message: StoredMessage & { channel: string }) => void {
  const chalk = chalkFor(deps.stdout, deps.env);
  const format: SlackFormat = { chalk, nameOf: (userId) => slack.displayNameOf(userId) };
  const seen = new Set<string>();
  return (message) => {
    if (message.channel !== FEED) return;
    const text = formatSlackText(message.text ?? '', format);
    const isReply = message.thread_ts !== undefined && message.thread_ts !== message.ts;
    const updated = seen.has(message.ts);
    seen.add(message.ts);
    const prefix = isReply ? chalk.dim('  #security-alerts › thread │ ') : chalk.bold('#security-alerts │ ');
    const buttons = buttonsOf(message.blocks);
    const sections = updated
      ? sectionTexts(message.blocks)
          .slice(1)
          .map((t) => formatSlackText(t, format))
      : [];
    const body = updated ? `${chalk.dim('(alert updated)')} ${sections.join(' · ')}` : text;
    const shown = `${body}${buttons ? ` ${chalk.cyan(buttons)}` : ''}`;
    deps.stdout.write(`${prefix}${hanging(shown, isReply ? 30 : 19, widthOf(deps.stdout))}\n`);
  };
}

type Blocks = StoredMessage['blocks'];

function buttonsOf(blocks: Blocks): string {
  const labels: string[] = [];
  for (const block of blocks ?? []) {
    if (block.type !== 'actions' || !Array.isArray(block.elements)) continue;
    for (const element of block.elements as { text?: { text?: string } }[])
      labels.push(`[${neutraliseLine(element.text?.text ?? '?')}]`);
  }
  return labels.join(' ');
}

function sectionTexts(blocks: Blocks): string[] {
  return (blocks ?? []).flatMap((block) => {
    const text = (block as { text?: { text?: string } }).text?.text;
    return block.type === 'section' && text ? [text] : [];
  });
}
