// The conversation engine: (chat, event) → (chat, effects). Pure: no I/O, no clock, no randomness.
import type { StepUpResult } from '../verify/port.js';
import type { Actor, Chat, ChatEvent, Effect, Outcome, PersonClock, Rules, Schedule, StepUp } from './types.js';
import { localClock, localWhen, nextWorkingStart, workingMsBetween } from './working-hours.js';

export interface Step {
  chat: Chat;
  effects: Effect[];
}

export const THANKS = 'Thanks for your time!';

/** Posted in the thread when a reply of the person tried to instruct the bot. */
export const STEERING_NOTE =
  "The person's reply tried to instruct the bot. If they say they were aware, the chat closes as " +
  "'aware — needs review' and the responders are asked to look.";

/**
 * True when the chat ended with the person saying they were aware while one of their replies tried to instruct
 * the bot: the answer may be the one they talked the bot into, so it stands only once an analyst has looked.
 * (A 'not aware' answer or no answer goes to an analyst anyway, and an analyst ended the chat in the third case.)
 */
export function needsReview(chat: Chat): boolean {
  return chat.outcome === 'answered' && chat.aware === true && reviewReason(chat) !== undefined;
}

/** Why an aware answer needs review, in words (after "needs review: "). */
export function reviewWords(chat: Chat): string {
  const reason = reviewReason(chat);
  if (reason === 'rules') return "no model judged it, and irbot's offline rules only match keywords";
  if (reason === 'alert') return "the alert's own text tries to instruct the bot";
  return "the person's reply tried to instruct the bot";
}

/** Why an aware answer needs review: a reply tried to instruct the bot, or only the offline rules judged it. */
export function reviewReason(chat: Chat): 'steering' | 'alert' | 'rules' | undefined {
  if ((chat.steering ?? 0) > 0) return 'steering';
  if (chat.alertSteering === true) return 'alert';
  return chat.judgedByRules === true ? 'rules' : undefined;
}

/** The DM once the first push is on its way. */
export const STEP_UP_ASK =
  'Thanks! One last step: to confirm it was really you, approve the Duo push we just sent to your phone.';
/** The DM once a push asked for with `retry` is on its way. */
export const STEP_UP_AGAIN = 'A new Duo push is on its way to your phone: approve it to confirm it was really you.';
/** The DM after a push timed out, while the person may still ask for another. */
export const STEP_UP_TIMED_OUT = 'The Duo push timed out. Reply `retry` to get a new one.';

/** The reply that asks for a new push after one timed out. */
const RETRY = /^\s*retry\s*[.!]?\s*$/i;

/**
 * True once the chat ended on "it was me" but the step-up did not confirm it (denied, fraud, timed out, no
 * device, Duo unreachable): on-call must hear of it.
 */
export function stepUpFailed(chat: Chat): boolean {
  return chat.verified !== undefined && chat.verified !== null && chat.verified !== 'approved';
}

/** A step-up waiting on the person or on the verifier. */
function pendingStepUp(chat: Chat): StepUp | undefined {
  return chat.state === 'active' && chat.stepUp && chat.stepUp.phase !== 'done' ? chat.stepUp : undefined;
}

/**
 * A push still out when an analyst ended the chat: its answer is still heard (a fraud report above all), though
 * the chat it confirmed is over.
 */
export function outstandingPush(chat: Chat): StepUp | undefined {
  const { stepUp } = chat;
  if (chat.state !== 'ended' || chat.outcome !== 'ended_by_analyst' || !stepUp) return undefined;
  return stepUp.phase === 'pushing' || stepUp.phase === 'waiting' ? stepUp : undefined;
}

export function newChat(): Chat {
  return {
    state: 'posted',
    startedBy: null,
    startedAt: null,
    endedBy: null,
    endedAt: null,
    outcome: null,
    aware: null,
    nudges: 0,
    personMessages: 0,
    classifiedUpTo: 0,
    quietSince: null,
    failure: null,
  };
}

/** True while the chat still involves the person (a DM from them belongs to it, or soon will). */
export function isOpen(chat: Chat): boolean {
  return isOpenState(chat.state);
}

/** {@link isOpen}, of a state alone (a report's facts keep no more). */
export function isOpenState(state: Chat['state']): boolean {
  return state === 'active' || state === 'queued' || state === 'scheduled';
}

/** How long a chat waits for the person's working hours when max_wait_hours is not set. */
export const DEFAULT_MAX_WAIT_MS = 12 * 60 * 60 * 1000;

/** True once nothing more will happen to the chat. */
export function isClosed(chat: Chat): boolean {
  return chat.state === 'ended' || chat.state === 'dismissed' || chat.state === 'failed';
}

const unchanged = (chat: Chat): Step => ({ chat, effects: [] });

export function step(chat: Chat, event: ChatEvent, rules: Rules): Step {
  switch (event.type) {
    case 'StartRequested': {
      if (chat.state !== 'posted') return unchanged(chat);
      const started: Chat = { ...chat, startedBy: event.by, startedAt: event.at, ...onClock(event, rules) };
      if (event.personBusy) return { chat: { ...started, state: 'queued' }, effects: [{ type: 'UpdateAlert' }] };
      const waiting = scheduled(started, event, rules);
      if (waiting) return waiting;
      return {
        chat: { ...started, state: 'active', quietSince: event.at },
        effects: [{ type: 'UpdateAlert' }, { type: 'Greet' }],
      };
    }

    case 'Dequeued': {
      if (chat.state !== 'queued') return unchanged(chat);
      // Started now by an analyst while the person was in another chat: now has come, whatever the hour.
      if (chat.schedule?.ended?.how === 'now') return begin(chat, event.at);
      const waiting = scheduled({ ...chat, ...onClock(event, rules) }, event, rules);
      if (waiting) return waiting;
      return begin({ ...chat, ...onClock(event, rules) }, event.at);
    }

    case 'StartNowRequested': {
      if (chat.state !== 'scheduled' || !chat.schedule) return unchanged(chat);
      // An analyst who will not wait for the person's hours wants an answer now: silence counts wall-clock time.
      const { zone: _, ...rest } = chat;
      const now: Chat = { ...rest, schedule: { ...chat.schedule, ended: { how: 'now', at: event.at, by: event.by } } };
      // One chat at a time (an urgent one went ahead): this one's turn comes when that ends, at any hour.
      if (event.personBusy) return { chat: { ...now, state: 'queued' }, effects: [{ type: 'UpdateAlert' }] };
      return begin(now, event.at);
    }

    case 'DismissRequested':
      if (chat.state !== 'posted') return unchanged(chat);
      return {
        chat: { ...chat, state: 'dismissed', endedBy: event.by, endedAt: event.at },
        effects: [{ type: 'UpdateAlert' }],
      };

    case 'EndRequested':
      if (chat.state === 'queued' || chat.state === 'scheduled') {
        // The person was never contacted: nothing to thank them for or to summarise. A scheduled chat held the
        // person: their next chat may start.
        return {
          chat: end(chat, 'ended_by_analyst', event.by, event.at),
          effects: [{ type: 'UpdateAlert' }, ...(chat.state === 'scheduled' ? [{ type: 'StartNext' } as const] : [])],
        };
      }
      if (chat.state !== 'active') return unchanged(chat);
      return { chat: end(chat, 'ended_by_analyst', event.by, event.at), effects: closing(false) };

    case 'DirectMessage': {
      if (chat.state !== 'active') return unchanged(chat);
      const personMessages = chat.personMessages + 1;
      const stepUp = pendingStepUp(chat);
      // During a step-up the answer is given: replies are relayed, not judged again; `retry` asks for a new push.
      if (stepUp) return duringStepUp({ ...chat, personMessages, classifiedUpTo: personMessages }, stepUp, event);
      return {
        chat: { ...chat, personMessages, quietSince: event.at },
        effects: [
          { type: 'PostInThread', kind: 'received', text: event.text },
          { type: 'Classify', upTo: personMessages },
        ],
      };
    }

    case 'LateMessage':
      if (chat.state !== 'ended') return unchanged(chat);
      return { chat, effects: [{ type: 'PostInThread', kind: 'late', text: event.text }] };

    case 'EarlyMessage':
      // Not an answer to a question the person had not seen: shown to the analysts, kept out of the judged lines.
      if (chat.state !== 'active') return unchanged(chat);
      return { chat, effects: [{ type: 'PostInThread', kind: 'early', text: event.text }] };

    case 'AnalystMessage':
      // The person is in another chat, or off work: the line waits and follows the greeting (see `begin`).
      if (chat.state === 'queued' || chat.state === 'scheduled') {
        return { chat: { ...chat, held: [...(chat.held ?? []), { text: event.text, by: event.by.id }] }, effects: [] };
      }
      if (chat.state !== 'active') return unchanged(chat);
      return { chat, effects: [{ type: 'SendDm', text: event.text, from: 'analyst', by: event.by.id }] };

    case 'Classified':
      return classified(chat, event, rules);

    case 'Tick':
      return tick(chat, event.at, rules, event.personBusy === true);

    case 'PushStarted': {
      const late = outstandingPush(chat);
      if (late?.phase === 'pushing' && late.push === event.push) {
        // It reached the phone as the chat ended: followed, without a word more to the person.
        return {
          chat: { ...chat, stepUp: { ...late, phase: 'waiting', txid: event.txid, since: event.at } },
          effects: [{ type: 'PollPush', push: event.push, txid: event.txid }],
        };
      }
      const stepUp = pendingStepUp(chat);
      if (stepUp?.phase !== 'pushing' || stepUp.push !== event.push) return unchanged(chat);
      return {
        chat: { ...chat, stepUp: { ...stepUp, phase: 'waiting', txid: event.txid, since: event.at } },
        effects: [
          { type: 'SendDm', text: event.push === 1 ? STEP_UP_ASK : STEP_UP_AGAIN, from: 'bot' },
          { type: 'PollPush', push: event.push, txid: event.txid },
        ],
      };
    }

    case 'PushFinished':
      return pushFinished(chat, event, rules);

    case 'Failed':
      if (isClosed(chat) || chat.state === 'posted') return unchanged(chat);
      // The person is free for their next chat. Nothing more is sent to them; the alert message and its thread
      // say why, unless the feed channel is what failed.
      return {
        chat: { ...chat, state: 'failed', failure: event.reason, endedAt: event.at },
        effects: [
          ...(event.feedReachable
            ? [
                { type: 'UpdateAlert' } as const,
                { type: 'PostInThread', kind: 'note', text: failureNote(event.reason) } as const,
              ]
            : []),
          ...(chat.state === 'active' || chat.state === 'scheduled' ? [{ type: 'StartNext' } as const] : []),
        ],
      };
  }
}

function classified(chat: Chat, event: Extract<ChatEvent, { type: 'Classified' }>, rules: Rules): Step {
  // A verdict counts only for the latest message, once: a newer message has its own Classify queued.
  if (chat.state !== 'active' || event.upTo !== chat.personMessages || event.upTo <= chat.classifiedUpTo) {
    return unchanged(chat);
  }
  if (pendingStepUp(chat)) return unchanged(chat); // the answer is given; only the push decides now
  const steering = event.steering ?? 0;
  const steered = steering > (chat.steering ?? 0);
  const judged: Chat = { ...chat, classifiedUpTo: event.upTo, ...(steered ? { steering } : {}) };
  // Said once per new attempt, before what the verdict makes of it.
  const note: Effect[] = steered ? [{ type: 'PostInThread', kind: 'note', text: STEERING_NOTE }] : [];
  // An aware answer that keyword rules read, not a model, closes for an analyst to confirm (a question or a
  // negation they misread would otherwise be an all-clear); so does one on an alert whose text instructs the bot.
  // An approved push does not lift either: it proves who holds the phone, not what the person said.
  const byRules = event.byRules === true && event.isAware ? { judgedByRules: true } : {};
  const alertSteering = event.alertSteering === true && event.isAware ? { alertSteering: true } : {};
  if (event.hasAnswered && event.isAware && event.stepUp) {
    // "It was me" stands only once the person's own device confirms it: the chat waits for a push.
    const stepUp: StepUp = { phase: 'pushing', push: 1, since: event.at };
    return {
      chat: { ...judged, ...byRules, ...alertSteering, stepUp, quietSince: event.at },
      effects: [
        ...note,
        { type: 'PostInThread', kind: 'step_up', text: pushNote(1) },
        { type: 'StartPush', push: 1 },
        { type: 'UpdateAlert' },
      ],
    };
  }
  if (event.hasAnswered) {
    const ended = { ...end(judged, 'answered', null, event.at), aware: event.isAware, ...byRules, ...alertSteering };
    return { chat: ended, effects: [...note, ...closing(needsReview(ended))] };
  }
  const next = nudgeOrGiveUp(judged, event.at, rules);
  return { chat: next.chat, effects: [...note, ...next.effects] };
}

/** The chat goes active: greeting, then the lines an analyst typed while it waited. */
function begin(chat: Chat, at: string): Step {
  const { held = [], ...rest } = chat;
  return {
    chat: { ...rest, state: 'active', quietSince: at },
    effects: [
      { type: 'UpdateAlert' },
      { type: 'Greet' },
      ...held.map((line): Effect => ({ type: 'SendDm', text: line.text, from: 'analyst', by: line.by })),
    ],
  };
}

/** The person's zone to count their silence in: only with working hours, and not for an urgent alert. */
function onClock(event: { person?: PersonClock; urgent?: boolean }, rules: Rules): { zone?: string } {
  return rules.workingHours && event.person && event.urgent !== true ? { zone: event.person.zone } : {};
}

/**
 * The chat waits when the person is outside their working hours (and the alert is not urgent): the greeting is
 * due at their next working hour, at most max_wait_hours away. Undefined when it may start now.
 */
function scheduled(
  chat: Chat,
  event: { at: string; person?: PersonClock; urgent?: boolean },
  rules: Rules,
): Step | undefined {
  const hours = rules.workingHours;
  if (!hours || !event.person || event.urgent === true) return undefined;
  const at = Date.parse(event.at);
  const startsAt = nextWorkingStart(at, hours, event.person.zone);
  if (startsAt <= at) return undefined;
  const schedule: Schedule = {
    zone: event.person.zone,
    ...(event.person.unknown ? { zoneUnknown: true } : {}),
    at: event.at,
    startsAt: new Date(startsAt).toISOString(),
    deadline: new Date(at + (rules.maxWaitMs ?? DEFAULT_MAX_WAIT_MS)).toISOString(),
  };
  return {
    chat: { ...chat, state: 'scheduled', schedule },
    effects: [{ type: 'UpdateAlert' }, { type: 'PostInThread', kind: 'note', text: scheduleNote(schedule) }],
  };
}

/** The thread's line when a chat waits: where and when, and what happens if no working hour comes in time. */
export function scheduleNote(schedule: Schedule): string {
  return [
    `${outsideHoursText(schedule, 'The person')}.`,
    ...(isTooLate(schedule) ? [tooLateText(schedule)] : []),
    ...(schedule.zoneUnknown ? [UNKNOWN_ZONE_NOTE] : []),
  ].join(' ');
}

/** "Harold is outside working hours (Europe/Paris, 22:40); the chat starts at 09:00 their time" (no full stop). */
export function outsideHoursText(schedule: Schedule, who: string): string {
  const at = Date.parse(schedule.at);
  const when = localWhen(Date.parse(schedule.startsAt), at, schedule.zone);
  return `${who} is outside working hours (${schedule.zone}, ${localClock(at, schedule.zone)}); the chat starts at ${when} their time`;
}

/** No working hour of the person's comes within max_wait_hours. */
export function isTooLate(schedule: Schedule): boolean {
  return schedule.startsAt > schedule.deadline;
}

/** Said when Slack gives no time zone for the person. */
export const UNKNOWN_ZONE_NOTE = 'Slack has no time zone for this person, so irbot reads their working hours in UTC.';

/** How long the chat may wait, in hours, for the words. */
export function maxWaitHours(schedule: Schedule): number {
  return Math.round(((Date.parse(schedule.deadline) - Date.parse(schedule.at)) / 3_600_000) * 100) / 100;
}

export function tooLateText(schedule: Schedule): string {
  return `That is more than max_wait_hours (${maxWaitHours(schedule)} h) away: unless someone presses Start Chat now, it ends as no answer at ${schedule.deadline.slice(0, 16).replace('T', ' ')} UTC.`;
}

/** Why a chat that waited for working hours ended without an answer (thread, escalation, verdict). */
export function expiredReason(schedule: Schedule): string {
  return `outside working hours for max_wait_hours (${maxWaitHours(schedule)} h), so the chat never started`;
}

/** A scheduled chat starts at the person's working hour, or ends as no answer once it waited max_wait_hours. */
function tickScheduled(chat: Chat, at: string, rules: Rules, personBusy: boolean): Step {
  const { schedule } = chat;
  if (!schedule) return unchanged(chat);
  const now = Date.parse(at);
  // A start past the deadline never comes, even to a process that was down until after it.
  if (now >= Date.parse(schedule.startsAt) && schedule.startsAt <= schedule.deadline) {
    // A process down through the working period it waited for finds the person off again: the chat waits on.
    const next = rules.workingHours ? nextWorkingStart(now, rules.workingHours, schedule.zone) : now;
    const due = { ...chat, schedule: { ...schedule, ended: { how: 'hours', at } } } satisfies Chat;
    // One chat at a time: its turn comes when the one under way ends (StartNext), on the person's clock again.
    if (next <= now && personBusy) return { chat: { ...due, state: 'queued' }, effects: [{ type: 'UpdateAlert' }] };
    if (next <= now) return begin(due, at);
    if (now < Date.parse(schedule.deadline)) {
      return {
        chat: { ...chat, schedule: { ...schedule, startsAt: new Date(next).toISOString() } },
        effects: [{ type: 'UpdateAlert' }],
      };
    }
  }
  if (now < Date.parse(schedule.deadline)) return unchanged(chat);
  const ended: Schedule = { ...schedule, ended: { how: 'expired', at } };
  const { held: _, ...rest } = chat;
  return {
    chat: end({ ...rest, schedule: ended }, 'no_answer', null, at),
    effects: [
      { type: 'UpdateAlert' },
      {
        type: 'PostInThread',
        kind: 'note',
        text: `The chat ended as no answer: the person was ${expiredReason(ended)}.`,
      },
      { type: 'PostInThread', kind: 'escalation', text: '' },
      { type: 'StartNext' },
    ],
  };
}

/** Silence so far: working time only while the chat counts on the person's clock. */
function silentFor(chat: Chat, since: string, at: string, rules: Rules): number {
  if (!rules.workingHours || !chat.zone) return Date.parse(at) - Date.parse(since);
  return workingMsBetween(Date.parse(since), Date.parse(at), rules.workingHours, chat.zone);
}

/** A person silent for nudgeAfterMs since the conversation last moved is nudged, or, after the last nudge, let go. */
function tick(chat: Chat, at: string, rules: Rules, personBusy: boolean): Step {
  if (chat.state === 'scheduled') return tickScheduled(chat, at, rules, personBusy);
  if (chat.state !== 'active' || chat.quietSince === null) return unchanged(chat);
  const stepUp = pendingStepUp(chat);
  if (stepUp) {
    // A push is the verifier's to time out; a person who does not ask for another is let go, unverified, after
    // the silence a nudge waits for (in working time, with working hours: not at night, paging on-call).
    if (stepUp.phase !== 'timed_out' || silentFor(chat, stepUp.since, at, rules) < rules.nudgeAfterMs) {
      return unchanged(chat);
    }
    return finishStepUp(chat, stepUp, 'timeout', 'push timed out; no retry was asked for', at);
  }
  // A reply still being judged is not silence.
  if (chat.classifiedUpTo !== chat.personMessages) return unchanged(chat);
  if (silentFor(chat, chat.quietSince, at, rules) < rules.nudgeAfterMs) return unchanged(chat);
  return nudgeOrGiveUp(chat, at, rules);
}

function nudgeOrGiveUp(chat: Chat, at: string, rules: Rules): Step {
  if (chat.nudges < rules.maxNudges) {
    return { chat: { ...chat, nudges: chat.nudges + 1, quietSince: at }, effects: [{ type: 'Nudge' }] };
  }
  return { chat: end(chat, 'no_answer', null, at), effects: closing(true) };
}

function end(chat: Chat, outcome: Outcome, by: Actor | null, at: string): Chat {
  return { ...chat, state: 'ended', outcome, endedBy: by, endedAt: at };
}

/** The thread's line when a chat fails: the reason carries the fix. */
export function failureNote(reason: string): string {
  return `The chat failed: ${reason}`;
}

/**
 * Thank the person, summarise in the thread, close the alert message, let the person's next chat start.
 * `escalate`: the responders are pinged after the summary (no answer, or an answer that needs review).
 */
function closing(escalate: boolean): Effect[] {
  return [
    { type: 'SendDm', text: THANKS, from: 'bot' },
    escalate ? { type: 'Summarise', escalate: true } : { type: 'Summarise' },
    { type: 'UpdateAlert' },
    { type: 'StartNext' },
  ];
}

/** A reply while a step-up is pending: relayed; after a timeout, `retry` asks for a new push while any are left. */
function duringStepUp(chat: Chat, stepUp: StepUp, event: Extract<ChatEvent, { type: 'DirectMessage' }>): Step {
  const relay: Effect = { type: 'PostInThread', kind: 'received', text: event.text };
  if (stepUp.phase !== 'timed_out' || !RETRY.test(event.text)) {
    return { chat: { ...chat, quietSince: event.at }, effects: [relay] };
  }
  const push = stepUp.push + 1;
  const { txid: _, ...rest } = stepUp;
  return {
    chat: { ...chat, quietSince: event.at, stepUp: { ...rest, phase: 'pushing', push, since: event.at } },
    effects: [relay, { type: 'PostInThread', kind: 'step_up', text: pushNote(push) }, { type: 'StartPush', push }],
  };
}

function pushFinished(chat: Chat, event: Extract<ChatEvent, { type: 'PushFinished' }>, rules: Rules): Step {
  const late = outstandingPush(chat);
  if (late?.phase === 'waiting' && late.push === event.push) return lateResult(chat, late, event);
  const stepUp = pendingStepUp(chat);
  // Only the push being waited for counts: a late answer to an earlier one (or after a timeout) is stale.
  if (!stepUp || stepUp.push !== event.push || stepUp.phase === 'timed_out') return unchanged(chat);
  const retries = rules.stepUpRetries ?? 1;
  // A push irbot's own restart cut short does not use up one of the person's retries, whichever push it was.
  const interrupted = (stepUp.interrupted ?? 0) + (event.interrupted === true ? 1 : 0);
  if (event.result === 'timeout' && stepUp.push - interrupted <= retries) {
    const { txid: _, ...rest } = stepUp;
    const cut = interrupted > 0 ? { interrupted } : {};
    return {
      chat: { ...chat, quietSince: event.at, stepUp: { ...rest, ...cut, phase: 'timed_out', since: event.at } },
      effects: [
        { type: 'PostInThread', kind: 'step_up', text: resultNote(event.push, event.result, event.reason) },
        { type: 'SendDm', text: STEP_UP_TIMED_OUT, from: 'bot' },
        { type: 'UpdateAlert' },
      ],
    };
  }
  return finishStepUp(chat, stepUp, event.result, event.reason, event.at);
}

/**
 * The answer to a push that was out when an analyst ended the chat: said in the thread, and kept as the chat's
 * `verified`; a refusal (denied, fraud) escalates as a possible compromise (src/escalation/decide.ts).
 */
function lateResult(chat: Chat, stepUp: StepUp, event: Extract<ChatEvent, { type: 'PushFinished' }>): Step {
  const { txid: _, ...rest } = stepUp;
  const approved = event.result === 'approved';
  return {
    chat: {
      ...chat,
      verified: event.result,
      stepUp: { ...rest, phase: 'done', since: event.at, ...(approved ? {} : { reason: event.reason }) },
    },
    effects: [
      {
        type: 'PostInThread',
        kind: 'step_up',
        text: `${resultNote(event.push, event.result, event.reason)} (after the chat was ended)`,
      },
      { type: 'UpdateAlert' },
    ],
  };
}

/** Ends the chat on the step-up's result: verified only when approved; anything else escalates. */
function finishStepUp(chat: Chat, stepUp: StepUp, result: StepUpResult, reason: string, at: string): Step {
  const { txid: _, ...rest } = stepUp;
  const approved = result === 'approved';
  const ended: Chat = {
    ...end(chat, 'answered', null, at),
    aware: true,
    verified: result,
    stepUp: { ...rest, phase: 'done', since: at, ...(approved ? {} : { reason }) },
  };
  return {
    chat: ended,
    effects: [
      { type: 'PostInThread', kind: 'step_up', text: resultNote(stepUp.push, result, reason) },
      ...closing(!approved || needsReview(ended)),
    ],
  };
}

function pushNote(push: number): string {
  return push === 1
    ? 'Step-up: sending a Duo push to the person.'
    : `Step-up: sending Duo push ${push} (asked for with retry).`;
}

const RESULT_WORDS: Record<StepUpResult, string> = {
  approved: 'approved',
  denied: 'denied',
  fraud: 'reported as fraud',
  timeout: 'timed out',
  not_enrolled: 'not possible: the person is not enrolled',
  error: 'failed',
};

function resultNote(push: number, result: StepUpResult, reason: string): string {
  return `Step-up: Duo push ${push} ${RESULT_WORDS[result]} (${reason}).`;
}
