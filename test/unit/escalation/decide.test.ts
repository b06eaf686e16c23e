// Tests of escalationOf: every outcome a chat can come to, what `on` lets through, the severity and the reason.
import { describe, expect, it } from 'vitest';
import { newChat } from '../../../src/chat/engine.js';
import type { Chat } from '../../../src/chat/types.js';
import { ESCALATION_OUTCOMES } from '../../../src/config/types.js';
import { type EscalationFacts, escalationOf, outcomeOf } from '../../../src/escalation/decide.js';
import type { StepUpResult } from '../../../src/verify/port.js';

const at = '2026-12-04T10:00:00.000Z';
const ended = (overrides: Partial<Chat>): Chat => ({ ...newChat(), state: 'ended', endedAt: at, ...overrides });
const answered = (aware: boolean, verified?: StepUpResult | null): Chat =>
  ended({ outcome: 'answered', aware, ...(verified !== undefined ? { verified } : {}) });
const alert = (chat: Chat, extra: Partial<EscalationFacts> = {}): EscalationFacts => ({
  name: 'Pivoting',
  userId: 'U0HAROLD',
  personName: 'Harold',
  chat,
  ...extra,
});
const ALL = ESCALATION_OUTCOMES;

describe('escalationOf', () => {
  it.each<[string, Chat, ReturnType<typeof escalationOf>]>([
    [
      'not aware',
      answered(false),
      { outcome: 'not_aware', reason: 'Harold was not aware of Pivoting', severity: 'error' },
    ],
    [
      'aware, push denied',
      answered(true, 'denied'),
      { outcome: 'denied', reason: 'Harold denied the Duo push for Pivoting', severity: 'critical' },
    ],
    [
      'aware, push reported as fraud',
      answered(true, 'fraud'),
      { outcome: 'denied', reason: 'Harold reported the Duo push for Pivoting as fraud', severity: 'critical' },
    ],
    [
      'aware, push timed out',
      answered(true, 'timeout'),
      {
        outcome: 'unverified',
        reason: 'Harold said they were aware of Pivoting, but the Duo push timed out',
        severity: 'error',
      },
    ],
    [
      'aware, not enrolled',
      answered(true, 'not_enrolled'),
      {
        outcome: 'unverified',
        reason: 'Harold said they were aware of Pivoting, but they have no Duo device to push to',
        severity: 'error',
      },
    ],
    [
      'aware, Duo unreachable',
      answered(true, 'error'),
      {
        outcome: 'unverified',
        reason: 'Harold said they were aware of Pivoting, but the Duo push could not be sent',
        severity: 'error',
      },
    ],
    [
      'no answer',
      ended({ outcome: 'no_answer', nudges: 3 }),
      { outcome: 'no_answer', reason: 'Harold did not answer about Pivoting after 3 nudges', severity: 'error' },
    ],
    [
      'failed',
      { ...newChat(), state: 'failed', failure: 'the DM to U0HAROLD failed with user_not_found' },
      {
        outcome: 'failed',
        reason: 'the chat with Harold about Pivoting failed: the DM to U0HAROLD failed with user_not_found',
        severity: 'error',
      },
    ],
  ])('escalates %s when `on` names it', (_, chat, expected) => {
    expect(escalationOf(alert(chat), ALL)).toEqual(expected);
    const others = ALL.filter((o) => o !== expected?.outcome);
    expect(escalationOf(alert(chat), others)).toBeNull();
  });

  it.each<[string, Chat]>([
    ['aware', answered(true)],
    ['aware, no step-up', answered(true, null)],
    ['aware and verified', answered(true, 'approved')],
    ['ended by an analyst', ended({ outcome: 'ended_by_analyst' })],
    ['dismissed', { ...newChat(), state: 'dismissed' }],
    ['posted', newChat()],
    ['active', { ...newChat(), state: 'active' }],
    ['queued', { ...newChat(), state: 'queued' }],
  ])('never escalates a chat that is %s', (_, chat) => {
    expect(outcomeOf(chat)).toBeNull();
    expect(escalationOf(alert(chat), ALL)).toBeNull();
  });

  it('escalates nothing with an empty `on`', () => {
    expect(escalationOf(alert(answered(false)), [])).toBeNull();
  });

  it('lets the alert’s severity win over the outcome’s', () => {
    expect(escalationOf(alert(answered(true, 'denied'), { severity: 'warning' }), ALL)?.severity).toBe('warning');
    expect(escalationOf(alert(answered(false), { severity: 'critical' }), ALL)?.severity).toBe('critical');
  });

  it('names the person by user ID until their name is known, and says "1 nudge"', () => {
    const chat = ended({ outcome: 'no_answer', nudges: 1 });
    expect(escalationOf({ name: 'Pivoting', userId: 'U0HAROLD', chat }, ALL)?.reason).toBe(
      'U0HAROLD did not answer about Pivoting after 1 nudge',
    );
  });

  it('trusts the step-up over the words: a denied push escalates as denied even if the verdict says not aware', () => {
    expect(outcomeOf(answered(false, 'fraud'))).toBe('denied');
  });
});
