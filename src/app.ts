// The App: one facade over the parts in src/app/ (intake, inbound events, lanes, effects, the sweep), built on one
// shared context of ports and options, so that any process can drive any chat through the store.

import type { Refusal } from './access.js';
import { type Ack, AppContext, type AppOptions, type Ports } from './app/context.js';
import { Effects } from './app/effects.js';
import type { Action, Applied } from './app/inbound.js';
import { InboundEvents } from './app/inbound.js';
import { Intake, type PostedAlert } from './app/intake.js';
import { Lanes } from './app/lanes.js';
import { Leases } from './app/leases.js';
import { Moves } from './app/moves.js';
import { Sweep } from './app/sweep.js';
import type { Actor } from './chat/types.js';
import type { AlertTemplate } from './config/types.js';
import type { Inbound } from './slack/envelope.js';
import type { AlertRecord, StoreData } from './store/port.js';

export { NOT_ALLOWED } from './access.js';
export { type Ack, type AppOptions, MAX_RATE_LIMITED_WAIT_MS, type Ports } from './app/context.js';
export { type Applied, SLACK_SNOOZE_MS, SLACK_SNOOZE_REASON } from './app/inbound.js';
export { AlertBusyError, AUTO_CHAT_ACTOR, type PostedAlert } from './app/intake.js';
export { IRBOT_SNOOZER } from './app/moves.js';
export { ARCHIVE_AFTER_MS, FAILED_ARCHIVE_AFTER_MS } from './app/sweep.js';
export { RELAY_SEPARATOR, snoozedText } from './app/thread-text.js';

export class App {
  private readonly ctx: AppContext;
  private readonly moves: Moves;
  private readonly lanes: Lanes;
  private readonly inbound: InboundEvents;
  private readonly intake: Intake;
  private readonly sweeper: Sweep;

  constructor(
    private readonly ports: Ports,
    options: AppOptions,
  ) {
    this.ctx = new AppContext(ports, options);
    this.moves = new Moves(this.ctx);
    const leases = new Leases(this.ctx);
    this.lanes = new Lanes(this.ctx, this.moves, new Effects(this.ctx), leases);
    this.inbound = new InboundEvents(this.ctx, this.moves, this.lanes);
    this.intake = new Intake(this.ctx, this.moves, this.lanes, this.inbound, leases);
    this.sweeper = new Sweep(this.ctx, this.moves, this.lanes, this.intake);
  }

  /** How long a claim of this App holds unless renewed (`lease_seconds`). */
  get leaseMs(): number {
    return this.ctx.claimant.leaseMs;
  }

  /** Stops polling pushes: what is under way is left queued for the next process (see step-up.ts). */
  halt(): void {
    this.ctx.halt();
  }

  /** Records a new alert instance and posts it (see Intake.postAlert). */
  postAlert(template: AlertTemplate, opts: { dedupeKey?: string; autoChat?: boolean } = {}): Promise<PostedAlert> {
    return this.intake.postAlert(template, opts);
  }

  /** Acts on one decoded Socket Mode envelope; `ack` once what arrived is safely in the store. */
  handleInbound(inbound: Inbound, ack?: Ack): Promise<void> {
    return this.inbound.handleInbound(inbound, ack);
  }

  /** Start, Start Chat now, Do Nothing or End, from a button or the terminal. */
  request(
    alertId: string,
    action: Action,
    by: Actor,
    dedupeKey?: string,
    ack?: Ack,
    refuse?: (record: AlertRecord) => Refusal | undefined,
  ): Promise<Applied> {
    return this.inbound.request(alertId, action, by, dedupeKey, ack, refuse);
  }

  /** A line typed by the analyst in `irbot chat`, sent to the person. */
  say(alertId: string, text: string, by: Actor): Promise<Applied> {
    return this.inbound.say(alertId, text, by);
  }

  /** Drains every outbox left unfinished, and posts the alerts left unposted. */
  recover(seen?: StoreData): Promise<void> {
    return this.sweeper.recover(seen);
  }

  /** What a serving process does now and then: recover and tick, from one read of the store. */
  sweep(): Promise<void> {
    return this.sweeper.sweep();
  }

  /** Lets time act: silent people are nudged, or their chats end as no answer. */
  tick(seen?: StoreData): Promise<void> {
    return this.sweeper.tick(seen);
  }

  /** Resolves when no delivery is being sent by this process. */
  async deliveriesIdle(): Promise<void> {
    await this.ports.deliveries?.idle();
  }

  /** Resolves when no effect is being performed by this process. */
  idle(): Promise<void> {
    return this.lanes.idle();
  }
}
