// Terminal columns: string-width and wrap-ansi, loaded only for text that needs them. Loading them (Intl.Segmenter,
// Unicode tables) took ~30 ms of every `irbot status`, whose cells are nearly always printable ASCII: one column a
// character. Both are ES modules, required synchronously (Node ≥ 20.19 loads ES modules with require()).
import type StringWidth from 'string-width';
import type WrapAnsi from 'wrap-ansi';
import { requireCjs } from '../cjs.js';

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

let stringWidth: typeof StringWidth | undefined;
let wrapAnsi: typeof WrapAnsi | undefined;

/** Columns a terminal gives `text`: an emoji or a CJK character takes two, colour codes none. */
export function displayWidth(text: string): number {
  if (PRINTABLE_ASCII.test(text)) return text.length;
  stringWidth ??= (requireCjs('string-width') as { default: typeof StringWidth }).default;
  return stringWidth(text);
}

/** `text` wrapped to `columns` (hard: a word longer than a line is cut), colour codes kept whole. */
export function wrapColumns(text: string, columns: number): string {
  wrapAnsi ??= (requireCjs('wrap-ansi') as { default: typeof WrapAnsi }).default;
  return wrapAnsi(text, columns, { hard: true });
}
