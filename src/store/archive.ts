// The archive: closed alerts moved out of the working set, one JSON line each, appended under the store's lock; and
// beside it their facts (src/report/facts.ts), so that a report reads small lines instead of whole alerts.
import { constants, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type AlertFacts, FACTS_VERSION, factsOf } from '../report/facts.js';
import { factsPathOf, type ModeGuard, openStoreFile, StoreFileError, syncFolder } from './files.js';
import type { AlertRecord } from './port.js';

/**
 * Appends one JSON line per alert and fsyncs (created with mode 0600 like the store), then their facts beside it
 * (see appendFacts).
 */
export async function appendArchive(file: string, records: AlertRecord[], guard: ModeGuard): Promise<void> {
  const handle = await openStoreFile(file, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT);
  if (!handle) throw new Error(`could not create ${file}`);
  const lines = records.map((r) => `${JSON.stringify(r)}\n`);
  let whole: number;
  try {
    const { size, mode } = await handle.stat();
    await guard.opened(file, mode, (m) => handle.chmod(m));
    // A crash mid-append leaves a torn last line whose alert is still in the working set: cut it off.
    whole = await endOfLastLine(handle, size);
    if (whole < size) await handle.truncate(whole);
    await handle.writeFile(lines.join(''));
    await handle.sync();
    // A new archive: its name must survive a power cut too, or the alerts this moves out of the working set (the
    // journal says so, fsynced next) would be lost with it.
    if (size === 0) syncFolder(dirname(file));
  } finally {
    await handle.close();
  }
  let end = whole;
  const ends = lines.map((line) => (end += Buffer.byteLength(line)));
  await appendFacts(file, whole, records, ends, guard);
}

/** The length of the file up to and including its last newline, scanning back from the end. */
async function endOfLastLine(handle: FileHandle, size: number): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024);
  for (let end = size; end > 0; end -= chunk.length) {
    const start = Math.max(0, end - chunk.length);
    const { bytesRead } = await handle.read(chunk, 0, end - start, start);
    const at = chunk.subarray(0, bytesRead).lastIndexOf(0x0a);
    if (at >= 0) return start + at + 1;
  }
  return 0;
}

/** How much of the archive is read at a time: 100 MB read whole would cost as much in page faults as in parsing. */
const ARCHIVE_CHUNK = 4 * 2 ** 20;

/** The archive's alerts (created since `createdSince`, when given) through `pick`, the last line of an id winning. */
export async function readArchive<T extends { id: string }>(
  file: string,
  guard: ModeGuard,
  createdSince: string | undefined,
  pick: (alert: AlertRecord) => T,
  from = 0,
): Promise<T[]> {
  const handle = await openStoreFile(file, constants.O_RDONLY);
  if (!handle) return [];
  const byId = new Map<string, T>();
  const damaged = (number: number, record: unknown) =>
    new StoreFileError(
      `Archive file ${file} line ${number}${from > 0 ? ` after byte ${from}` : ''} is not ${record === undefined ? 'valid JSON' : 'an alert'}`,
      'restore it from a backup, or move it away (it holds closed chats only: irbot goes on without them)',
    );
  let number = 0;
  // A line that is not JSON: a torn last line (a crash mid-append, never committed) if only blank lines follow it.
  let torn: number | null = null;
  const take = (bytes: Buffer, from: number, end: number): void => {
    number++;
    if (torn !== null) {
      if (bytes.toString('utf8', from, end).trim() === '') return;
      throw damaged(torn, undefined);
    }
    if (createdSince !== undefined && createdBefore(bytes, from, end, createdSince)) return;
    const line = bytes.toString('utf8', from, end);
    if (line.trim() === '') return;
    let record: Partial<AlertRecord> | null;
    try {
      record = JSON.parse(line) as Partial<AlertRecord> | null;
    } catch {
      torn = number;
      return;
    }
    if (typeof record !== 'object' || record === null || typeof record.id !== 'string') throw damaged(number, record);
    if (createdSince !== undefined && typeof record.createdAt === 'string' && record.createdAt < createdSince) return;
    byId.delete(record.id);
    byId.set(record.id, pick(record as AlertRecord));
  };
  try {
    await guard.opened(file, (await handle.stat()).mode, (mode) => handle.chmod(mode));
    // Bytes, decoded line by line: a line skipped by its creation time is never decoded.
    let buffer = Buffer.allocUnsafe(ARCHIVE_CHUNK);
    // The start of a line the next read ends, moved to the front of the buffer.
    let kept = 0;
    let position = from;
    for (;;) {
      if (kept === buffer.length) {
        const bigger = Buffer.allocUnsafe(buffer.length * 2);
        buffer.copy(bigger, 0, 0, kept);
        buffer = bigger;
      }
      const { bytesRead } = await handle.read(buffer, kept, buffer.length - kept, position);
      if (bytesRead === 0) break;
      position += bytesRead;
      const bytes = buffer.subarray(0, kept + bytesRead);
      let start = 0;
      for (let newline = bytes.indexOf(0x0a, kept); newline >= 0; newline = bytes.indexOf(0x0a, start)) {
        take(bytes, start, newline);
        start = newline + 1;
      }
      bytes.copyWithin(0, start);
      kept = bytes.length - start;
    }
    if (kept > 0) take(buffer, 0, kept);
  } finally {
    await handle.close();
  }
  return [...byId.values()];
}

/** `"createdAt":"` as JSON.stringify writes the key: inside a string its quotes would be escaped. */
const CREATED_AT = Buffer.from('"createdAt":"');
/** The length of an ISO time as toISOString writes it, and its shape. */
const ISO_LENGTH = 24;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * Whether the alert on an archive line (bytes `from` to `end`) was created before `since`, read from its bytes
 * without decoding or parsing them (most of a report's time would go there). Unsure (no key, or a second one,
 * nested in a webhook's properties; a time written otherwise): false, so that the line is parsed and judged whole.
 */
function createdBefore(bytes: Buffer, from: number, end: number, since: string): boolean {
  const at = bytes.indexOf(CREATED_AT, from);
  if (at < 0 || at >= end) return false;
  const second = bytes.indexOf(CREATED_AT, at + 1);
  if (second >= 0 && second < end) return false;
  const valueAt = at + CREATED_AT.length;
  if (valueAt + ISO_LENGTH >= end || bytes[valueAt + ISO_LENGTH] !== 0x22) return false;
  const value = bytes.toString('latin1', valueAt, valueAt + ISO_LENGTH);
  return ISO_TIME.test(value) && value < since;
}

/** The facts file's first line: facts of another FACTS_VERSION are not used, but derived again. */
interface FactsHeader {
  factsVersion: number;
}

/** One archived alert's facts, and where its archive line ends: the last line says how much of the archive it covers. */
interface FactsLine {
  end: number;
  facts: AlertFacts;
}

/**
 * Appends the facts of alerts just appended to the archive (from byte `whole` on, their lines ending at `ends`).
 * Not fsynced: they can always be derived again, and a reader derives those of any archive lines past the last
 * facts line. A file that does not continue the archive (absent, of another version, or from before a restore)
 * is written anew from the whole archive, once.
 */
async function appendFacts(
  archiveFile: string,
  whole: number,
  records: AlertRecord[],
  ends: number[],
  guard: ModeGuard,
): Promise<void> {
  const file = factsPathOf(archiveFile);
  const handle = await openStoreFile(file, constants.O_RDWR | constants.O_CREAT);
  if (!handle) throw new Error(`could not create ${file}`);
  try {
    const { size, mode } = await handle.stat();
    await guard.opened(file, mode, (m) => handle.chmod(m));
    const kept = await endOfLastLine(handle, size);
    let text = records.map((record, i) => factsLine(factsOf(record), ends[i] ?? 0)).join('');
    const covered = kept === 0 ? null : await coveredBy(handle, kept);
    if (covered !== whole) {
      // Derived again from the archive as it was before this append, then this append's facts after them.
      const appended = new Set(records.map((r) => r.id));
      const archived = whole === 0 ? [] : await readArchive(archiveFile, guard, undefined, factsOf);
      const before = archived.filter((facts) => !appended.has(facts.id));
      // Each rebuilt line claims to cover nothing (end 0): a rebuild cut short (a power cut, a full disk) leaves a
      // last line that says so, and the archive is read past it, rather than one claiming the whole archive.
      text = `${JSON.stringify({ factsVersion: FACTS_VERSION } satisfies FactsHeader)}\n${before.map((f) => factsLine(f, 0)).join('')}${text}`;
      await handle.truncate(0);
      await writeWhole(handle, text, 0);
    } else {
      if (kept < size) await handle.truncate(kept); // a torn last line
      await writeWhole(handle, text, kept);
    }
  } finally {
    await handle.close();
  }
}

/** Writes all of `text` at `position`: a write may take only part of it (a full disk answers with fewer bytes). */
async function writeWhole(handle: FileHandle, text: string, position: number): Promise<void> {
  const bytes = Buffer.from(text, 'utf8');
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, position + done);
    if (bytesWritten === 0) throw new Error('no space left to write the archive facts');
    done += bytesWritten;
  }
}

function factsLine(facts: AlertFacts, end: number): string {
  return `${JSON.stringify({ end, facts } satisfies FactsLine)}\n`;
}

/**
 * How much of the archive the facts file covers (its last line's `end`, or 0 when it has only its header), or
 * null when it cannot be continued: another version, or lines that do not parse.
 */
async function coveredBy(handle: FileHandle, kept: number): Promise<number | null> {
  const head = await readLine(handle, 0, kept);
  if (parseHeader(head) === null) return null;
  // The last line starts after the newline before its own.
  const lastStart = await endOfLastLine(handle, kept - 1);
  if (lastStart === 0) return 0;
  try {
    const line = JSON.parse(await readLine(handle, lastStart, kept)) as Partial<FactsLine>;
    return typeof line.end === 'number' ? line.end : null;
  } catch {
    return null;
  }
}

function parseFactsLine(line: string): FactsLine | null {
  try {
    const parsed = JSON.parse(line) as Partial<FactsLine> | null;
    const ok = typeof parsed?.end === 'number' && typeof parsed.facts?.id === 'string';
    return ok ? (parsed as FactsLine) : null;
  } catch {
    return null;
  }
}

function parseHeader(line: string): FactsHeader | null {
  try {
    const header = JSON.parse(line) as Partial<FactsHeader> | null;
    return header?.factsVersion === FACTS_VERSION ? { factsVersion: FACTS_VERSION } : null;
  } catch {
    return null;
  }
}

/** The text from `start` to the next newline (or `end`). */
async function readLine(handle: FileHandle, start: number, end: number): Promise<string> {
  const chunks: Buffer[] = [];
  for (let at = start; at < end; ) {
    const chunk = Buffer.alloc(Math.min(64 * 1024, end - at));
    const { bytesRead } = await handle.read(chunk, 0, chunk.length, at);
    if (bytesRead === 0) break;
    const newline = chunk.subarray(0, bytesRead).indexOf(0x0a);
    if (newline >= 0) {
      chunks.push(chunk.subarray(0, newline));
      break;
    }
    chunks.push(chunk.subarray(0, bytesRead));
    at += bytesRead;
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The facts of the archived alerts created since `createdSince` (all when undefined), the last line of an id
 * winning: from the facts file, plus those of archive lines it does not cover yet (a crash between the two appends,
 * or a reader between them). Without a usable facts file (a store from before it), derived from the archive itself.
 */
export async function readArchiveFacts(
  archiveFile: string,
  guard: ModeGuard,
  createdSince: string | undefined,
): Promise<AlertFacts[]> {
  const file = factsPathOf(archiveFile);
  const handle = await openStoreFile(file, constants.O_RDONLY);
  if (!handle) return readArchive(archiveFile, guard, createdSince, factsOf);
  const byId = new Map<string, AlertFacts>();
  let covered = 0;
  try {
    await guard.opened(file, (await handle.stat()).mode, (mode) => handle.chmod(mode));
    const text = await handle.readFile('utf8');
    const lines = text.split('\n');
    if (parseHeader(lines[0] ?? '') === null) return readArchive(archiveFile, guard, createdSince, factsOf);
    for (const line of lines.slice(1)) {
      if (line === '') continue;
      const parsed = parseFactsLine(line);
      // A torn last line, being appended or cut off by a crash: the archive's tail from `covered` on covers it.
      if (!parsed) break;
      covered = parsed.end;
      const { facts } = parsed;
      if (createdSince !== undefined && facts.createdAt < createdSince) continue;
      byId.delete(facts.id);
      byId.set(facts.id, facts);
    }
  } finally {
    await handle.close();
  }
  // Read after the facts: an archive appended meanwhile has grown, and its tail is derived here.
  const archive = await openStoreFile(archiveFile, constants.O_RDONLY);
  const size = archive ? (await archive.stat()).size : 0;
  await archive?.close();
  if (covered > size) return readArchive(archiveFile, guard, createdSince, factsOf); // a restored archive
  if (covered < size) {
    for (const facts of await readArchive(archiveFile, guard, createdSince, factsOf, covered)) {
      byId.delete(facts.id);
      byId.set(facts.id, facts);
    }
  }
  return [...byId.values()];
}
