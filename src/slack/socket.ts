// The Socket Mode connection (https://docs.slack.dev/apis/events-api/using-socket-mode): apps.connections.open gives
// a one-time WebSocket URL; Slack says `hello` once the connection is ready, sends envelopes that must be acked by
// id within 3 s ({"envelope_id": …}) or go to another connection, and `disconnect` when it wants a fresh one.
//
// Written on `ws` rather than @slack/socket-mode: that client needed four patches of its internals (a 30 s wait
// for a close handshake after stopping, a reconnect opened after stopping, a 5 s pause before every reconnect, a
// malformed frame or a refused reconnect thrown where nothing caught it), and loaded a second HTTP stack (undici,
// a seventh of every start-up). Its reconnect policy is kept: the first attempt at once, then 5 s more per failure.
import type * as WebApi from '@slack/web-api';
import type * as Ws from 'ws';
import { requireCjs } from '../cjs.js';
import { type Log, oneLine, slackLogger } from '../log.js';
import { ACK_WITHIN_MS, decodeEnvelope, describeInbound, type Inbound } from './envelope.js';
import { APP_TOKEN_REFUSALS, requestFailureOf, SlackCallError, withApiUrl } from './errors.js';
import { ONE_SHOT_TIMEOUT_MS } from './web-slack.js';

const { WebClient } = requireCjs('@slack/web-api') as typeof WebApi;
const { WebSocket } = requireCjs('ws') as typeof Ws;

/** apps.connections.open errors no retry fixes: the app-level token is wrong, revoked, or its workspace gone. */
const REFUSED_FOR_GOOD = new Set([
  ...APP_TOKEN_REFUSALS,
  'no_permission',
  'user_removed_from_team',
  'team_disabled',
  // Socket Mode turned off for the app (a disconnect before hello): no connection will get events.
  'link_disabled',
]);
/** The client's clocks; tests shorten them. */
export interface SocketTiming {
  /** Between reconnect attempts that failed in a row: this much more per failure (at most RETRY_MOST_MS). */
  retryStepMs: number;
  /** A connection is pinged this often, and given up (and replaced) when nothing came back for `silentMs`. */
  pingEveryMs: number;
  silentMs: number;
  /** A button press not recorded in this time is acked anyway (ACK_WITHIN_MS). */
  pressAckMs: number;
}
const TIMING: SocketTiming = { retryStepMs: 5_000, pingEveryMs: 2_500, silentMs: 10_000, pressAckMs: ACK_WITHIN_MS };
const RETRY_MOST_MS = 60_000;
/** An upgrade Slack does not answer in this time, or a connection it does not greet, is given up and tried again. */
const HANDSHAKE_MS = 10_000;
/** A one-shot command (chat) gives up on connecting after this many attempts, and says why. */
const ONE_SHOT_ATTEMPTS = 3;
/** How long a stopping process waits for Slack to answer its close frame before it drops the connection. */
const CLOSE_WAIT_MS = 2_000;

export interface SocketEnvelope {
  envelopeId: string;
  retryAttempt: number;
}

export interface SocketConnection {
  /** Resolves once the first connection is open (Slack said hello); rejects when Slack refuses it. */
  start(): Promise<void>;
  /** Settles with the error once Slack refused a reconnect for good: no more envelopes will come. */
  lost: Promise<unknown>;
  /** Stops taking envelopes, waits for the ones in flight, disconnects. */
  stop(): Promise<void>;
}

/** A frame as Slack sends it: hello, disconnect, or an envelope. */
interface Frame {
  type?: unknown;
  envelope_id?: unknown;
  payload?: unknown;
  retry_attempt?: unknown;
  reason?: unknown;
}

/** An attempt to connect that stop() made pointless (start() rejects with it when stopped while connecting). */
export class Stopping extends Error {
  override readonly name = 'Stopping';

  constructor() {
    super('Socket Mode connection stopped');
  }
}

export function connectSocket(opts: {
  appToken: string;
  slackApiUrl: string;
  /** A one-shot command (chat): a Slack it cannot reach is reported within about 30 s, not retried for hours. */
  oneShot?: boolean;
  log: Log;
  /** Must call `ack` once what arrived is safe in the store, before slow work. */
  handle: (inbound: Inbound, ack: () => Promise<void>, envelope: SocketEnvelope) => Promise<void>;
  timing?: Partial<SocketTiming>;
}): SocketConnection {
  const { retryStepMs, pingEveryMs, silentMs, pressAckMs } = { ...TIMING, ...opts.timing };
  let starting = true;
  let stopping = false;
  // The SDK's policy for apps.connections.open (100 tries, growing by 1.3: hours), except that a one-shot command's
  // first connection fails at once on a request that got no answer (it then says which URL it could not reach), and
  // that a stopping process tries no more.
  const web = new WebClient(opts.appToken, {
    slackApiUrl: opts.slackApiUrl,
    logger: slackLogger(opts.log, 'socket'),
    timeout: opts.oneShot ? ONE_SHOT_TIMEOUT_MS : 30_000,
    retryConfig: {
      retries: 100,
      factor: 1.3,
      onFailedAttempt: (err: unknown) => {
        if (stopping || (opts.oneShot && starting && requestFailureOf(err))) throw err;
      },
    } as WebApi.RetryOptions,
  });
  const sockets = new Set<Ws.WebSocket>();
  /** Connections Slack told to go (`disconnect`): replaced once, their close starts no reconnect. */
  const retired = new WeakSet<Ws.WebSocket>();
  const inFlight = new Set<Promise<void>>();
  /** Envelopes taken and not acked yet (nor failed): a stop waits for these, then closes, then for the rest. */
  const unacked = new Set<Promise<void>>();
  let lose: (err: unknown) => void = () => undefined;
  const lost = new Promise<unknown>((resolve) => {
    lose = resolve;
  });
  /** End the pauses between reconnect attempts early (stop). */
  const wakers = new Set<() => void>();

  /** One attempt: a URL from Slack, then a connection, resolved once Slack says hello on it. */
  async function open(): Promise<void> {
    const { url } = await web.apps.connections.open();
    if (stopping) throw new Stopping();
    if (!url) throw new Error('apps.connections.open answered without a URL');
    const ws = new WebSocket(url, { handshakeTimeout: HANDSHAKE_MS, perMessageDeflate: false });
    sockets.add(ws);
    await new Promise<void>((resolve, reject) => {
      let greeted = false;
      let heard = Date.now();
      let ticked = heard;
      let failure: Error | undefined;
      // Upgraded but never greeted: given up, as an upgrade that never came is (handshakeTimeout).
      const helloDeadline = setTimeout(() => ws.terminate(), HANDSHAKE_MS);
      const pinger = setInterval(() => {
        const now = Date.now();
        // A tick this late means this process was not running (paused, or the machine asleep), not that the link
        // is dead: what Slack sent meanwhile is still to be read. Judge again at the next tick.
        const late = now - ticked > 2 * pingEveryMs;
        ticked = now;
        if (ws.readyState !== WebSocket.OPEN) return; // opening: the handshake has its own timeout
        if (late || now - heard <= silentMs) ws.ping();
        else {
          opts.log(`Socket Mode: nothing from Slack for ${silentMs / 1000} s: reconnecting`, {
            event: 'socket',
            level: 'warn',
          });
          ws.terminate();
        }
      }, pingEveryMs);
      const alive = () => {
        heard = Date.now();
      };
      ws.on('pong', alive);
      ws.on('ping', alive);
      ws.on('error', (err) => {
        failure = err;
      });
      ws.on('message', (data: Ws.RawData, isBinary: boolean) => {
        alive();
        const frame = isBinary ? undefined : parseFrame(data);
        if (frame?.type === 'hello' && !greeted) {
          greeted = true;
          clearTimeout(helloDeadline);
          resolve();
        } else if (frame?.type === 'disconnect' && !greeted) {
          // Before hello (Slack does: too_many_websockets): this connection never was. The loop that is opening it
          // tries again, after its pause; a reconnect started here too would be a second loop, and connections would
          // pile up with each refusal.
          retired.add(ws);
          failure = disconnectedBeforeHello(frame.reason);
          ws.close(1000);
        } else if (frame?.type === 'disconnect') {
          onDisconnect(ws, frame.reason);
        } else if (frame && typeof frame.envelope_id === 'string') {
          receive(ws, frame.envelope_id, frame);
        }
      });
      ws.on('close', () => {
        clearInterval(pinger);
        clearTimeout(helloDeadline);
        sockets.delete(ws);
        if (!greeted) reject(failure ?? new Error('Socket Mode connection closed before Slack said hello'));
        else if (!stopping && !retired.has(ws)) void reconnect();
      });
    });
  }

  /**
   * Slack is about to recycle a connection: a new one first, so that no envelope waits for it; the old one takes no
   * more envelopes from Slack and is closed once the new one is open (what is acked meanwhile goes on any open
   * connection). `link_disabled`: Socket Mode was turned off for the app, and no connection will get events.
   * `too_many_websockets`: the app has more than Slack's 10 connections; the new one waits a while, so that
   * replicas over the limit do not take turns knocking each other off.
   */
  function onDisconnect(old: Ws.WebSocket, reason: unknown): void {
    if (stopping || retired.has(old)) return;
    retired.add(old);
    if (reason === 'link_disabled') {
      lose(new Error('Slack turned Socket Mode off for this app (disconnect: link_disabled)'));
      old.close(1000);
      return;
    }
    let first = Promise.resolve();
    if (reason === 'too_many_websockets') {
      opts.log(
        `Socket Mode: Slack says this app has too many connections (at most 10): reconnecting in ${retryStepMs / 1000} s; run fewer replicas, or take events over HTTP`,
        { event: 'socket', level: 'warn' },
      );
      first = pause(retryStepMs);
    }
    void first.then(reconnect).finally(() => old.close(1000));
  }

  /**
   * Opens a connection, trying again after a growing pause until one opens; rejects with Slack's refusal, or with
   * Stopping once stop() came.
   */
  async function openRetrying(what: string, attempts = Number.POSITIVE_INFINITY): Promise<void> {
    for (let failures = 0; ; failures++) {
      if (failures > 0) await pause(Math.min(retryStepMs * failures, RETRY_MOST_MS));
      if (stopping) throw new Stopping();
      try {
        await open();
        return;
      } catch (err) {
        if (stopping) throw new Stopping();
        if (!retriable(err) || failures + 1 >= attempts) throw err;
        opts.log(`Socket Mode: ${what} failed: ${oneLine(err)}`, { event: 'socket', level: 'warn' });
      }
    }
  }

  async function reconnect(): Promise<void> {
    try {
      await openRetrying('reconnecting');
    } catch (err) {
      // Nothing will come any more: the process finishes its work and says why (listen.ts).
      if (!(err instanceof Stopping)) lose(err);
    }
  }

  function pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      wakers.add(wake);
    });
  }

  /** An envelope: acked once handled far enough (see `handle`), or at once when it cannot be. */
  function receive(ws: Ws.WebSocket, envelopeId: string, frame: Frame): void {
    if (stopping) return; // not acked: Slack re-delivers it to another connection
    let acked = false;
    let answered: () => void = () => undefined;
    const answer = new Promise<void>((resolve) => {
      answered = resolve;
    });
    unacked.add(answer);
    void answer.then(() => unacked.delete(answer));
    let pressTimer: NodeJS.Timeout | undefined;
    const ack = async () => {
      if (acked) return;
      acked = true;
      clearTimeout(pressTimer);
      // Slack re-delivers anything not acked within 3 seconds. On the connection it came on, or, once that one is
      // closed (replaced after Slack's disconnect, or silent), on the newest open one: envelope ids are the app's.
      const via =
        ws.readyState === WebSocket.OPEN ? ws : [...sockets].reverse().find((s) => s.readyState === WebSocket.OPEN);
      await send(via ?? ws, JSON.stringify({ envelope_id: envelopeId, payload: {} })).catch((err) =>
        opts.log(`could not ack envelope ${envelopeId}: ${oneLine(err)}`, { event: 'ack_failed', level: 'warn' }),
      );
      answered();
    };
    const inbound =
      typeof frame.payload === 'object' && frame.payload !== null && typeof frame.type === 'string'
        ? decodeEnvelope(frame.type, frame.payload)
        : undefined;
    // A press waiting on Slack (its responder group, the person's zone) is acked before Slack's 3 s are up: Slack
    // never re-delivers a click, so a late ack would only show the clicker an error for a press applied anyway.
    if (inbound?.kind === 'button') {
      pressTimer = setTimeout(() => {
        opts.log(`${describeInbound(inbound)}: not recorded within ${pressAckMs} ms, acked; applied once it is`, {
          event: 'press_acked_early',
          level: 'warn',
        });
        void ack();
      }, pressAckMs);
    }
    const work = inbound
      ? opts.handle(inbound, ack, {
          envelopeId,
          retryAttempt: typeof frame.retry_attempt === 'number' ? frame.retry_attempt : 0,
        })
      : ack().then(() =>
          opts.log(`ignored: malformed envelope ${envelopeId}: no type or payload`, {
            event: 'ignored',
            level: 'warn',
          }),
        );
    const logged = work.catch((err) =>
      opts.log(`envelope ${envelopeId}: ${oneLine(err)}`, { event: 'envelope_failed', level: 'error' }),
    );
    inFlight.add(logged);
    void logged.then(() => {
      clearTimeout(pressTimer);
      inFlight.delete(logged);
      answered();
    });
  }

  return {
    async start() {
      try {
        await openRetrying('connecting', opts.oneShot ? ONE_SHOT_ATTEMPTS : undefined);
        starting = false;
      } catch (err) {
        // No answer at all: say which URL could not be reached, and why.
        if (requestFailureOf(err)) throw new SlackCallError('apps.connections.open', withApiUrl(err, opts.slackApiUrl));
        throw err;
      }
    },
    lost,
    async stop() {
      stopping = true;
      for (const wake of [...wakers]) wake();
      // What was taken is acked (or failed) first; then the connections close, so that Slack hands what comes next
      // to another (or keeps it for the next start) rather than to a connection that takes nothing; then the slow
      // part of the work in flight (the LLM, Slack's posts) finishes, without a connection.
      await Promise.allSettled([...unacked]);
      await Promise.all([...sockets].map(close));
      await Promise.allSettled([...inFlight]);
    },
  };
}

/**
 * Whether another attempt may succeed: a connection that failed or closed before hello, or Slack's error other than
 * a refusal. A request error surfacing here has had its retries already (the WebClient's policy), and a refusal
 * is for good.
 */
/** Slack's `disconnect` on a connection not greeted yet; `link_disabled` is for good (no connection will do). */
function disconnectedBeforeHello(reason: unknown): Error {
  const why = typeof reason === 'string' ? reason : 'no reason given';
  const err = new Error(`Slack closed the Socket Mode connection before saying hello (disconnect: ${why})`);
  return reason === 'link_disabled' ? Object.assign(err, { data: { error: 'link_disabled' } }) : err;
}

function retriable(err: unknown): boolean {
  const code = (err as { code?: unknown; data?: { error?: unknown } } | null)?.data?.error;
  if (typeof code === 'string') return !REFUSED_FOR_GOOD.has(code);
  return !(err as { code?: unknown } | null)?.code?.toString().startsWith('slack_webapi_');
}

function parseFrame(data: Ws.RawData): Frame | undefined {
  try {
    const frame: unknown = JSON.parse(data.toString());
    return typeof frame === 'object' && frame !== null ? (frame as Frame) : undefined;
  } catch {
    return undefined;
  }
}

function send(ws: Ws.WebSocket, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (ws.readyState !== WebSocket.OPEN) reject(new Error('the Socket Mode connection is closed'));
    else ws.send(text, (err) => (err ? reject(err) : resolve()));
  });
}

/** Closes a connection: a close frame, and the connection dropped if Slack does not answer it soon. */
function close(ws: Ws.WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => ws.terminate(), CLOSE_WAIT_MS);
    ws.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    // One still opening has no handshake to close: it is dropped at once.
    if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
    else ws.close(1000);
  });
}
