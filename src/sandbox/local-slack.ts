// A fake Slack workspace on 127.0.0.1: Web API, and events over Socket Mode or signed HTTP POSTs to a Request URL,
// close enough for the unmodified SDK clients and for irbot's HTTP receiver.

import { randomBytes, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { FailureQueues } from './failure-queues.js';
import {
  blockActions,
  type Envelope,
  envelopeOf,
  eventCallback,
  helloFrame,
  retryOf,
} from './local-slack-envelopes.js';
import { httpRequestOf, postEvent } from './local-slack-events-http.js';
import { bearer, type Failure, injected, isRecord, parseArgs, readBody } from './local-slack-http.js';
import { RateLimiter, type RateLimitOptions } from './local-slack-ratelimit.js';
import { type RecordedAck, Sockets } from './local-slack-sockets.js';
import type {
  ApiReply,
  ChannelSpec,
  FakeUser,
  FakeUsergroup,
  Identity,
  MessageNotice,
  StoredMessage,
} from './local-slack-types.js';
import { Waiters } from './local-slack-waiters.js';
import { Workspace } from './local-slack-workspace.js';

export type { Failure } from './local-slack-http.js';
export type { RateLimit, RateLimitOptions } from './local-slack-ratelimit.js';
export type { RecordedAck } from './local-slack-sockets.js';
export type { ChannelSpec, FakeUser, FakeUsergroup, MessageNotice, StoredMessage } from './local-slack-types.js';

export interface RecordedCall {
  method: string;
  args: Record<string, unknown>;
  token: string | undefined;
  at: number;
  /** The HTTP status and JSON body the local Slack answered with. */
  status: number;
  response: Record<string, unknown>;
}

export interface Delivery {
  envelopeId: string;
  eventId?: string;
  envelope: Record<string, unknown>;
  /** Index among the connections open when it was sent, as `to` counts (over HTTP: among the request URLs). */
  connection: number;
  /** Serial number of the connection, stable across reconnects of others (1 = first ever; 0 over HTTP). */
  connectionId: number;
  /** Over HTTP: the app's answer, once it came; 0 when none came within `httpTimeoutMs` or nothing listened. */
  status?: number;
}

export interface LocalSlackOptions {
  users?: FakeUser[];
  /** Default: DEFAULT_USERGROUPS. */
  usergroups?: FakeUsergroup[];
  channels?: ChannelSpec[];
  botUserId?: string;
  botId?: string;
  appId?: string;
  teamId?: string;
  botToken?: string;
  appToken?: string;
  pingIntervalMs?: number;
  redeliverAfterMs?: number | null;
  /** Default 0: a free port. */
  port?: number;
  /** Milliseconds since the epoch, for message timestamps. */
  now?: () => number;
  /** The bot token's granted scopes, reported in `x-oauth-scopes`; default: every scope irbot's manifest asks for. */
  scopes?: string[];
  /** Slack's published rate limits (429 with Retry-After when exceeded); default: no limits. */
  rateLimits?: RateLimitOptions;
  /** The app's Signing Secret: signs every event POSTed over HTTP (see `deliverOverHttp`). */
  signingSecret?: string;
  /** How long an HTTP event waits for the app's answer before it counts as failed; Slack's: 3 s. */
  httpTimeoutMs?: number;
  /**
   * Over HTTP, when an event's answer is not a 2xx or does not come in time: the delay before each retry, one per
   * retry (Slack's: at once, after 1 minute, after 5 minutes). Clicks are not retried, as Slack does not.
   */
  httpRetryDelaysMs?: number[];
}

export const DEFAULT_USERS: readonly FakeUser[] = [
  {
    id: 'U0HAROLD',
    name: 'harold',
    displayName: 'Harold',
    realName: 'Harold Smith',
    email: 'harold@example.com',
    tz: 'Europe/Paris',
  },
  // Without a time zone, as Slack gives some accounts: irbot reads his working hours in UTC.
  { id: 'U0HFINCH', name: 'harold.finch', displayName: '', realName: 'Harold Finch', email: 'finch@example.com' },
  {
    id: 'U0ALICE',
    name: 'alice',
    displayName: 'Alice',
    realName: 'Alice Ng',
    email: 'alice@example.com',
    tz: 'America/New_York',
  },
  {
    id: 'U0ANALYST',
    name: 'analyst',
    displayName: 'Sam Analyst',
    realName: 'Sam Analyst',
    email: 'sam@example.com',
    tz: 'Europe/London',
  },
];
/** The security team as a user group: the analyst is in it, Alice and Harold are not. */
export const DEFAULT_USERGROUPS: readonly FakeUsergroup[] = [
  { id: 'S0SECOPS', handle: 'secops', users: ['U0ANALYST'] },
];
export const FEED_CHANNEL: ChannelSpec = { id: 'C0FEED', name: 'security-alerts' };

// Slack re-delivers an unacknowledged event up to three times.
const MAX_RETRIES = 3;
const SLACK_HTTP_TIMEOUT_MS = 3_000;
const SLACK_HTTP_RETRY_DELAYS_MS = [0, 60_000, 300_000];
// Message subtypes that describe another message rather than add one to the conversation.
const NOT_STORED = new Set(['message_changed', 'message_deleted']);

export class LocalSlack {
  readonly apiUrl: string;
  readonly botToken: string;
  readonly appToken: string;
  readonly botUserId: string;
  readonly signingSecret: string;
  readonly calls: RecordedCall[] = [];
  readonly deliveries: Delivery[] = [];
  private readonly baseUrl: string;
  private readonly identity: Identity;
  private readonly workspace: Workspace;
  private readonly sockets: Sockets;
  private readonly waiters = new Waiters();
  private readonly emitter = new EventEmitter();
  private readonly failures = new FailureQueues<Failure>();
  /** Calls answered with `hang`: received, never answered, and applied only when `landed`. */
  readonly hung: RecordedCall[] = [];
  /** Answers the hung calls still open, as a slow Slack would at last: see `releaseHung`. */
  private readonly releases: Array<() => void> = [];
  /** Set when started with `rateLimits`: switch it off and on, read its 429 counts. */
  readonly rateLimiter: RateLimiter | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly eventPrefix = randomBytes(3).toString('hex').toUpperCase();
  private eventCount = 0;
  private closed = false;
  private readonly ackLog: RecordedAck[] = [];
  /** Set by `deliverOverHttp`: Socket Mode is off and events go to these URLs, in turn. */
  private requestUrls: string[] = [];
  private httpTurn = 0;

  static async start(options: LocalSlackOptions = {}): Promise<LocalSlack> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new LocalSlack(options, server);
  }

  private constructor(
    private readonly options: LocalSlackOptions,
    private readonly server: Server,
  ) {
    this.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    this.apiUrl = `${this.baseUrl}/api/`;
    this.identity = {
      teamId: options.teamId ?? 'T0LOCAL',
      botUserId: options.botUserId ?? 'U0IRBOT',
      botId: options.botId ?? 'B0IRBOT',
      appId: options.appId ?? 'A0IRBOT',
      botToken: options.botToken ?? 'xoxb-local-sandbox',
      appToken: options.appToken ?? 'xapp-local-sandbox',
    };
    this.botToken = this.identity.botToken;
    this.appToken = this.identity.appToken;
    this.botUserId = this.identity.botUserId;
    this.signingSecret = options.signingSecret ?? 'local-sandbox-signing-secret';
    this.rateLimiter = options.rateLimits ? new RateLimiter(options.rateLimits) : undefined;
    this.sockets = new Sockets({
      baseUrl: this.baseUrl,
      appId: this.identity.appId,
      pingIntervalMs: options.pingIntervalMs ?? 10_000,
      hello: (numConnections) => helloFrame(this.identity, numConnections),
      waiters: this.waiters,
      onAck: (ack) => {
        this.ackLog.push(ack);
        this.emitter.emit('ack', ack);
      },
      onCountChange: (count) => this.emitter.emit('connection', count),
    });
    this.workspace = new Workspace(
      this.identity,
      options.users ?? [...DEFAULT_USERS],
      options.channels ?? [FEED_CHANNEL],
      {
        openConnection: () => this.sockets.issueTicket(),
        changed: (notice) => this.emitter.emit('message', notice),
        ephemeral: (notice) => this.emitter.emit('ephemeral', notice),
        imEvent: (event) => this.echo(event),
      },
      options.now ?? Date.now,
      options.scopes?.join(','),
    );
    for (const group of options.usergroups ?? DEFAULT_USERGROUPS) this.workspace.usergroups.set(group.id, { ...group });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.onRequest(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: false, error: 'internal_error', detail: String(err) }));
      });
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.sockets.upgrade(req, socket, head),
    );
  }

  /** Socket Mode connections greeted with hello and neither closed nor told to reconnect. */
  get connectionCount(): number {
    return this.sockets.openCount;
  }

  /** Socket Mode connections ever greeted with hello, reconnects included. */
  get totalConnections(): number {
    return this.sockets.total;
  }

  /** Every ack received, in order: over HTTP, a 2xx answer (with connection id 0). */
  get acks(): readonly RecordedAck[] {
    return this.ackLog;
  }

  /**
   * Turns Socket Mode off for events and clicks: each is POSTed to `requestUrl` (the Request URL of Event
   * Subscriptions and of Interactivity), signed with `signingSecret`, and retried as Slack does; undefined turns
   * Socket Mode back on. Several URLs stand for replicas behind a load balancer: each request (a retry too) goes
   * to the next in turn, or to the one `to` names.
   */
  deliverOverHttp(requestUrl: string | readonly string[] | undefined): void {
    this.requestUrls = requestUrl === undefined ? [] : typeof requestUrl === 'string' ? [requestUrl] : [...requestUrl];
  }

  private get overHttp(): boolean {
    return this.requestUrls.length > 0;
  }

  /** Calls answered with 429 by the rate limits, per method. */
  get rateLimited(): Record<string, number> {
    return this.rateLimiter?.rateLimited ?? {};
  }

  callsTo(method: string): RecordedCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  async waitForCall(predicate: (c: RecordedCall) => boolean, timeoutMs = 10_000): Promise<RecordedCall> {
    let found: RecordedCall | undefined;
    const check = () => {
      found = this.calls.find(predicate);
      return found !== undefined;
    };
    await this.waiters.until(
      check,
      timeoutMs,
      () => `no matching Web API call within ${timeoutMs} ms; ${this.recentCalls()}`,
    );
    if (found === undefined) throw new Error('unreachable: waitForCall resolved without a call');
    return found;
  }

  /** Resolves once a call answered with `hang` has arrived. */
  async waitForHung(method: string, timeoutMs = 10_000): Promise<RecordedCall> {
    await this.waiters.until(
      () => this.hung.some((c) => c.method === method),
      timeoutMs,
      () => `no hung ${method} call within ${timeoutMs} ms; ${this.recentCalls()}`,
    );
    const call = this.hung.find((c) => c.method === method);
    if (call === undefined) throw new Error('unreachable: waitForHung resolved without a call');
    return call;
  }

  /** Answers every hung call still open as if it had not hung (a landed one with what it did); how many. */
  releaseHung(): number {
    const released = this.releases.splice(0);
    for (const release of released) release();
    return released.length;
  }

  waitForConnections(n: number, timeoutMs = 10_000): Promise<void> {
    return this.waiters.until(
      () => this.connectionCount >= n,
      timeoutMs,
      () => `${this.connectionCount} of ${n} Socket Mode connections open after ${timeoutMs} ms; ${this.recentCalls()}`,
    );
  }

  /** Until exactly `n` Socket Mode connections are left alive (open or told to reconnect) and `n` open. */
  waitForOnlyConnections(n: number, timeoutMs = 10_000): Promise<void> {
    return this.waiters.until(
      () => this.sockets.aliveCount === n && this.connectionCount === n,
      timeoutMs,
      () => `${this.sockets.aliveCount} Socket Mode connections alive, ${this.connectionCount} open, not ${n}`,
    );
  }

  waitForAck(delivery: Delivery, timeoutMs = 10_000): Promise<void> {
    return this.waiters.until(
      () => this.acks.some((a) => a.envelopeId === delivery.envelopeId),
      timeoutMs,
      () =>
        `envelope ${delivery.envelopeId} (${String(delivery.envelope.type)}) not acknowledged within ${timeoutMs} ms`,
    );
  }

  /** Makes a message look posted by another app (its own bot_id), as if it had copied irbot's metadata. */
  reassignToOtherApp(channel: string, ts: string, botId = 'B0OTHERAPP'): void {
    const message = this.workspace.find(channel, ts);
    if (!message) throw new Error(`LocalSlack: no message ${ts} in ${channel}`);
    message.bot_id = botId;
  }

  /** Every message in the channel, replies included, oldest first. */
  history(channel: string): StoredMessage[] {
    return structuredClone(this.workspace.messagesIn(channel));
  }

  /** The thread's parent and its replies, oldest first; empty when there is no such message. */
  thread(channel: string, threadTs: string): StoredMessage[] {
    const message = this.workspace.find(channel, threadTs);
    if (message === undefined) return [];
    const root = message.thread_ts ?? message.ts;
    return structuredClone(this.workspace.messagesIn(channel).filter((m) => m.ts === root || m.thread_ts === root));
  }

  /** Ephemeral messages, which Slack shows but never stores. */
  ephemerals(channel?: string): MessageNotice[] {
    return structuredClone(this.workspace.ephemerals.filter((m) => channel === undefined || m.channel === channel));
  }

  /** How Slack shows a person: display name, else real name, else user name; the id itself for strangers. */
  displayNameOf(userId: string): string {
    const user = this.workspace.users.get(userId);
    if (user === undefined) return userId;
    return user.displayName || user.realName || user.name || userId;
  }

  dmChannelOf(userId: string): string {
    const im = this.workspace.openIm(userId);
    if (im === undefined) throw new Error(`LocalSlack: no person ${userId} to have a DM with`);
    return im.id;
  }

  clickButton(args: {
    userId: string;
    actionId: string;
    value?: string;
    channel: string;
    messageTs: string;
    to?: number;
  }): Promise<Delivery> {
    const user = this.workspace.users.get(args.userId);
    const channel = this.workspace.channels.get(args.channel);
    const message = this.workspace.find(args.channel, args.messageTs);
    if (user === undefined || channel === undefined || message === undefined) {
      const what = user === undefined ? `user ${args.userId}` : `message ${args.messageTs} in ${args.channel}`;
      return Promise.reject(new Error(`LocalSlack.clickButton: no ${what}`));
    }
    const payload = blockActions(this.identity, {
      user,
      channel,
      message,
      actionId: args.actionId,
      value: args.value,
      actionTs: this.workspace.nextTs(),
      responseUrl: `${this.baseUrl}/actions/${randomUUID()}`,
    });
    return this.deliver(envelopeOf('interactive', payload), args.to);
  }

  /** A person writes to the bot: stored in their DM and delivered as Slack's `message.im` event. */
  /** A message timestamp of this workspace, later than every one before (for events built by hand). */
  nextTs(): string {
    return this.workspace.nextTs();
  }

  sendDm(args: {
    userId: string;
    text: string;
    subtype?: string;
    botId?: string;
    to?: number;
    extra?: Record<string, unknown>;
  }): Promise<Delivery> {
    const im = this.workspace.openIm(args.userId);
    if (im === undefined) return Promise.reject(new Error(`LocalSlack.sendDm: no person ${args.userId}`));
    const ts = this.workspace.nextTs();
    const event: Record<string, unknown> = {
      client_msg_id: randomUUID(),
      type: 'message',
      text: args.text,
      user: args.userId,
      ts,
      team: this.identity.teamId,
      channel: im.id,
      event_ts: ts,
      channel_type: 'im',
      ...(args.subtype !== undefined && { subtype: args.subtype }),
      ...(args.botId !== undefined && { bot_id: args.botId }),
      ...args.extra,
    };
    if (args.subtype === undefined || !NOT_STORED.has(args.subtype)) this.workspace.store(im, storedOf(event));
    return this.deliverEvent(event, args.to);
  }

  redeliver(delivery: Delivery, to?: number): Promise<Delivery> {
    return this.deliver(retryOf(delivery.envelope, this.overHttp ? 'http_timeout' : 'timeout'), to);
  }

  /** Sends an envelope as is, or any text frame, for tests of malformed input. */
  sendEnvelope(envelope: Record<string, unknown> | string, to?: number): Promise<Delivery> {
    return typeof envelope === 'string' ? this.deliver({ raw: envelope }, to, envelope) : this.deliver(envelope, to);
  }

  /** Asks every connection to reconnect, as Slack does before recycling a server. */
  disconnectAll(reason = 'refresh_requested'): void {
    this.sockets.disconnectAll(reason);
  }

  /** The next Socket Mode connection is left opening: its upgrade request is never answered. */
  holdNextConnection(): void {
    this.sockets.holdNextUpgrade();
  }

  /** Resolves once a connection held by `holdNextConnection` has asked to open. */
  waitForHeldConnection(timeoutMs = 10_000): Promise<void> {
    return this.waiters.until(
      () => this.sockets.held.length > 0,
      timeoutMs,
      () => `no Socket Mode connection asked to open within ${timeoutMs} ms; ${this.recentCalls()}`,
    );
  }

  /** Every Socket Mode connection goes silent: a link that died without a word (see Sockets.silenceAll). */
  silenceConnections(): void {
    this.sockets.silenceAll();
  }

  /** The next `n` Socket Mode connections are refused (503) although apps.connections.open gave their URL. */
  refuseNextConnections(n: number): void {
    this.sockets.refuseNextUpgrades(n);
  }

  /** Cuts every connection without a word, like a network failure. */
  dropAll(): void {
    this.sockets.dropAll();
  }

  failNext(method: string, failure: Failure, times = 1): void {
    this.failures.add(method, failure, times);
  }

  on(event: 'call', fn: (call: RecordedCall) => void): this;
  on(event: 'message', fn: (notice: MessageNotice) => void): this;
  on(event: 'ephemeral', fn: (notice: MessageNotice) => void): this;
  on(event: 'delivery', fn: (delivery: Delivery) => void): this;
  on(event: 'ack', fn: (ack: RecordedAck) => void): this;
  on(event: 'connection', fn: (connectionCount: number) => void): this;
  on(event: string, fn: (value: never) => void): this {
    this.emitter.on(event, fn as (value: unknown) => void);
    return this;
  }

  off(event: string, fn: (value: never) => void): this {
    this.emitter.off(event, fn as (value: unknown) => void);
    return this;
  }

  /** Closes every socket and the server; pending waits reject. Disconnect SocketModeClients first, or they retry. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.waiters.close();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.sockets.close();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.baseUrl);
    const body = await readBody(req);
    let method: string;
    let args: Record<string, unknown>;
    let reply: ApiReply | undefined;
    try {
      args = parseArgs(req.headers['content-type'], body, url.searchParams);
    } catch {
      args = { body };
      reply = { status: 200, body: { ok: false, error: 'invalid_json' }, headers: {} };
    }
    const token = bearer(req.headers.authorization) ?? (typeof args.token === 'string' ? args.token : undefined);
    delete args.token;
    if (url.pathname.startsWith('/actions/')) {
      method = 'response_url';
      reply ??= { status: 200, body: { ok: true }, headers: {} };
    } else if (url.pathname.startsWith('/api/')) {
      method = decodeURIComponent(url.pathname.slice('/api/'.length));
      const failure = this.failures.take(method, (f) => f.channel === undefined || f.channel === args.channel);
      if (failure?.hang && reply === undefined) {
        const done = failure.landed ? this.workspace.call(method, args, token) : undefined;
        this.hung.push({ method, args, token, at: Date.now(), status: 0, response: done?.body ?? {} });
        this.releases.push(() =>
          this.answer(res, method, args, token, done ?? this.workspace.call(method, args, token)),
        );
        this.waiters.wake();
        return;
      }
      reply ??=
        failure === undefined
          ? (this.limited(method, args) ?? this.workspace.call(method, args, token))
          : injected(failure);
    } else {
      res.writeHead(404).end();
      return;
    }
    this.answer(res, method, args, token, reply);
  }

  private answer(
    res: ServerResponse,
    method: string,
    args: Record<string, unknown>,
    token: string | undefined,
    reply: ApiReply,
  ): void {
    const call: RecordedCall = { method, args, token, at: Date.now(), status: reply.status, response: reply.body };
    this.calls.push(call);
    res.writeHead(reply.status, { 'content-type': 'application/json; charset=utf-8', ...reply.headers });
    res.end(JSON.stringify(reply.body));
    this.emitter.emit('call', call);
    this.waiters.wake();
  }

  /** A 429 when the call is over its rate limit; a refused call is not applied. */
  private limited(method: string, args: Record<string, unknown>): ApiReply | undefined {
    const limiter = this.rateLimiter;
    if (limiter === undefined) return undefined;
    let channel: string | undefined;
    if (limiter.limitOf(method)?.per === 'channel') {
      // A user ID stands for the DM with that user: the same channel, the same bucket.
      try {
        channel = this.workspace.channelFor(args.channel, true).id;
      } catch {
        channel = typeof args.channel === 'string' ? args.channel : undefined;
      }
    }
    const refusal = limiter.take(method, channel);
    return refusal && injected({ retryAfterSeconds: refusal.retryAfterSeconds });
  }

  private deliverEvent(event: Record<string, unknown>, to?: number): Promise<Delivery> {
    this.eventCount += 1;
    const eventId = `Ev${this.eventPrefix}${String(this.eventCount).padStart(4, '0')}`;
    return this.deliver(
      envelopeOf('events_api', eventCallback(this.identity, event, eventId, this.workspace.seconds())),
      to,
    );
  }

  /** Slack sends the bot its own DM messages too (message.im); with nobody connected the echo is dropped. */
  private echo(event: Record<string, unknown>): void {
    if (this.closed || (!this.overHttp && this.sockets.openCount === 0)) return;
    this.deliverEvent(event).catch(() => {});
  }

  private async deliver(envelope: Envelope, to: number | undefined, frame?: string): Promise<Delivery> {
    if (this.overHttp) return this.post(envelope, to, frame);
    const { index, connectionId } = await this.sockets.send(frame ?? JSON.stringify(envelope), to);
    const delivery = deliveryOf(envelope, index, connectionId);
    this.deliveries.push(delivery);
    this.emitter.emit('delivery', delivery);
    this.scheduleRedelivery(delivery);
    return delivery;
  }

  /** Over HTTP: POSTs the envelope, signed, and waits for the answer; a failed event is retried later. */
  private async post(envelope: Envelope, to: number | undefined, raw?: string): Promise<Delivery> {
    const index = to ?? this.httpTurn++ % this.requestUrls.length;
    const url = this.requestUrls[index];
    if (url === undefined) throw new Error(`LocalSlack: no request URL #${index}`);
    const request = httpRequestOf(envelope, this.signingSecret, Date.now() / 1000, raw);
    const answer = await postEvent(url, request, this.options.httpTimeoutMs ?? SLACK_HTTP_TIMEOUT_MS);
    const delivery: Delivery = { ...deliveryOf(envelope, index, 0), status: answer.status };
    this.deliveries.push(delivery);
    if (answer.failure === undefined) {
      const ack: RecordedAck = { envelopeId: delivery.envelopeId, connectionId: 0, at: Date.now() };
      this.ackLog.push(ack);
      this.emitter.emit('ack', ack);
    } else if (envelope.type === 'events_api') {
      this.retryOverHttp(delivery, answer.failure);
    }
    this.emitter.emit('delivery', delivery);
    this.waiters.wake();
    return delivery;
  }

  private retryOverHttp(delivery: Delivery, reason: string): void {
    const attempt = typeof delivery.envelope.retry_attempt === 'number' ? delivery.envelope.retry_attempt : 0;
    const delay = (this.options.httpRetryDelaysMs ?? SLACK_HTTP_RETRY_DELAYS_MS)[attempt];
    if (delay === undefined || attempt >= MAX_RETRIES) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.closed || !this.overHttp) return;
      this.post(retryOf(delivery.envelope, reason), undefined).catch(() => {});
    }, delay);
    this.timers.add(timer);
  }

  private scheduleRedelivery(delivery: Delivery): void {
    const after = this.options.redeliverAfterMs;
    const attempt = delivery.envelope.retry_attempt;
    if (after == null || delivery.envelopeId === '' || typeof attempt !== 'number' || attempt >= MAX_RETRIES) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.closed || this.acks.some((a) => a.envelopeId === delivery.envelopeId)) return;
      this.redeliver(delivery).catch(() => {});
    }, after);
    this.timers.add(timer);
  }

  private recentCalls(): string {
    const recent = this.calls
      .slice(-15)
      .map((c) => (c.response.ok === true ? c.method : `${c.method} (${failureOf(c)})`));
    return recent.length === 0 ? 'no Web API calls yet' : `recent calls: ${recent.join(', ')}`;
  }
}

function failureOf(call: RecordedCall): string {
  return typeof call.response.error === 'string' ? call.response.error : `HTTP ${call.status}`;
}

function storedOf(event: Record<string, unknown>): StoredMessage {
  const text = (key: string) => (typeof event[key] === 'string' ? { [key]: event[key] } : {});
  return {
    type: 'message',
    ts: String(event.ts),
    text: String(event.text ?? ''),
    ...text('thread_ts'),
    ...text('user'),
    ...text('bot_id'),
    ...text('subtype'),
    ...text('client_msg_id'),
    ...text('team'),
  };
}

/** The record of an envelope handed to connection (or request URL) `connection`. */
function deliveryOf(envelope: Envelope, connection: number, connectionId: number): Delivery {
  const payload = envelope.payload;
  const eventId = isRecord(payload) && typeof payload.event_id === 'string' ? payload.event_id : undefined;
  return {
    envelopeId: typeof envelope.envelope_id === 'string' ? envelope.envelope_id : '',
    ...(eventId !== undefined && { eventId }),
    envelope,
    connection,
    connectionId,
  };
}
