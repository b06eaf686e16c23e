// Alert records and transcript lines for tests of the store: complete records, with what a test changes.
import { newChat } from '../../src/chat/engine.js';
import type { AlertRecord, TranscriptEntry } from '../../src/store/port.js';

export function anAlert(overrides: Partial<AlertRecord> = {}): AlertRecord {
  return {
    id: 'pivot-1',
    template: 'pivot',
    name: 'Impossible travel',
    description: 'Sign-in from two countries within an hour',
    userId: 'U0PERSON',
    properties: { ip: '203.0.113.7', country: 'NZ' },
    channelId: 'C0FEED',
    ts: '1700000000.000100',
    createdAt: '2026-11-27T10:00:00.000Z',
    lastActivityAt: '2026-11-27T10:00:00.000Z',
    chat: newChat(),
    transcript: [],
    outbox: [],
    nextSeq: 1,
    ...overrides,
  };
}

export function aLine(text: string, from: TranscriptEntry['from'] = 'person'): TranscriptEntry {
  return { from, text, at: '2026-11-27T10:05:00.000Z' };
}
