// Performs one claimed effect through the ports (Slack, the LLM, the verifier) and says what it produced, as a
// Completion that the lane records in the store; a failure becomes a retry, a dropped effect or a failed chat.
import { needsReview, outstandingPush } from '../chat/engine.js';
import type { ChatEvent, Effect } from '../chat/types.js';
import { withoutLinks } from '../llm/bounds.js';
import { type AlertFacts, type Line, MALFORMED_CLASSIFICATION, WriterStopped, type Written } from '../llm/port.js';
import { alertSteers } from '../llm/steering.js';
import { oneLine } from '../log.js';
import { type Claimed, type Completion, type Lane, pacedBeforehand } from '../outbox.js';
import { alertBlocks, alertHeadline } from '../slack/blocks.js';
import { CheckFailed } from '../slack/errors.js';
import { escapeText } from '../slack/mrkdwn.js';
import { packMessages, splitMessage } from '../slack/split.js';
import { NO_VERIFIER, performStepUp, type StepUpPorts } from '../step-up.js';
import type { AlertRecord, OutboxItem, TranscriptEntry } from '../store/port.js';
import type { AppContext } from './context.js';
import { type Attempt, failed, postMayHaveLanded } from './failures.js';
import { Fenced } from './leases.js';
import { type PostPlan, postParts, postPlan } from './posting.js';
import { RELAY_SEPARATOR, threadText } from './thread-text.js';

export class Effects {
  constructor(private readonly ctx: AppContext) {}

  /**
   * Performs a lane's claimed head (with the thread posts riding along): asks Slack first whether a post taken
   * over had landed, and turns a failure into what happens next.
   */
  async run(lane: Lane, claimed: Claimed, fence?: () => Promise<void>): Promise<Attempt> {
    const { record, items, checkSince } = claimed;
    const head = items[0] as OutboxItem;
    const attemptAt = this.ctx.now();
    try {
      const post = await postPlan(this.ctx, record, head, checkSince, fence);
      const completion =
        lane === 'thread'
          ? await this.postInThread(record, items, post, !pacedBeforehand(lane, claimed))
          : head.effect.type === 'StartPush' || head.effect.type === 'PollPush'
            ? await performStepUp(this.stepUpPorts, record, head.effect, claimed.recovered, head.attempts ?? 0)
            : await this.perform(record, head.effect, post);
      return { completion };
    } catch (err) {
      if (err instanceof Fenced) throw err; // not a failure of the effect: this run must leave it alone
      if (err instanceof WriterStopped) {
        // SIGTERM while the LLM wrote: left queued as it was, not due at once (this process would take it again).
        return {
          completion: {
            retryAt: new Date(this.ctx.ports.clock().getTime() + 1000).toISOString(),
            attempts: head.attempts ?? 0,
          },
        };
      }
      // A check that failed leaves the post as unsure as it was; a post that failed unseen may have landed. The
      // window never moves later: parts an earlier attempt (or a crashed process) posted must stay in it.
      const unsure =
        err instanceof CheckFailed ? checkSince : postMayHaveLanded(head, err) ? (checkSince ?? attemptAt) : undefined;
      return failed(this.ctx, record, head, err, unsure);
    }
  }

  private get stepUpPorts(): StepUpPorts {
    const { ports } = this.ctx;
    return {
      verifier: ports.verifier ?? NO_VERIFIER,
      settings: this.ctx.stepUpSettings,
      clock: ports.clock,
      log: ports.log,
      sleep: (ms) => this.ctx.sleep(ms),
      email: (userId) => this.ctx.whenSlackAllows('users.info', undefined, () => ports.slack.userEmail(userId)),
      stillWaiting: async (alertId, push, phase = 'waiting') => {
        const chat = (await ports.store.read()).alerts[alertId]?.chat;
        // A push on the phone is followed after an analyst ended the chat too; one not sent yet is not sent then.
        if (!chat) return false;
        const stepUp = chat.state === 'active' ? chat.stepUp : phase === 'waiting' ? outstandingPush(chat) : undefined;
        return stepUp?.phase === phase && stepUp.push === push;
      },
      halted: this.ctx.halted,
      pollEveryMs: ports.pollEveryMs ?? 1000,
    };
  }

  /**
   * Thread posts that backed up go out as one message, in order; summaries and notes join the transcript. `pace`:
   * its token is taken here, after the check of a post taken over, and first in line (it waited out a lease).
   */
  private async postInThread(
    record: AlertRecord,
    items: OutboxItem[],
    plan: PostPlan,
    pace = false,
  ): Promise<Completion> {
    const posts = items.flatMap((item) => (item.effect.type === 'PostInThread' ? [item.effect] : []));
    if (!record.ts || posts.length === 0) return {};
    if (pace && !plan.posted) await this.ctx.pacer.take('chat.postMessage', record.channelId, () => true, true);
    // Cut to Slack's limit after quoting and escaping: a long relay or details post goes out as several messages.
    const texts = posts.map((post) => threadText(post.kind, post.text, record, this.ctx.mention));
    await postParts(
      this.ctx,
      { channel: record.channelId, threadTs: record.ts },
      packMessages(texts, RELAY_SEPARATOR),
      plan,
    );
    const at = this.ctx.now();
    // Summaries and notes go into the transcript too: it is the case file, and what `irbot chat` shows.
    const transcript = posts.flatMap((post): TranscriptEntry[] => {
      if (post.kind === 'summary') {
        return [{ from: 'system', text: /^summary\b/i.test(post.text) ? post.text : `Summary: ${post.text}`, at }];
      }
      if (post.kind === 'note') return [{ from: 'system', text: post.text, at }];
      return [];
    });
    return { transcript };
  }

  private async perform(record: AlertRecord, effect: Effect, plan: PostPlan): Promise<Completion> {
    const { slack, llm } = this.ctx.ports;
    switch (effect.type) {
      case 'UpdateAlert':
        if (!record.ts) return {};
        await plan.fence?.();
        await slack.update({
          channel: record.channelId,
          ts: record.ts,
          text: alertHeadline(record),
          blocks: alertBlocks(record),
        });
        return {};
      case 'Greet':
      case 'Nudge': {
        const facts = await this.facts(record);
        const written =
          effect.type === 'Greet' ? await llm.greet(facts) : await llm.nudge(facts, linesOf(record.transcript));
        return {
          personName: facts.personName,
          next: [
            // Whoever wrote it (the model, the offline text), from the alert's text: no link of it reaches the person.
            { type: 'SendDm', text: withoutLinks(written.text), from: 'bot' },
            ...this.fallbackNote(record, written, effect.type === 'Greet' ? 'greeting' : 'nudge'),
          ],
        };
      }
      case 'SendDm': {
        const text = effect.from === 'analyst' ? `*Message from the security team:* ${effect.text}` : effect.text;
        if (!plan.posted) await this.ctx.pacer.take('chat.postMessage', record.userId);
        const ts = await postParts(this.ctx, { channel: record.userId }, splitMessage(escapeText(text)), plan);
        const by = effect.by ? { by: effect.by } : {};
        return {
          transcript: [{ from: effect.from, text: effect.text, at: this.ctx.now(), ...by, ...(ts ? { ts } : {}) }],
          next: [{ type: 'PostInThread', kind: 'sent', text: effect.text }],
        };
      }
      case 'PostInThread':
        return this.postInThread(record, [{ seq: 0, effect }], plan);
      case 'Classify': {
        // A newer reply came meanwhile, with its own Classify queued behind this one: only the latest verdict counts
        // (the engine drops this one's), so no LLM call is spent on it. A burst of replies costs one or two calls.
        if (effect.upTo < record.chat.personMessages) return {};
        const facts = await this.facts(record);
        const verdict = await llm.classify(facts, linesOf(record.transcript));
        const event: ChatEvent = {
          type: 'Classified',
          hasAnswered: verdict.hasAnswered,
          isAware: verdict.isAware,
          upTo: effect.upTo,
          at: this.ctx.now(),
          steering: verdict.steering,
          stepUp: this.ctx.stepUpApplies(record),
          ...(verdict.byRules ? { byRules: true } : {}),
          ...(alertSteers(facts) ? { alertSteering: true } : {}),
        };
        const note: Effect[] = verdict.fallbackReason
          ? [{ type: 'PostInThread', kind: 'note', text: classifyNote(verdict.fallbackReason) }]
          : [];
        if (verdict.fallbackReason) this.logFallback(record, 'judgement', verdict.fallbackReason);
        return { personName: facts.personName, events: [event], next: note };
      }
      case 'Summarise': {
        const facts = await this.facts(record);
        const written = await llm.summarise(facts, linesOf(record.transcript), {
          outcome: record.chat.outcome ?? 'open',
          aware: record.chat.aware,
          needsReview: needsReview(record.chat),
        });
        return {
          next: [
            { type: 'PostInThread', kind: 'summary', text: written.text },
            ...this.fallbackNote(record, written, 'summary'),
            // An escalated alert's ping is queued already, and says the same and more.
            ...(effect.escalate && !record.escalation
              ? [{ type: 'PostInThread', kind: 'escalation', text: '' } as const]
              : []),
          ],
        };
      }
      case 'StartNext':
      case 'StartPush':
      case 'PollPush':
        return {};
    }
  }

  /** When the text is the offline fallback, the thread says so. */
  private fallbackNote(record: AlertRecord, written: Written, task: string): Effect[] {
    if (!written.fallbackReason) return [];
    this.logFallback(record, task, written.fallbackReason);
    return [
      {
        type: 'PostInThread',
        kind: 'note',
        text: `The LLM was unavailable (${written.fallbackReason}), so irbot used its offline template for this ${task}.`,
      },
    ];
  }

  private logFallback(record: AlertRecord, task: string, reason: string): void {
    this.ctx.ports.log(`alert ${record.id}: LLM ${task} fell back to the offline text (${reason})`, {
      event: 'llm_fallback',
      alert: record.id,
      level: 'warn',
    });
  }

  private async facts(record: AlertRecord): Promise<AlertFacts> {
    let personName = record.personName;
    if (!personName) {
      try {
        personName = await this.ctx.whenSlackAllows('users.info', undefined, () =>
          this.ctx.ports.slack.userName(record.userId),
        );
      } catch (err) {
        this.ctx.ports.log(`users.info ${record.userId} failed, using the user ID as name: ${oneLine(err)}`, {
          event: 'name_lookup_failed',
          alert: record.id,
          level: 'warn',
        });
        personName = record.userId;
      }
    }
    return { name: record.name, description: record.description, properties: record.properties, personName };
  }
}

/** The lines the LLM sees: all but irbot's own notes. The entries themselves, not copies: chats can be long. */
function linesOf(transcript: TranscriptEntry[]): Line[] {
  const lines: Line[] = [];
  for (const entry of transcript) if (isSaid(entry)) lines.push(entry);
  return lines;
}

function isSaid(entry: TranscriptEntry): entry is TranscriptEntry & Line {
  return entry.from !== 'system';
}

function classifyNote(reason: string): string {
  if (reason === MALFORMED_CLASSIFICATION) {
    return 'The LLM answered the classification in a malformed way; irbot counted the reply as not answered yet.';
  }
  return `The LLM could not judge this reply (${reason}); irbot used its offline rules instead.`;
}
