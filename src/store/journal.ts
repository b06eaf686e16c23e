// The store's journal: each transaction appends one line holding only what it changed, instead of rewriting
// the whole working set. Pure functions: tracking what a change touched, writing its line, applying a line.
import { type AlertRecord, BY_PERSON, RAW, type Snooze, type StoreData, type TranscriptEntry } from './port.js';

/**
 * What one transaction did to one alert: the fields it changed (all of them for a new alert), the fields it
 * removed, and the transcript lines from index `t0` on.
 */
interface AlertPatch {
  f: Partial<AlertRecord>;
  d?: string[];
  t0: number;
  t: TranscriptEntry[];
}

/** One journal line: generation, sequence number within it, changed alerts (null: gone), changed event ids, changed snoozes. */
export interface JournalLine {
  g: number;
  q: number;
  a?: Record<string, AlertPatch | null>;
  s?: Record<string, string | null>;
  z?: Record<string, Snooze | null>;
}

/** The first line of a journal: the snapshot generation its lines apply to. */
export interface JournalHeader {
  generation: number;
}

/** An alert's fields but its transcript, each as JSON. */
export type Fields = Map<string, string>;

/** An alert as this transaction first saw it. */
interface Before {
  /** Its fields as last committed; undefined when it did not exist. */
  fields: Fields | undefined;
  transcript: TranscriptEntry[] | undefined;
  length: number;
  last: TranscriptEntry | undefined;
}

export interface Tracked {
  /** What the transaction's change functions get: the data, with its maps watched. */
  view: StoreData;
  /** After the change: the line to append (null when nothing changed), or `replaced` when a map was swapped. */
  finish(g: number, q: number): { line: string | null; replaced: boolean };
  /** After the change, instead of `finish`: what it changed, for a store that writes rows rather than lines. */
  changes(): Changes;
  /** What the change read (see ReadScope); null when it read more than that. */
  scope(): ReadScope | null;
  /**
   * Puts back the event ids and snoozes the change set or deleted, and forgets the fields kept in `heads` of the
   * alerts it touched. The alerts themselves are the caller's to put back (see `beforeTouch`). Not after a swap
   * of a whole map (`replaced`).
   */
  undo(): void;
}

/** What a change did to one alert. */
export interface AlertChange {
  id: string;
  /** The alert now; undefined when the change deleted it (or moved it to the archive). */
  record: AlertRecord | undefined;
  /** Its fields but the transcript, as JSON, as last committed; undefined when it is new. */
  before: Fields | undefined;
  /** Its fields now; undefined when deleted. */
  fields: Fields | undefined;
  /** The names of the fields that differ from `before`, set or removed. */
  changed: string[];
  /** The transcript from this index on is new; the lines before it are as committed. */
  t0: number;
}

/**
 * Everything a change read, when that was only alerts by id (those it changed, and ids it looked for and did not
 * find), the alerts of some people (`alertsOfPerson`), and event ids by key: a store whose copy may be behind can
 * then commit it unless another process changed one of those since (src/store/pg). A scan of every alert or event
 * id, or any look at the snoozes, makes it depend on everything (no scope).
 */
export interface ReadScope {
  alerts: string[];
  people: string[];
  events: string[];
}

/** What one transaction changed; `replaced`: a map was swapped whole (the rest is then empty). */
export interface Changes {
  replaced: boolean;
  alerts: AlertChange[];
  /** Event ids set (to when) or deleted (undefined). */
  events: Map<string, string | undefined>;
  /** Snoozes set or deleted (undefined). */
  snoozes: Map<string, Snooze | undefined>;
}

/**
 * Watches a change to `state`: alerts read, set or deleted by id, and event ids set or deleted. An alert read by
 * id is compared after the change with how it was (its fields as JSON; transcript lines are only appended), so
 * that only what changed is written. `heads` caches each alert's fields as last committed, across transactions.
 */
export function track(
  state: StoreData,
  heads: Map<string, Fields>,
  options: {
    beforeTouch?: (id: string) => void;
    /** The ids of a person's alerts as the transaction began (more is fine, none left out); default: a scan. */
    idsOfPerson?: (userId: string) => Iterable<string>;
  } = {},
): Tracked {
  const alerts = state.alerts;
  const seen = state.seenEvents;
  const before = new Map<string, Before>();
  // What the change read beyond the alerts it touched (`before`); `everything` once it scanned.
  let everything = false;
  const missed = new Set<string>();
  const people = new Set<string>();
  const eventsRead = new Set<string>();
  /** Each event id the change set or deleted, with its value before. */
  const seenBefore = new Map<string, string | undefined>();
  const markSeen = (key: string | symbol): void => {
    if (typeof key !== 'string' || seenBefore.has(key)) return;
    eventsRead.add(key);
    seenBefore.set(key, Object.hasOwn(seen, key) ? seen[key] : undefined);
  };
  // Snoozes are few and small: each one looked at is compared whole, as JSON, with how it was.
  const snoozes = state.snoozes ?? {};
  const snoozesBefore = new Map<string, string | undefined>();
  const markSnooze = (id: string): void => {
    everything = true;
    if (snoozesBefore.has(id)) return;
    snoozesBefore.set(id, Object.hasOwn(snoozes, id) ? JSON.stringify(snoozes[id]) : undefined);
  };

  const mark = (id: string): void => {
    if (before.has(id)) return;
    options.beforeTouch?.(id);
    const record = Object.hasOwn(alerts, id) ? alerts[id] : undefined;
    let fields = heads.get(id);
    if (record && fields === undefined) {
      fields = fieldsOf(record);
      heads.set(id, fields);
    }
    before.set(id, {
      fields: record ? fields : undefined,
      transcript: record?.transcript,
      length: record?.transcript.length ?? 0,
      last: record?.transcript.at(-1),
    });
  };

  const scanned = (): void => {
    everything = true;
  };
  const alertsProxy = touching(alerts, mark, {
    miss: (id) => missed.add(id),
    scan: scanned,
    byPerson: (userId) => {
      people.add(userId);
      if (!options.idsOfPerson) return Object.values(alerts);
      // Those the store knew of, and those this transaction added (it may have added the person's new alert).
      const ids = new Set(options.idsOfPerson(userId));
      for (const [id, was] of before) if (was.fields === undefined) ids.add(id);
      const found: AlertRecord[] = [];
      for (const id of ids) if (Object.hasOwn(alerts, id)) found.push(alerts[id] as AlertRecord);
      return found;
    },
  });
  const seenProxy = new Proxy(seen, {
    get(target, key, receiver) {
      if (key === RAW) {
        everything = true;
        return target;
      }
      if (typeof key === 'string') eventsRead.add(key);
      return Reflect.get(target, key, receiver);
    },
    has(target, key) {
      if (typeof key === 'string') eventsRead.add(key);
      return Reflect.has(target, key);
    },
    getOwnPropertyDescriptor(target, key) {
      if (typeof key === 'string') eventsRead.add(key);
      return Reflect.getOwnPropertyDescriptor(target, key);
    },
    ownKeys(target) {
      everything = true;
      return Reflect.ownKeys(target);
    },
    set(target, key, value) {
      markSeen(key);
      return Reflect.set(target, key, value);
    },
    deleteProperty(target, key) {
      markSeen(key);
      return Reflect.deleteProperty(target, key);
    },
  });
  const snoozesProxy = touching(snoozes, markSnooze, { miss: scanned, scan: scanned });
  const view: StoreData = {
    version: state.version,
    alerts: alertsProxy,
    seenEvents: seenProxy,
    snoozes: snoozesProxy,
  };

  /** Compares what the change touched with how it was; each changed alert's fields go to `heads`. */
  const changes = (): Changes => {
    const found: Changes = { replaced: false, alerts: [], events: new Map(), snoozes: new Map() };
    if (
      view.alerts !== alertsProxy ||
      view.seenEvents !== seenProxy ||
      view.snoozes !== snoozesProxy ||
      view.version !== state.version
    ) {
      state.version = view.version;
      state.alerts = unwrap(view.alerts);
      state.seenEvents = unwrap(view.seenEvents);
      const replacedSnoozes = unwrap(view.snoozes ?? {});
      if (state.snoozes !== undefined || Object.keys(replacedSnoozes).length > 0) state.snoozes = replacedSnoozes;
      heads.clear();
      return { ...found, replaced: true };
    }
    for (const [id, was] of before) {
      const record = Object.hasOwn(alerts, id) ? alerts[id] : undefined;
      if (!record) {
        heads.delete(id);
        if (was.fields !== undefined)
          found.alerts.push({ id, record, before: was.fields, fields: undefined, changed: [], t0: 0 });
        continue;
      }
      const fields = fieldsOf(record);
      const changed: string[] = [];
      for (const [key, json] of fields) if (was.fields?.get(key) !== json) changed.push(key);
      if (was.fields) for (const key of was.fields.keys()) if (!fields.has(key)) changed.push(key);
      const { transcript } = record;
      const appended =
        was.transcript === transcript &&
        transcript.length >= was.length &&
        (was.length === 0 || transcript[was.length - 1] === was.last);
      const t0 = appended ? was.length : 0;
      if (changed.length === 0 && appended && transcript.length === was.length) continue;
      heads.set(id, fields);
      found.alerts.push({ id, record, before: was.fields, fields, changed, t0 });
    }
    for (const key of seenBefore.keys()) found.events.set(key, Object.hasOwn(seen, key) ? seen[key] : undefined);
    for (const [id, was] of snoozesBefore) {
      const now = Object.hasOwn(snoozes, id) ? snoozes[id] : undefined;
      if ((now === undefined ? undefined : JSON.stringify(now)) !== was) found.snoozes.set(id, now);
    }
    // A store written before irbot had snoozes gets the field with its first one.
    if (found.snoozes.size > 0) state.snoozes = snoozes;
    return found;
  };

  return {
    view,
    changes,
    scope() {
      if (everything) return null;
      return { alerts: [...before.keys(), ...missed], people: [...people], events: [...eventsRead] };
    },
    undo() {
      for (const id of before.keys()) heads.delete(id);
      for (const [key, was] of seenBefore) {
        if (was === undefined) delete seen[key];
        else seen[key] = was;
      }
      for (const [id, was] of snoozesBefore) {
        if (was === undefined) delete snoozes[id];
        else snoozes[id] = JSON.parse(was) as Snooze;
      }
    },
    finish(g, q) {
      const found = changes();
      if (found.replaced) return { line: null, replaced: true };
      const parts: string[] = [];
      for (const { id, record, fields, changed, t0 } of found.alerts) {
        if (!record || !fields) {
          parts.push(`${JSON.stringify(id)}:null`);
          continue;
        }
        const set: string[] = [];
        const removed: string[] = [];
        for (const key of changed) {
          const json = fields.get(key);
          if (json === undefined) removed.push(key);
          else set.push(`${JSON.stringify(key)}:${json}`);
        }
        const d = removed.length > 0 ? `,"d":${JSON.stringify(removed)}` : '';
        const t = JSON.stringify(record.transcript.slice(t0));
        parts.push(`${JSON.stringify(id)}:{"f":{${set.join(',')}}${d},"t0":${t0},"t":${t}}`);
      }
      const events: string[] = [];
      for (const [key, at] of found.events) events.push(`${JSON.stringify(key)}:${JSON.stringify(at ?? null)}`);
      const snoozed: string[] = [];
      for (const [id, now] of found.snoozes) snoozed.push(`${JSON.stringify(id)}:${JSON.stringify(now ?? null)}`);
      if (parts.length === 0 && events.length === 0 && snoozed.length === 0) return { line: null, replaced: false };
      const a = parts.length > 0 ? `,"a":{${parts.join(',')}}` : '';
      const s = events.length > 0 ? `,"s":{${events.join(',')}}` : '';
      const z = snoozed.length > 0 ? `,"z":{${snoozed.join(',')}}` : '';
      return { line: `{"g":${g},"q":${q}${a}${s}${z}}\n`, replaced: false };
    },
  };
}

/** An alert's fields but its transcript, each as JSON: a line carries the ones that changed. */
function fieldsOf(record: AlertRecord): Fields {
  const fields: Fields = new Map();
  for (const [key, value] of Object.entries(record)) {
    if (key !== 'transcript' && value !== undefined) fields.set(key, JSON.stringify(value));
  }
  return fields;
}

function unwrap<T extends object>(map: T): T {
  return ((map as Record<string | symbol, unknown>)[RAW] as T | undefined) ?? map;
}

export class JournalDamage extends Error {}

/**
 * Parses journal lines and applies them to `state` in order; the first must have generation `g` and number `q`,
 * each next one the number after. One parse for all of them: a fresh process replays a whole journal.
 */
export function applyLines(state: StoreData, texts: string[], expect: { g: number; q: number }): void {
  let lines: JournalLine[];
  try {
    lines = JSON.parse(`[${texts.join(',')}]`) as JournalLine[];
  } catch {
    const bad = texts.findIndex((text) => !parses(text));
    throw new JournalDamage(`line ${expect.q + Math.max(0, bad)} is not valid JSON`);
  }
  for (const [i, line] of lines.entries()) applyParsed(state, line, { g: expect.g, q: expect.q + i });
}

/** Parses one journal line and applies it to `state`; `expect` is the generation and sequence number it must have. */
export function applyLine(state: StoreData, text: string, expect: { g: number; q: number }): void {
  applyLines(state, [text], expect);
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function applyParsed(state: StoreData, line: JournalLine, expect: { g: number; q: number }): void {
  if (typeof line !== 'object' || line === null || line.g !== expect.g || line.q !== expect.q) {
    throw new JournalDamage(`line ${expect.q} is out of sequence (generation ${line?.g}, number ${line?.q})`);
  }
  for (const [id, patch] of Object.entries(line.a ?? {})) {
    if (patch === null) {
      delete state.alerts[id];
      continue;
    }
    const existing = Object.hasOwn(state.alerts, id) ? state.alerts[id] : undefined;
    const earlier = patch.t0 > 0 ? existing?.transcript : [];
    if (!earlier || earlier.length !== patch.t0) {
      throw new JournalDamage(`line ${expect.q} continues a transcript of ${id} that is not there`);
    }
    // In place: what is replayed belongs to no one else, and a long chat would otherwise be copied once a line.
    const record = existing ?? ({} as AlertRecord);
    Object.assign(record, patch.f);
    for (const key of patch.d ?? []) delete (record as unknown as Record<string, unknown>)[key];
    if (patch.t0 > 0) earlier.push(...patch.t);
    record.transcript = patch.t0 > 0 ? earlier : patch.t;
    state.alerts[id] = record;
  }
  for (const [key, at] of Object.entries(line.s ?? {})) {
    if (at === null) delete state.seenEvents[key];
    else state.seenEvents[key] = at;
  }
  for (const [id, snooze] of Object.entries(line.z ?? {})) {
    state.snoozes ??= {};
    if (snooze === null) delete state.snoozes[id];
    else state.snoozes[id] = snooze;
  }
}

/** Parses the header line of a journal; null when it is not one. */
export function parseHeader(text: string): JournalHeader | null {
  try {
    const header = JSON.parse(text) as Partial<JournalHeader>;
    return typeof header.generation === 'number' ? { generation: header.generation } : null;
  } catch {
    return null;
  }
}

export function headerLine(generation: number): string {
  return `${JSON.stringify({ generation } satisfies JournalHeader)}\n`;
}

/** What a watched map tells besides the entries marked: ids looked for and not found, and scans (ReadScope). */
interface Reads {
  miss(id: string): void;
  scan(): void;
  /** BY_PERSON: the alerts of one person, or more (read as they are, not marked). */
  byPerson?: (userId: string) => AlertRecord[];
}

/**
 * A map whose entries are marked (`mark(id)`) before they are read by id, set or deleted, so that a change can be
 * compared with how they were; RAW gets the map behind, for scans that must not mark everything.
 */
function touching<T extends object>(map: T, mark: (id: string) => void, reads: Reads): T {
  const look = (target: T, key: string | symbol): void => {
    if (typeof key !== 'string') return;
    if (Object.hasOwn(target, key)) mark(key);
    else reads.miss(key);
  };
  return new Proxy(map, {
    get(target, key, receiver) {
      if (key === RAW) {
        reads.scan();
        return target;
      }
      if (key === BY_PERSON) return reads.byPerson;
      look(target, key);
      return Reflect.get(target, key, receiver);
    },
    has(target, key) {
      look(target, key);
      return Reflect.has(target, key);
    },
    getOwnPropertyDescriptor(target, key) {
      look(target, key);
      return Reflect.getOwnPropertyDescriptor(target, key);
    },
    ownKeys(target) {
      reads.scan();
      return Reflect.ownKeys(target);
    },
    set(target, key, value) {
      if (typeof key === 'string') mark(key);
      return Reflect.set(target, key, value);
    },
    deleteProperty(target, key) {
      if (typeof key === 'string') mark(key);
      return Reflect.deleteProperty(target, key);
    },
  });
}
