// A local sink receiver for the sandbox and the tests: checks each request's signature and timestamp as a real
// receiver should, records every attempt, and can be told to be down (503, or connections reset), to refuse
// (any status), or to hang, and then to come back up.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** A request older (or newer) than this is refused, as Slack's receivers do: a replayed request cannot pass. */
export const MAX_SKEW_SECONDS = 5 * 60;

export interface SinkRequest {
  /** The status answered; 0 when the connection was reset or the request is still held. */
  status: number;
  /** The Idempotency-Key header. */
  key: string;
  /** The body's `event` (`ping` for doctor's check), when it parsed. */
  event: string | undefined;
  body: unknown;
  raw: string;
  timestamp: string;
  signature: string;
  /** Why it was refused, when it was refused for its signature or timestamp. */
  refused?: string;
}

export type SinkMode =
  | { kind: 'up' }
  /** 503, with Retry-After in seconds when given. */
  | { kind: 'unavailable'; retryAfter?: number }
  /** Connections reset as they arrive: the receiver is not reachable. */
  | { kind: 'reset' }
  /** This status to every signed request (a 400 or 410: refused for good). */
  | { kind: 'status'; status: number }
  /** Requests wait unanswered until `release()` (or the mode changes). */
  | { kind: 'hold' };

export interface LocalSinkOptions {
  secret: string;
  /** The receiver's clock, in ms, for the timestamp check; default Date.now. */
  now?: () => number;
  /** Told of each request once it is answered (the sandbox shows it). */
  onAnswered?: (request: SinkRequest) => void;
}

/**
 * The verification a receiver does: the signature over `v1:<timestamp>:<raw body>` with the shared secret,
 * compared in constant time, and a timestamp within five minutes. Undefined when it passes, else why not.
 */
export function verifySignature(
  secret: string,
  headers: { timestamp: string; signature: string },
  raw: string,
  nowMs: number,
): string | undefined {
  const timestamp = Number(headers.timestamp);
  if (!/^\d+$/.test(headers.timestamp)) return 'no X-Irbot-Timestamp';
  if (Math.abs(nowMs / 1000 - timestamp) > MAX_SKEW_SECONDS) return 'stale X-Irbot-Timestamp';
  const expected = Buffer.from(
    `v1=${createHmac('sha256', secret).update(`v1:${headers.timestamp}:${raw}`).digest('hex')}`,
  );
  const given = Buffer.from(headers.signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'bad X-Irbot-Signature';
  return undefined;
}

export class LocalSink {
  /** Every request that reached the receiver, in order. */
  readonly requests: SinkRequest[] = [];
  private mode: SinkMode = { kind: 'up' };
  private readonly held: (() => void)[] = [];
  private readonly watchers = new Set<() => void>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
    private readonly options: LocalSinkOptions,
  ) {}

  static async start(options: LocalSinkOptions): Promise<LocalSink> {
    let sink: LocalSink | undefined;
    const server = createServer((req, res) => void sink?.handle(req, res));
    server.on('connection', (socket: Socket) => {
      if (sink?.mode.kind === 'reset') socket.resetAndDestroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    sink = new LocalSink(server, `http://127.0.0.1:${port}/irbot/events`, options);
    return sink;
  }

  /** The events accepted (2xx, signature good), doctor's pings left out: what a receiver would act on. */
  get delivered(): SinkRequest[] {
    return this.requests.filter((r) => r.status >= 200 && r.status < 300 && r.event !== 'ping');
  }

  get pings(): SinkRequest[] {
    return this.requests.filter((r) => r.status >= 200 && r.status < 300 && r.event === 'ping');
  }

  setMode(mode: SinkMode): void {
    this.mode = mode;
    if (mode.kind !== 'hold') this.release();
  }

  /** Answers the requests held so far (with what the mode now says, or 200 when still holding). */
  release(): void {
    for (const go of this.held.splice(0)) go();
  }

  /** Resolves once `test` holds of the requests so far; rejects after `timeoutMs` with what arrived. */
  waitFor(test: (requests: SinkRequest[]) => boolean, timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!test(this.requests)) return;
        clearTimeout(timer);
        this.watchers.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.watchers.delete(check);
        const seen = this.requests.map((r) => `${r.key || '-'} ${r.status}`).join(', ');
        reject(new Error(`local sink: timed out; requests so far: ${seen || 'none'}`));
      }, timeoutMs);
      this.watchers.add(check);
      check();
    });
  }

  async close(): Promise<void> {
    this.release();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const header = (name: string) => {
      const value = req.headers[name];
      return Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
    };
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      body = raw;
    }
    const event = (body as { event?: unknown } | null)?.event;
    const request: SinkRequest = {
      status: 0,
      key: header('idempotency-key'),
      event: typeof event === 'string' ? event : undefined,
      body,
      raw,
      timestamp: header('x-irbot-timestamp'),
      signature: header('x-irbot-signature'),
    };
    this.requests.push(request);
    this.notify();
    if (this.mode.kind === 'hold') await new Promise<void>((go) => this.held.push(go));
    const answer = (status: number, headers: Record<string, string> = {}) => {
      request.status = status;
      res
        .writeHead(status, { 'content-type': 'application/json', ...headers })
        .end(JSON.stringify({ ok: status < 300 }));
      this.notify();
      this.options.onAnswered?.(request);
    };
    const mode = this.mode;
    if (mode.kind === 'unavailable') {
      return answer(503, mode.retryAfter !== undefined ? { 'retry-after': String(mode.retryAfter) } : {});
    }
    if (mode.kind === 'reset') {
      req.socket.resetAndDestroy();
      return this.notify();
    }
    const refused = verifySignature(
      this.options.secret,
      { timestamp: request.timestamp, signature: request.signature },
      raw,
      (this.options.now ?? Date.now)(),
    );
    if (refused) {
      request.refused = refused;
      return answer(401);
    }
    answer(mode.kind === 'status' ? mode.status : 200);
  }

  private notify(): void {
    for (const watcher of [...this.watchers]) watcher();
  }
}
