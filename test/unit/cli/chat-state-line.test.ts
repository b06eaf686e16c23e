// The line `irbot chat` prints for the state of a chat, here the verdicts of an ended one.
import { describe, expect, it } from 'vitest';
import { newChat } from '../../../src/chat/engine.js';
import { stateLine } from '../../../src/cli/chat.js';
import { anAlert } from '../../support/records.js';

const ended = (aware: boolean, steering?: number) =>
  anAlert({
    chat: { ...newChat(), state: 'ended', outcome: 'answered', aware, ...(steering ? { steering } : {}) },
  });

describe('stateLine', () => {
  it('says an aware answer needs review when a reply of the person tried to instruct the bot', () => {
    expect(stateLine(ended(true, 1))).toBe(
      "chat ended: answered, aware — needs review: the person's reply tried to instruct the bot",
    );
  });

  it('gives the plain verdict otherwise', () => {
    expect(stateLine(ended(true))).toBe('chat ended: answered, aware');
    expect(stateLine(ended(false, 1))).toBe('chat ended: answered, not aware');
  });

  it('says what the step-up came to', () => {
    const stepped = (verified: 'approved' | 'denied' | 'timeout') =>
      anAlert({ chat: { ...newChat(), state: 'ended', outcome: 'answered', aware: true, verified } });
    expect(stateLine(stepped('approved'))).toBe('chat ended: answered, aware, verified by Duo');
    expect(stateLine(stepped('denied'))).toBe(
      'chat ended: answered, aware, DENIED the Duo push (possible account compromise)',
    );
    expect(stateLine(stepped('timeout'))).toBe('chat ended: answered, aware, unverified (push timed out)');
  });
});
