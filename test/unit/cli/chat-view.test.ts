// `irbot chat`'s view of the store: a change told while it was still reading the last one is looked at too.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { newChat } from '../../../src/chat/engine.js';
import { followChat } from '../../../src/cli/chat.js';
import type { Deps } from '../../../src/cli/deps.js';
import { emptyStore, type Store, type StoreData } from '../../../src/store/port.js';
import { aLine, anAlert } from '../../support/records.js';

/** followChat on a store that reads with `read` and tells of changes through `tell`; what it writes, in order. */
function following(read: () => Promise<StoreData>) {
  let onChange: () => void = () => undefined;
  const store = {
    read,
    watch: (listener: () => void) => {
      onChange = listener;
      return () => undefined;
    },
  } as unknown as Store;
  const stdout = new PassThrough();
  const writes: string[] = [];
  stdout.on('data', (chunk: Buffer) => writes.push(chunk.toString()));
  const deps = { stdout, stderr: new PassThrough(), env: { NO_COLOR: '1' } } as unknown as Deps;
  const view = followChat(store, 'a1', deps, 'Harold');
  return { view, writes, tell: () => onChange() };
}

describe('followChat', () => {
  it('shows a change told while it was reading, and writes each look at once', async () => {
    const reads: Array<(data: StoreData) => void> = [];
    const { view, writes, tell: told } = following(() => new Promise<StoreData>((resolve) => reads.push(resolve)));
    const withAlert = (alert: ReturnType<typeof anAlert>) => ({ ...emptyStore(), alerts: { a1: alert } });

    // The chat starts while the first look is still reading: that change must not be lost.
    told();
    reads.shift()?.(withAlert(anAlert({ id: 'a1', chat: newChat() })));
    await new Promise((resolve) => setImmediate(resolve));
    const active = anAlert({ id: 'a1', chat: { ...newChat(), state: 'active' }, transcript: [aLine('Hi Harold')] });
    reads.shift()?.(withAlert(active));
    await new Promise((resolve) => setImmediate(resolve));
    view.stop();
    expect(writes).toHaveLength(2);
    expect(writes[1]).toMatch(/Hi Harold\n— chat with Harold about .* is open/);
  });

  it("shows once each a line that landed before lines it had shown (a reply that crossed the bot's DM)", async () => {
    let data: StoreData = { ...emptyStore(), alerts: {} };
    const { view, writes, tell: told } = following(async () => data);
    const chat = { ...newChat(), state: 'active' as const };
    const greeting = { ...aLine('Hi Harold', 'bot'), ts: '1.000001' };
    const thanks = { ...aLine('Thanks for your time!', 'bot'), ts: '1.000004' };
    data = { ...emptyStore(), alerts: { a1: anAlert({ id: 'a1', chat, transcript: [greeting, thanks] }) } };
    told();
    await new Promise((resolve) => setImmediate(resolve));
    // A line written before the thanks arrives after it was shown: it goes where Slack put it, before the thanks.
    const crossing = { ...aLine('one more thing'), ts: '1.000003' };
    data = { ...emptyStore(), alerts: { a1: anAlert({ id: 'a1', chat, transcript: [greeting, crossing, thanks] }) } };
    told();
    await new Promise((resolve) => setImmediate(resolve));
    view.stop();
    const text = writes.join('');
    expect(text.match(/Thanks for your time!/g)).toHaveLength(1);
    expect(text.match(/one more thing/g)).toHaveLength(1);
  });
});
