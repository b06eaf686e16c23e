// Tests of decodeEnvelope: button clicks and the person's DMs become inbound facts; anything else is ignored, never thrown.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ACTION_IDS } from '../../../src/slack/blocks.js';
import { type ButtonAction, decodeEnvelope, type Inbound, MAX_TEXT } from '../../../src/slack/envelope.js';

type Json = Record<string, unknown>;

const ALERT_ID = 'pivot-3f9a2c';

/** A block_actions payload as Slack sends it for a click on the alert message; `action` overrides the button. */
function aClick(action: Json = {}, overrides: Json = {}): Json {
  return {
    type: 'block_actions',
    user: { id: 'U0ANALYST', username: 'ana', team_id: 'T0' },
    api_app_id: 'A0IRBOT',
    container: { type: 'message', message_ts: '1700000000.000100', channel_id: 'C0FEED', is_ephemeral: false },
    channel: { id: 'C0FEED', name: 'security-alerts' },
    trigger_id: '111.222.abc',
    actions: [
      {
        type: 'button',
        block_id: 'alert_actions',
        action_id: ACTION_IDS.start,
        value: ALERT_ID,
        style: 'primary',
        text: { type: 'plain_text', text: 'Start Chat', emoji: true },
        action_ts: '1700000001.000200',
        ...action,
      },
    ],
    ...overrides,
  };
}

/** An events_api payload carrying a DM from the person; `event` overrides the message event. */
function aDm(event: Json = {}, overrides: Json = {}): Json {
  return {
    type: 'event_callback',
    team_id: 'T0',
    api_app_id: 'A0IRBOT',
    event_id: 'Ev0PERSON1',
    event_time: 1700000002,
    event: {
      type: 'message',
      channel_type: 'im',
      channel: 'D0HAROLD',
      user: 'U0HAROLD',
      text: 'who, me?',
      ts: '1700000002.000300',
      client_msg_id: '8e6e2f3a-0000-4000-8000-000000000001',
      ...event,
    },
    ...overrides,
  };
}

const click = (action: Json = {}, overrides: Json = {}): Inbound =>
  decodeEnvelope('interactive', aClick(action, overrides));
const dm = (event: Json = {}, overrides: Json = {}): Inbound => decodeEnvelope('events_api', aDm(event, overrides));

const ignoredWith = (reason: string | RegExp = /./) => ({
  kind: 'ignored',
  reason: typeof reason === 'string' ? expect.stringContaining(reason) : expect.stringMatching(reason),
});

function keyOf(inbound: Inbound): string {
  if (inbound.kind !== 'button') throw new Error(`expected a button, got ${JSON.stringify(inbound)}`);
  return inbound.dedupeKey;
}

function textOf(inbound: Inbound): string {
  if (inbound.kind !== 'dm') throw new Error(`expected a dm, got ${JSON.stringify(inbound)}`);
  return inbound.text;
}

/** A JSON object whose String() conversion throws: `toString` is not a function and valueOf returns the object. */
const unprintable = (): Json => JSON.parse('{"toString": 1}') as Json;

describe('button clicks', () => {
  it.each([
    [ACTION_IDS.start, 'start'],
    [ACTION_IDS.dismiss, 'dismiss'],
    [ACTION_IDS.end, 'end'],
    [ACTION_IDS.snooze, 'snooze'],
  ])('decodes %s as the %s button', (actionId, action) => {
    expect(click({ action_id: actionId })).toMatchObject({ kind: 'button', action });
  });

  it('carries the alert id, who clicked, and where the message is', () => {
    expect(click()).toEqual({
      kind: 'button',
      action: 'start',
      alertId: ALERT_ID,
      userId: 'U0ANALYST',
      channelId: 'C0FEED',
      messageTs: '1700000000.000100',
      dedupeKey: expect.any(String),
    });
  });

  it('takes the channel from the payload when the container has none', () => {
    expect(click({}, { container: { type: 'message' }, channel: { id: 'C0OTHER' } })).toMatchObject({
      kind: 'button',
      channelId: 'C0OTHER',
      messageTs: undefined,
    });
  });

  it('still decodes a click without a container or channel, leaving where unknown', () => {
    expect(click({}, { container: undefined, channel: undefined })).toMatchObject({
      kind: 'button',
      channelId: undefined,
      messageTs: undefined,
    });
  });

  it('takes the message ts from the payload message when the container has none', () => {
    expect(click({}, { container: { type: 'message' }, message: { ts: '1700000000.000300' } })).toMatchObject({
      channelId: 'C0FEED',
      messageTs: '1700000000.000300',
    });
  });

  it('leaves where unknown when the container and the payload name different places', () => {
    const message = { ts: '1700000000.000900' };
    expect(click({}, { message })).toMatchObject({ kind: 'button', channelId: 'C0FEED', messageTs: undefined });
    expect(click({}, { channel: { id: 'C0OTHER' } })).toMatchObject({ kind: 'button', channelId: undefined });
    const same = { message: { ts: '1700000000.000100' }, channel: { id: 'C0FEED' } };
    expect(click({}, same)).toMatchObject({ channelId: 'C0FEED', messageTs: '1700000000.000100' });
  });

  it('gives a re-delivered click the same dedupe key', () => {
    expect(keyOf(click())).toBe(keyOf(decodeEnvelope('interactive', structuredClone(aClick()))));
  });

  it('gives a second click (a new action_ts) a different dedupe key', () => {
    expect(keyOf(click({ action_ts: '1700000001.000200' }))).not.toBe(keyOf(click({ action_ts: '1700000009.000900' })));
  });

  it('gives different buttons, people and alerts different dedupe keys', () => {
    const keys = [
      click(),
      click({ action_id: ACTION_IDS.dismiss }),
      click({}, { user: { id: 'U0OTHER' } }),
      click({ value: 'privesc-000001' }),
    ].map(keyOf);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('falls back to the trigger id for the dedupe key when the action has no action_ts', () => {
    const a = click({ action_ts: undefined }, { trigger_id: '111.222.abc' });
    const b = click({ action_ts: undefined }, { trigger_id: '333.444.def' });
    expect(keyOf(a)).not.toBe(keyOf(b));
  });

  it('reads only the first action of the payload', () => {
    const payload = aClick();
    (payload.actions as Json[]).push({ action_id: ACTION_IDS.end, value: 'other-alert' });
    expect(decodeEnvelope('interactive', payload)).toMatchObject({
      kind: 'button',
      action: 'start',
      alertId: ALERT_ID,
    });
  });
});

describe('interactions that are ignored', () => {
  it('ignores an unknown action id, naming it', () => {
    expect(click({ action_id: 'approve_submit_action' })).toEqual(ignoredWith('approve_submit_action'));
  });

  it.each(['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf'])(
    'ignores the action id %s, which only names a built-in of plain objects',
    (actionId) => {
      expect(click({ action_id: actionId })).toEqual(ignoredWith(actionId));
    },
  );

  it.each<[string, Json, Json]>([
    ['without a user', {}, { user: undefined }],
    ['with a user without an id', {}, { user: { name: 'ana' } }],
    ['with an empty user id', {}, { user: { id: '' } }],
    ['without a value', { value: undefined }, {}],
    ['with an empty value', { value: '' }, {}],
  ])('ignores a click %s', (_, action, overrides) => {
    expect(click(action, overrides)).toEqual(ignoredWith(ACTION_IDS.start));
  });

  it.each([[[]], [undefined], [{}]])('ignores block_actions whose actions are %j', (actions) => {
    expect(click({}, { actions })).toEqual(ignoredWith('without an action'));
  });

  it.each(['view_submission', 'shortcut', 'message_action', undefined])('ignores the interaction type %s', (type) => {
    expect(click({}, { type })).toEqual(ignoredWith(`interaction ${String(type)}`));
  });

  it.each<[string, unknown]>([
    ['user is a number', { user: 42 }],
    ['user is null', { user: null }],
    ['user is an array', { user: ['U0ANALYST'] }],
    ['user id is a number', { user: { id: 42 } }],
    ['actions is an object', { actions: { 0: { action_id: ACTION_IDS.start, value: ALERT_ID } } }],
    ['actions is a string', { actions: ACTION_IDS.start }],
    ['action is null', { actions: [null] }],
    ['action is a number', { actions: [42] }],
    ['action is an array', { actions: [[ACTION_IDS.start, ALERT_ID]] }],
  ])('ignores a click when the %s', (_, overrides) => {
    expect(click({}, overrides as Json)).toEqual(ignoredWith());
  });

  it.each<[string, Json]>([
    ['action_id is a number', { action_id: 42 }],
    ['action_id is null', { action_id: null }],
    ['action_id is an array', { action_id: [ACTION_IDS.start] }],
    ['value is a number', { value: 42 }],
    ['value is null', { value: null }],
    ['value is an object', { value: { id: ALERT_ID } }],
  ])('ignores a click when the %s', (_, action) => {
    expect(click(action)).toEqual(ignoredWith());
  });

  it('treats where-fields of the wrong type as unknown rather than failing', () => {
    expect(click({ action_ts: 7 }, { container: 'C0FEED', channel: ['C0FEED'], trigger_id: null })).toMatchObject({
      kind: 'button',
      channelId: undefined,
      messageTs: undefined,
    });
    expect(click({}, { container: { channel_id: 5, message_ts: null }, channel: { id: 'C0FEED' } })).toMatchObject({
      kind: 'button',
      channelId: 'C0FEED',
      messageTs: undefined,
    });
  });
});

describe('envelopes that are ignored', () => {
  it.each<[string, unknown]>([
    ['missing', undefined],
    ['null', null],
    ['an array', [aClick()]],
    ['a string', JSON.stringify(aClick())],
    ['a number', 42],
  ])('ignores an envelope whose payload is %s', (_, payload) => {
    expect(decodeEnvelope('interactive', payload)).toEqual(ignoredWith('without a payload'));
  });

  it('ignores slash commands, naming the envelope type', () => {
    const payload = { command: '/irbot', text: 'chat pivot-3f9a2c', user_id: 'U0ANALYST', channel_id: 'C0FEED' };
    expect(decodeEnvelope('slash_commands', payload)).toEqual(ignoredWith('slash_commands'));
  });

  it.each([undefined, null, 42, 'hello', 'disconnect'])('ignores the envelope type %s', (type) => {
    expect(decodeEnvelope(type, aClick())).toEqual(ignoredWith());
  });

  it('does not decode a DM carried in an interactive envelope, nor a click in an events_api one', () => {
    expect(decodeEnvelope('interactive', aDm())).toEqual(ignoredWith());
    expect(decodeEnvelope('events_api', aClick())).toEqual(ignoredWith());
  });

  it('ignores, rather than throws on, values that cannot be turned into text', () => {
    expect(decodeEnvelope(unprintable(), aClick())).toEqual(ignoredWith());
    expect(decodeEnvelope('interactive', aClick({}, { type: unprintable() }))).toEqual(ignoredWith());
    expect(decodeEnvelope('events_api', aDm({ type: unprintable() }))).toEqual(ignoredWith());
    expect(decodeEnvelope('events_api', aDm({ subtype: unprintable() }))).toEqual(ignoredWith());
  });
});

describe('direct messages', () => {
  it('decodes the person’s DM', () => {
    expect(dm()).toEqual({
      kind: 'dm',
      eventId: 'Ev0PERSON1',
      userId: 'U0HAROLD',
      channelId: 'D0HAROLD',
      text: 'who, me?',
      ts: '1700000002.000300',
    });
  });

  it('decodes the text to what the person typed', () => {
    expect(dm({ text: '&lt;b&gt;bold&lt;/b&gt; &amp; <!channel>' })).toMatchObject({
      kind: 'dm',
      text: '<b>bold</b> & @channel',
    });
  });

  it('keeps a message with one visible character', () => {
    expect(dm({ text: ' k ' })).toMatchObject({ kind: 'dm', text: ' k ' });
  });

  it('truncates a huge message to MAX_TEXT characters', () => {
    expect(textOf(dm({ text: 'a'.repeat(100_000) }))).toBe('a'.repeat(MAX_TEXT));
  });

  it('measures the limit on the decoded text, not on Slack’s entities', () => {
    expect(textOf(dm({ text: '&amp;'.repeat(20_000) }))).toBe('&'.repeat(20_000));
  });

  it('never cuts a character in half when truncating', () => {
    const text = textOf(dm({ text: `a${'😀'.repeat(30_000)}` }));
    expect(text.length).toBeLessThanOrEqual(MAX_TEXT);
    expect(text.startsWith('a😀')).toBe(true);
    expect(text).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);
  });
});

describe('events that are ignored', () => {
  it('ignores a message from a bot, irbot included', () => {
    expect(dm({ bot_id: 'B0IRBOT', user: 'U0IRBOT' })).toEqual(ignoredWith('bot'));
  });

  it('ignores a bot message that carries a subtype', () => {
    expect(dm({ bot_id: 'B0IRBOT', subtype: 'bot_message' })).toEqual(ignoredWith('bot_message'));
  });

  it('ignores an edit', () => {
    expect(dm({ subtype: 'message_changed', message: { text: 'edited', user: 'U0HAROLD' }, user: undefined })).toEqual(
      ignoredWith('message_changed'),
    );
  });

  it.each(['message_deleted', 'channel_join'])('ignores a message with subtype %s', (subtype) => {
    expect(dm({ subtype })).toEqual(ignoredWith(subtype));
  });

  it('keeps the words of a DM with files, and names the files, never their URLs', () => {
    const files = [
      { name: 'screenshot.png', url_private: 'https://files.slack.com/secret' },
      { title: 'notes\nmore' },
      'junk',
    ];
    expect(dm({ subtype: 'file_share', text: 'it was me, see', files })).toMatchObject({
      kind: 'dm',
      text: 'it was me, see\n[attached: screenshot.png, notes more, a file]',
    });
    expect(dm({ subtype: 'file_share', text: '', files: [{ name: 'a.pdf' }] })).toMatchObject({
      kind: 'dm',
      text: '[attached: a.pdf]',
    });
    expect(JSON.stringify(dm({ subtype: 'file_share', text: 'x', files }))).not.toContain('files.slack.com');
  });

  it('takes a thread reply also sent to the DM (thread_broadcast: its only copy) and a /me line as the person speaking', () => {
    expect(dm({ subtype: 'thread_broadcast', text: 'yes that was me', thread_ts: '1700000000.000100' })).toMatchObject({
      kind: 'dm',
      text: 'yes that was me',
    });
    expect(dm({ subtype: 'me_message', text: 'was testing the jump host' })).toMatchObject({ kind: 'dm' });
    expect(dm({ subtype: 'thread_broadcast', bot_id: 'B0OTHER' })).toEqual(ignoredWith('thread_broadcast'));
  });

  it.each(['channel', 'group', 'mpim', undefined])('ignores a message whose channel_type is %s', (channelType) => {
    expect(dm({ channel_type: channelType })).toEqual(ignoredWith('outside a DM'));
  });

  it('ignores an event without an event_id', () => {
    expect(dm({}, { event_id: undefined })).toEqual(ignoredWith('event_id'));
    expect(dm({}, { event_id: '' })).toEqual(ignoredWith('event_id'));
    expect(dm({}, { event_id: 42 })).toEqual(ignoredWith('event_id'));
  });

  it.each<[string, unknown]>([
    ['missing', undefined],
    ['null', null],
    ['a string', 'message'],
    ['an array', [{ type: 'message' }]],
  ])('ignores an envelope whose event is %s', (_, event) => {
    expect(decodeEnvelope('events_api', { ...aDm(), event })).toEqual(ignoredWith('without an event'));
  });

  it.each(['app_mention', 'reaction_added', 'app_home_opened'])('ignores a %s event', (type) => {
    expect(dm({ type })).toEqual(ignoredWith(type));
  });

  it.each(['', '   ', '\n\t '])('ignores a DM with empty text %j', (text) => {
    expect(dm({ text })).toEqual(ignoredWith('empty'));
  });

  it.each<[string, Json]>([
    ['user', { user: undefined }],
    ['channel', { channel: undefined }],
    ['ts', { ts: undefined }],
    ['text', { text: undefined }],
    ['user (a number)', { user: 42 }],
    ['channel (an object)', { channel: { id: 'D0HAROLD' } }],
    ['ts (a number)', { ts: 1700000002.0003 }],
    ['text (a number)', { text: 42 }],
    ['text (null)', { text: null }],
    ['text (an array)', { text: ['who, me?'] }],
  ])('ignores a DM with a missing or mistyped %s', (_, event) => {
    expect(dm(event)).toEqual(ignoredWith('without user, channel, ts or text'));
  });
});

describe('any envelope at all', () => {
  const KINDS = ['button', 'dm', 'ignored'];

  /** Every button the alert message has had since working hours and snoozes: Start Chat now and Snooze 24 h too. */
  const BUTTONS: ButtonAction[] = ['start', 'start_now', 'dismiss', 'end', 'snooze'];
  const expectWellFormed = (inbound: Inbound): void => {
    expect(KINDS).toContain(inbound.kind);
    if (inbound.kind === 'ignored') expect(typeof inbound.reason).toBe('string');
    if (inbound.kind === 'button') {
      expect(BUTTONS).toContain(inbound.action);
      for (const field of [inbound.alertId, inbound.userId, inbound.dedupeKey]) expect(typeof field).toBe('string');
    }
    if (inbound.kind === 'dm') {
      for (const field of [inbound.eventId, inbound.userId, inbound.channelId, inbound.text, inbound.ts]) {
        expect(typeof field).toBe('string');
      }
      expect(inbound.text.length).toBeLessThanOrEqual(MAX_TEXT);
    }
  };

  it('decodes any JSON payload under any type without throwing', () => {
    const type = fc.oneof(fc.constantFrom('interactive', 'events_api', 'slash_commands'), fc.string());
    fc.assert(
      fc.property(type, fc.jsonValue(), (t, payload) => {
        expectWellFormed(decodeEnvelope(t, payload));
      }),
    );
  });

  it('decodes any click-shaped payload without throwing, and only into a known button', () => {
    const anything = fc.jsonValue({ maxDepth: 2 });
    const action = fc.record(
      {
        action_id: fc.oneof(fc.constantFrom(...Object.values(ACTION_IDS)), fc.string(), anything),
        value: fc.oneof(fc.string(), anything),
        action_ts: fc.oneof(fc.string(), anything),
      },
      { requiredKeys: [] },
    );
    const payload = fc.record(
      {
        type: fc.oneof(fc.constant('block_actions'), anything),
        user: fc.oneof(fc.record({ id: fc.oneof(fc.string(), anything) }), anything),
        actions: fc.oneof(fc.array(fc.oneof(action, anything), { maxLength: 2 }), anything),
        container: fc.oneof(fc.record({ channel_id: anything, message_ts: anything }), anything),
        channel: fc.oneof(fc.record({ id: anything }), anything),
        trigger_id: anything,
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(payload, (p) => {
        expectWellFormed(decodeEnvelope('interactive', p));
      }),
    );
  });

  it('decodes any DM-shaped payload without throwing', () => {
    const anything = fc.jsonValue({ maxDepth: 2 });
    const event = fc.record(
      {
        type: fc.oneof(fc.constant('message'), anything),
        channel_type: fc.oneof(fc.constant('im'), anything),
        subtype: anything,
        bot_id: anything,
        user: fc.oneof(fc.string(), anything),
        channel: fc.oneof(fc.string(), anything),
        ts: fc.oneof(fc.string(), anything),
        text: fc.oneof(fc.string({ unit: 'binary' }), anything),
      },
      { requiredKeys: [] },
    );
    const payload = fc.record(
      { event_id: fc.oneof(fc.string(), anything), event: fc.oneof(event, anything) },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(payload, (p) => {
        expectWellFormed(decodeEnvelope('events_api', p));
      }),
    );
  });
});
