// performStepUp on its own: what it sends, given what the chat still waits for.
import { describe, expect, it } from 'vitest';
import { newChat } from '../../src/chat/engine.js';
import { DEFAULT_STEP_UP, performStepUp, type StepUpPorts } from '../../src/step-up.js';
import type { AlertRecord } from '../../src/store/port.js';
import { testVerifier } from '../support/test-verifier.js';

const at = '2026-11-27T10:00:00.000Z';

function ports(stillWaiting: StepUpPorts['stillWaiting'], email?: StepUpPorts['email']) {
  const duo = testVerifier({ U0HAROLD: [{}], 'harold@example.com': [{}] });
  const p: StepUpPorts = {
    verifier: duo.verifier,
    settings: { ...DEFAULT_STEP_UP, provider: 'duo', usernameFrom: email ? 'email' : 'slack_id' },
    clock: () => new Date(at),
    log: () => undefined,
    sleep: async () => undefined,
    email: email ?? (async () => undefined),
    stillWaiting,
    halted: new Promise(() => undefined),
    pollEveryMs: 1000,
  };
  return { duo, ports: p };
}

const record = {
  id: 'pivot-1',
  name: 'Pivoting',
  userId: 'U0HAROLD',
  chat: { ...newChat(), state: 'active', stepUp: { phase: 'pushing', push: 1, since: at } },
} as unknown as AlertRecord;

describe('StartPush', () => {
  it('sends the push while the chat waits for it', async () => {
    const { duo, ports: p } = ports(async (_id, push, phase) => push === 1 && phase === 'pushing');
    const done = await performStepUp(p, record, { type: 'StartPush', push: 1 }, false);
    expect(duo.starts()).toBe(1);
    expect(done.events?.[0]).toMatchObject({ type: 'PushStarted', push: 1, txid: 'U0HAROLD#1' });
  });

  it('sends nothing once an analyst ended the chat before it went out: no unexplained push on the phone', async () => {
    const { duo, ports: p } = ports(async () => false);
    expect(await performStepUp(p, record, { type: 'StartPush', push: 1 }, false)).toEqual({});
    expect(duo.starts()).toBe(0);
  });

  it("sends nothing when End Chat comes while the person's email is looked up (a paced Slack call)", async () => {
    let ended = false;
    const { duo, ports: p } = ports(
      async () => !ended,
      async () => {
        ended = true; // the analyst pressed End Chat while users.info waited its turn
        return 'harold@example.com';
      },
    );
    expect(await performStepUp(p, record, { type: 'StartPush', push: 1 }, false)).toEqual({});
    expect(duo.starts()).toBe(0);
  });
});
