// The Socket Mode connection: ack every envelope at once, decode it, hand it on; stop cleanly.
import type * as SocketMode from '@slack/socket-mode';
import type { AppsConnectionsOpenResponse, RetryOptions } from '@slack/web-api';
import { requireCjs } from '../cjs.js';
import { type Log, oneLine, slackLogger } from '../log.js';
import { decodeEnvelope, type Inbound } from './envelope.js';
import { requestFailureOf, SlackCallError, withApiUrl } from './errors.js';
import { ONE_SHOT_TIMEOUT_MS } from './web-slack.js';

const { SocketModeClient } = requireCjs('@slack/socket-mode') as typeof SocketMode;

/** The SDK's socket, as far as the patch below uses it (its internals: @slack/socket-mode is pinned). */
interface SdkWebSocket {
  websocket: unknown;
  closeHandshakeTimeout?: NodeJS.Timeout;
  disconnect(): void;
}
const { SlackWebSocket } = requireCjs('@slack/socket-mode/dist/src/SlackWebSocket.js') as {
  SlackWebSocket: { prototype: SdkWebSocket };
};
// Each close starts a 30 s wait for Slack's close frame, which only cleanup() clears. Closing a connection still
// opening fails it at once, and the failure closes and cleans it up again before the first close has set its wait:
// that wait, set after the cleanup, then held a stopped process for 30 s. One wait at a time, none once cleaned up.
const sdkDisconnect = SlackWebSocket.prototype.disconnect;
SlackWebSocket.prototype.disconnect = function disconnect(this: SdkWebSocket) {
  clearTimeout(this.closeHandshakeTimeout);
  sdkDisconnect.call(this);
  if (this.websocket === null) clearTimeout(this.closeHandshakeTimeout);
};

export interface SocketEnvelope {
  envelopeId: string;
  retryAttempt: number;
}

export interface SocketConnection {
  start(): Promise<void>;
  /** Settles with the error once Slack refused a reconnect for good: no more envelopes will come. */
  lost: Promise<unknown>;
  /** Stops taking envelopes, waits for the ones in flight, disconnects. */
  stop(): Promise<void>;
}

/**
 * The SDK's client, except that a malformed frame (e.g. an events_api envelope without a payload) is acked, logged
 * and dropped: the SDK itself would throw inside its listener and take the process down.
 */
class GuardedSocketModeClient extends SocketModeClient {
  onMalformed: (envelopeId: string | undefined, err: unknown) => void = () => undefined;
  /** A reconnect Slack refused for good (invalid_auth, account_inactive…): the SDK would leave it unhandled. */
  onLost: (err: unknown) => void = () => undefined;
  private connected = false;
  private stopping = false;

  constructor(options: ConstructorParameters<typeof SocketModeClient>[0]) {
    super(options);
    // A reconnect already asking Slack for a URL when disconnect() is called would open a new connection once the
    // answer came (the SDK only checks for a shutdown before asking), and the process would never exit: drop it.
    const sdkRetrieve = (this as unknown as SdkReconnect).retrieveWSSURL.bind(this);
    (this as unknown as SdkReconnect).retrieveWSSURL = async () => {
      const url = await sdkRetrieve();
      if (this.stopping) throw new Error('disconnected while reconnecting');
      return url;
    };
    // After a healthy connection closes (Slack asked for a reconnect, or the link dropped), the SDK waits its ping
    // timeout (5 s) before the first attempt, and no event arrives meanwhile: make that attempt at once. The SDK's
    // growing delay applies from the second attempt in a row. Its internals: @slack/socket-mode is pinned.
    const sdk = this as unknown as SdkReconnect;
    const delayed = sdk.delayReconnectAttempt.bind(this);
    sdk.delayReconnectAttempt = (retry) => {
      if (sdk.numOfConsecutiveReconnectionFailures > 0) return delayed(retry);
      const pingTimeout = sdk.clientPingTimeoutMS;
      sdk.clientPingTimeoutMS = 0; // read once, to compute the delay, before the SDK's timer is set
      try {
        return delayed(retry);
      } finally {
        sdk.clientPingTimeoutMS = pingTimeout;
      }
    };
  }

  override async start(): Promise<AppsConnectionsOpenResponse> {
    // The SDK reconnects by calling start() again from a timer and does not catch what it throws.
    if (!this.connected) {
      const opened = await super.start();
      this.connected = true;
      return opened;
    }
    try {
      return await super.start();
    } catch (err) {
      // Stopping, a reconnect that failed (or was dropped) loses nothing.
      if (!this.stopping) this.onLost(err);
      return {} as AppsConnectionsOpenResponse;
    }
  }

  override disconnect(): Promise<void> {
    this.stopping = true;
    return super.disconnect();
  }

  protected override async onWebSocketMessage(data: string | ArrayBuffer, isBinary: boolean): Promise<void> {
    try {
      await super.onWebSocketMessage(data, isBinary);
    } catch (err) {
      const envelopeId = envelopeIdOf(data);
      // `send` is how the SDK acks; it is private in the typings only.
      const ack = (this as unknown as { send(id: string): Promise<void> }).send.bind(this);
      if (envelopeId) await ack(envelopeId).catch(() => undefined);
      this.onMalformed(envelopeId, err);
    }
  }
}

/** What the SDK keeps private in its typings and uses to time a reconnect (delay = ping timeout × failures). */
interface SdkReconnect {
  numOfConsecutiveReconnectionFailures: number;
  clientPingTimeoutMS: number;
  delayReconnectAttempt(retry: () => Promise<unknown>): Promise<unknown>;
  retrieveWSSURL(): Promise<string>;
}

function envelopeIdOf(data: string | ArrayBuffer): string | undefined {
  try {
    const frame: unknown = JSON.parse(typeof data === 'string' ? data : new TextDecoder().decode(data));
    const id = (frame as { envelope_id?: unknown } | null)?.envelope_id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
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
}): SocketConnection {
  let starting = true;
  // The SDK's own policy for apps.connections.open (it reconnects for hours), except that a one-shot command's
  // first connection fails at once on a request that got no answer: it then says which URL it could not reach.
  const retryConfig = {
    retries: 100,
    factor: 1.3,
    onFailedAttempt: (err: unknown) => {
      if (starting && requestFailureOf(err)) throw err;
    },
  };
  const client = new GuardedSocketModeClient({
    appToken: opts.appToken,
    clientOptions: {
      slackApiUrl: opts.slackApiUrl,
      ...(opts.oneShot ? { retryConfig: retryConfig as RetryOptions, timeout: ONE_SHOT_TIMEOUT_MS } : {}),
    },
    logger: slackLogger(opts.log, 'socket'),
  });
  let lose: (err: unknown) => void = () => undefined;
  const lost = new Promise<unknown>((resolve) => {
    lose = resolve;
  });
  let isLost = false;
  client.onLost = (err) => {
    isLost = true;
    lose(err);
  };
  client.onMalformed = (envelopeId, err) =>
    opts.log(`ignored: malformed envelope ${envelopeId ?? '(no envelope_id)'}: ${oneLine(err)}`, {
      event: 'ignored',
      level: 'warn',
    });
  const inFlight = new Set<Promise<void>>();
  let stopping = false;

  client.on(
    'slack_event',
    async (args: {
      ack: () => Promise<void>;
      envelope_id: string;
      type: string;
      body: unknown;
      retry_num?: number;
    }) => {
      if (stopping) return; // not acked: Slack re-delivers it to another connection
      let acked = false;
      const ack = async () => {
        if (acked) return;
        acked = true;
        // Slack re-delivers anything not acked within 3 seconds.
        await args.ack().catch((err) =>
          opts.log(`could not ack envelope ${args.envelope_id}: ${oneLine(err)}`, {
            event: 'ack_failed',
            level: 'warn',
          }),
        );
      };
      const inbound = decodeEnvelope(args.type, args.body);
      const work = opts
        .handle(inbound, ack, { envelopeId: args.envelope_id, retryAttempt: args.retry_num ?? 0 })
        .catch((err) =>
          opts.log(`envelope ${args.envelope_id}: ${oneLine(err)}`, { event: 'envelope_failed', level: 'error' }),
        );
      inFlight.add(work);
      await work;
      inFlight.delete(work);
    },
  );

  return {
    async start() {
      try {
        await client.start();
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
      await Promise.allSettled([...inFlight]);
      // A lost connection has no socket left to close: disconnect() would wait for a close that never comes.
      if (!isLost) await client.disconnect();
    },
  };
}
