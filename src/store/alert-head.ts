// An archived alert's head from its JSON line without parsing all of it: a summary over 100,000 alerts (`irbot
// report`) would spend most of its time in JSON.parse on transcripts, outboxes and deliveries it never reads.
import {
  type AlertHead,
  type AlertRecord,
  alertsOf,
  type Store,
  type StoreData,
  type TranscriptEntry,
} from './port.js';

/** Top-level fields a head leaves out (the transcript is kept up to the person's first reply). */
const SKIPPED = new Set(['outbox', 'deliveries', 'properties', 'description', 'pending']);

/** `"`, and the brackets that open or close a nested value. */
const STRUCTURE = /["[\]{}]/g;

/**
 * The head of the alert on one archive line, as written by JSON.stringify. Skipped values are stepped over by
 * their brackets and quotes (natively, with a regular expression and indexOf), never parsed. Throws like
 * JSON.parse on a line that is not one object, so a torn line is told apart as before.
 */
export function alertHeadOf(line: string): AlertHead {
  if (line.charCodeAt(0) !== 0x7b) return headOfRecord(JSON.parse(line) as AlertRecord);
  const kept: string[] = [];
  let transcript: TranscriptEntry[] = [];
  let i = 1;
  if (line[i] === '}') return JSON.parse(line) as AlertHead;
  for (;;) {
    if (line[i] !== '"') return headOfRecord(JSON.parse(line) as AlertRecord); // not as JSON.stringify writes it
    const keyEnd = endOfString(line, i);
    const key = JSON.parse(line.slice(i, keyEnd)) as string;
    if (line[keyEnd] !== ':') return headOfRecord(JSON.parse(line) as AlertRecord);
    const valueEnd = endOfValue(line, keyEnd + 1);
    if (key === 'transcript') transcript = headOfTranscript(line, keyEnd + 1, valueEnd);
    else if (!SKIPPED.has(key)) kept.push(line.slice(i, valueEnd));
    const next = line[valueEnd];
    if (next === '}') break;
    if (next !== ',') return headOfRecord(JSON.parse(line) as AlertRecord);
    i = valueEnd + 1;
  }
  const head = JSON.parse(`{${kept.join(',')}}`) as AlertHead;
  head.transcript = transcript;
  return head;
}

/** A whole record cut down to its head (a line written otherwise, or an alert of the working set). */
export function headOfRecord(record: AlertRecord): AlertHead {
  const head: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) if (!SKIPPED.has(key)) head[key] = value;
  const transcript = Array.isArray(record.transcript) ? record.transcript : [];
  const reply = transcript.findIndex((entry) => entry.from === 'person');
  head.transcript = reply < 0 ? transcript : transcript.slice(0, reply + 1);
  return head as unknown as AlertHead;
}

/** The transcript's entries up to and including the person's first, parsed one by one. */
function headOfTranscript(line: string, start: number, end: number): TranscriptEntry[] {
  const entries: TranscriptEntry[] = [];
  if (line[start] !== '[') return entries;
  let i = start + 1;
  while (i < end - 1 && line[i] === '{') {
    const entryEnd = endOfValue(line, i);
    const entry = JSON.parse(line.slice(i, entryEnd)) as TranscriptEntry;
    entries.push(entry);
    if (entry.from === 'person' || line[entryEnd] !== ',') break;
    i = entryEnd + 1;
  }
  return entries;
}

/** Index just past the string whose opening quote is at `at`. */
function endOfString(line: string, at: number): number {
  for (let from = at + 1; ; ) {
    const quote = line.indexOf('"', from);
    if (quote < 0) throw new SyntaxError('Unterminated string in JSON');
    let backslashes = 0;
    while (line.charCodeAt(quote - 1 - backslashes) === 0x5c) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

/** Index just past the value starting at `at`: a string, an object or array (to its closing bracket), or a literal. */
function endOfValue(line: string, at: number): number {
  const first = line[at];
  if (first === '"') return endOfString(line, at);
  if (first !== '{' && first !== '[') {
    let end = at;
    while (end < line.length && line[end] !== ',' && line[end] !== '}' && line[end] !== ']') end++;
    if (end === line.length) throw new SyntaxError('Unexpected end of JSON input');
    return end;
  }
  let depth = 0;
  STRUCTURE.lastIndex = at;
  for (;;) {
    const match = STRUCTURE.exec(line);
    if (!match) throw new SyntaxError('Unexpected end of JSON input');
    const char = match[0];
    if (char === '"') {
      STRUCTURE.lastIndex = endOfString(line, match.index);
    } else if (char === '{' || char === '[') {
      depth++;
    } else if (--depth === 0) {
      return match.index + 1;
    }
  }
}

/** Every alert as a head (see AlertHead), working set and archive, the working copy winning. */
export async function allAlertHeads(store: Store): Promise<AlertHead[]> {
  const working = (await store.read()).alerts;
  const archived = (await store.readArchiveHeads()).filter((a) => !working[a.id]);
  return [...archived, ...alertsOf({ alerts: working } as StoreData).map(headOfRecord)];
}
