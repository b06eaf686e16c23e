// Which of the person's chats a DM from them belongs to, and as what. A DM answers the chat they are in only if
// they wrote it after a DM of that chat may have reached them; one written before (a second line of the answer that
// ended their last chat, crossing the next chat's greeting) is a late reply to the chat that had reached them last,
// when that one ended within ARCHIVE_AFTER_MS, else an early line of the chat they are in: relayed in its thread,
// judged no more. Slack's timestamps decide: the DM's and the bot's are of one DM channel, on Slack's clock.
import type { AlertRecord } from '../store/port.js';
import { ARCHIVE_AFTER_MS } from './sweep.js';

/** Slack message timestamps ("1700000000.000100") compared exactly, without floating point. */
export function compareTs(a: string, b: string): number {
  const [as = '', af = ''] = a.split('.');
  const [bs = '', bf = ''] = b.split('.');
  const key = (s: string, f: string) => `${s.padStart(12, '0')}.${f.padEnd(6, '0')}`;
  const ka = key(as, af);
  const kb = key(bs, bf);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** The chat's first DM to the person, as recorded (its ts may be missing: a post found in Slack after a crash). */
function firstDm(record: AlertRecord) {
  return record.transcript.find((line) => line.from === 'bot' || line.from === 'analyst');
}

/**
 * Since when a DM of the chat not recorded yet may have reached the person: the earliest of its DMs' claims (taken
 * before the call) and of the times since which an attempt that failed unseen may have landed (`checkSince`).
 */
function maybeSentSince(record: AlertRecord): number | undefined {
  let since: number | undefined;
  for (const item of record.outbox) {
    if (item.effect.type !== 'SendDm') continue;
    const at = item.checkSince ?? item.claim?.at;
    if (at !== undefined && (since === undefined || Date.parse(at) < since)) since = Date.parse(at);
  }
  return since;
}

/**
 * Whether a DM written at `ts` may answer this active chat: written after its first DM (recorded without a ts: as
 * before, yes), or, none recorded yet, after one of its DMs was first tried. Without a ts, as before: yes.
 */
export function mayAnswer(record: AlertRecord, ts: string | undefined): boolean {
  if (ts === undefined) return true;
  const first = firstDm(record);
  if (first) return first.ts === undefined || compareTs(ts, first.ts) > 0;
  const since = maybeSentSince(record);
  return since !== undefined && Number(ts) * 1000 >= since;
}

export type DmTarget = { record: AlertRecord; as: 'answer' | 'late' | 'early' };

/**
 * The chat a DM from the person belongs to, among their alerts, at `now` (ms): their active chat if the DM may
 * answer it; else the chat whose first DM reached them last before they wrote it, when that chat ended within
 * ARCHIVE_AFTER_MS (a late reply); else their active chat, as an early line; else none.
 */
export function dmTarget(alerts: readonly AlertRecord[], ts: string | undefined, now: number): DmTarget | undefined {
  const active = alerts.find((a) => a.chat.state === 'active');
  if (active && mayAnswer(active, ts)) return { record: active, as: 'answer' };
  if (ts === undefined) return undefined;
  let last: { record: AlertRecord; first: string } | undefined;
  for (const record of alerts) {
    const first = record === active ? undefined : firstDm(record)?.ts;
    if (first === undefined || compareTs(first, ts) >= 0) continue;
    if (!last || compareTs(first, last.first) > 0) last = { record, first };
  }
  const { chat } = last?.record ?? {};
  // A chat that ended longer ago is archived, or kept for its deliveries: no reply goes to it, nor past it.
  const recent = chat?.state === 'ended' && chat.endedAt !== null && now - Date.parse(chat.endedAt) <= ARCHIVE_AFTER_MS;
  if (last && recent) return { record: last.record, as: 'late' };
  return active ? { record: active, as: 'early' } : undefined;
}
