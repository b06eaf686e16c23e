// The Block Kit limits the local Slack enforces, so a message real Slack would refuse fails in tests as well.

type Json = Record<string, unknown>;

// https://docs.slack.dev/reference/block-kit/blocks and .../block-elements: the limits a bot is most likely to hit.
const BLOCK_TYPES = new Set([
  'actions',
  'context',
  'divider',
  'file',
  'header',
  'image',
  'input',
  'markdown',
  'rich_text',
  'section',
  'table',
  'video',
]);
const MAX_BLOCKS = 50;

/** Problems in a `blocks` argument, worded as Slack words them in `response_metadata.messages`; empty when fine. */
export function blockProblems(blocks: unknown): string[] {
  if (!Array.isArray(blocks)) return ['[ERROR] must be an array [json-pointer:/blocks]'];
  const problems: string[] = [];
  const report = (pointer: string, what: string) => {
    problems.push(`[ERROR] ${what} [json-pointer:/blocks${pointer}]`);
  };
  if (blocks.length > MAX_BLOCKS) report('', `must be at most ${MAX_BLOCKS} items`);
  const blockIds = new Set<string>();
  const actionIds = new Set<string>();
  for (const [i, block] of blocks.entries()) {
    const at = `/${i}`;
    if (!isObject(block) || typeof block.type !== 'string') {
      report(at, 'must be an object with a string type');
      continue;
    }
    if (!BLOCK_TYPES.has(block.type)) {
      report(`${at}/type`, `unsupported type: ${block.type}`);
      continue;
    }
    if (block.block_id !== undefined) {
      if (typeof block.block_id !== 'string' || block.block_id.length > 255) report(`${at}/block_id`, 'invalid');
      else if (blockIds.has(block.block_id)) report(`${at}/block_id`, 'must be unique within the message');
      else blockIds.add(block.block_id);
    }
    const element = (el: unknown, pointer: string) => checkElement(el, pointer, actionIds, report);
    switch (block.type) {
      case 'section':
        if (block.text === undefined && block.fields === undefined) report(at, 'must have text or fields');
        if (block.text !== undefined) checkText(block.text, `${at}/text`, 3000, report);
        if (block.fields !== undefined) {
          if (!Array.isArray(block.fields) || block.fields.length > 10) report(`${at}/fields`, 'at most 10 items');
          else for (const [j, field] of block.fields.entries()) checkText(field, `${at}/fields/${j}`, 2000, report);
        }
        if (block.accessory !== undefined) element(block.accessory, `${at}/accessory`);
        break;
      case 'header':
        checkText(block.text, `${at}/text`, 150, report, 'plain_text');
        break;
      case 'actions':
        if (!Array.isArray(block.elements) || block.elements.length === 0 || block.elements.length > 25) {
          report(`${at}/elements`, 'must hold 1 to 25 elements');
        } else for (const [j, el] of block.elements.entries()) element(el, `${at}/elements/${j}`);
        break;
      case 'context':
        if (!Array.isArray(block.elements) || block.elements.length === 0 || block.elements.length > 10) {
          report(`${at}/elements`, 'must hold 1 to 10 elements');
        }
        break;
    }
  }
  return problems;
}

function checkElement(
  el: unknown,
  at: string,
  actionIds: Set<string>,
  report: (pointer: string, what: string) => void,
): void {
  if (!isObject(el) || typeof el.type !== 'string') {
    report(at, 'must be an object with a string type');
    return;
  }
  if (el.action_id !== undefined) {
    if (typeof el.action_id !== 'string' || el.action_id.length === 0 || el.action_id.length > 255) {
      report(`${at}/action_id`, 'invalid');
    } else if (actionIds.has(el.action_id)) report(`${at}/action_id`, 'must be unique within the message');
    else actionIds.add(el.action_id);
  }
  if (el.type !== 'button') return;
  checkText(el.text, `${at}/text`, 75, report, 'plain_text');
  if (el.value !== undefined && (typeof el.value !== 'string' || el.value.length > 2000)) {
    report(`${at}/value`, 'must be a string of at most 2000 characters');
  }
  if (el.style !== undefined && el.style !== 'primary' && el.style !== 'danger') {
    report(`${at}/style`, 'must be primary or danger');
  }
}

function checkText(
  text: unknown,
  at: string,
  max: number,
  report: (pointer: string, what: string) => void,
  only?: 'plain_text',
): void {
  if (!isObject(text) || (text.type !== 'plain_text' && text.type !== 'mrkdwn')) report(at, 'must be a text object');
  else if (only !== undefined && text.type !== only) report(`${at}/type`, `must be ${only}`);
  else if (typeof text.text !== 'string' || text.text.length === 0) report(`${at}/text`, 'must not be empty');
  else if (text.text.length > max) report(`${at}/text`, `must be at most ${max} characters`);
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
