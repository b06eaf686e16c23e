// Which of the person's chats a DM from them belongs to: the one whose first DM had reached them when they wrote
// it. A DM answers the chat they are in only if written after that chat reached them; one written before (a second
// line of an answer that closed the last chat, crossing the next chat's greeting) or after every chat ended is a
// late reply to the chat before, relayed in its thread and judged no more. Slack's timestamps (`ts`) decide: the
// DM's and the bot's are of the same DM channel, on Slack's clock.
import type { AlertRecord } from '../store/port.js';

/** Slack message timestamps ("1700000000.000100") compared exactly, without floating point. */
export function compareTs(a: string, b: string): number {
  const [as = '', af = ''] = a.split('.');
  const [bs = '', bf = ''] = b.split('.');
  const key = (s: string, f: string) => `${s.padStart(12, '0')}.${f.padEnd(6, '0')}`;
  const ka = key(as, af);
  const kb = key(bs, bf);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** When the chat first reached the person: the ts of its first DM that Slack has (recorded), if any. */
function firstDmTs(record: AlertRecord): string | undefined {
  return record.transcript.find((line) => (line.from === 'bot' || line.from === 'analyst') && line.ts !== undefined)
    ?.ts;
}

/**
 * Whether a DM written at `ts` may answer this active chat: written after its first DM, or while one may be on its
 * way (claimed, or posted and not recorded yet: a quick answer to it is never dropped). Without a ts, as before.
 */
export function mayAnswer(record: AlertRecord, ts: string | undefined): boolean {
  if (ts === undefined) return true;
  const first = firstDmTs(record);
  if (first !== undefined) return compareTs(ts, first) > 0;
  return record.outbox.some((item) => item.effect.type === 'SendDm' && item.claim !== undefined);
}

/**
 * The chat a DM from the person belongs to, among their alerts: their active chat if the DM may answer it, else the
 * ended chat that reached them last before they wrote it (a late reply), else none.
 */
export function dmTarget(alerts: readonly AlertRecord[], ts: string | undefined): AlertRecord | undefined {
  const active = alerts.find((a) => a.chat.state === 'active');
  if (active && mayAnswer(active, ts)) return active;
  if (ts === undefined) return undefined;
  let late: { record: AlertRecord; first: string } | undefined;
  for (const record of alerts) {
    if (record.chat.state !== 'ended') continue;
    const first = firstDmTs(record);
    if (first === undefined || compareTs(first, ts) >= 0) continue;
    if (!late || compareTs(first, late.first) > 0) late = { record, first };
  }
  return late?.record;
}
