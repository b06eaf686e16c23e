// The HTTP plumbing `listen`'s servers share (the alert webhook, Slack's HTTP events): bounded bodies, early
// answers that reach the client, binding with a fixable error, JSON answers.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../config/errors.js';

/** An answer decided before the work: status, the message for the body, and any headers (Retry-After, Allow…). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export interface BoundAddress {
  host: string;
  port: number;
  /** http://host:port, with an IPv6 host in brackets. */
  url: string;
}

/**
 * After an early answer (401, 413, 415…) the rest of the body is discarded, up to this much or this long, so that
 * the client reads the answer: closing a socket with unread data resets it, and the reset can destroy the answer.
 */
const LINGER_BYTES = 1024 * 1024;
const LINGER_MS = 2_000;

/** Reads the raw body, or throws 413 the moment it passes `max` bytes (at once when Content-Length says so). */
export function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const tooLarge = () => new HttpError(413, `request body is larger than ${max} bytes`);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        cleanup();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    // The client went away (or broke the stream) before its body ended: its answer, not a fault of ours.
    const onError = () => {
      cleanup();
      reject(new HttpError(400, 'the request ended before its body did'));
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/** Discards what is left of a body after an early answer, within LINGER_BYTES and LINGER_MS; then hangs up. */
export function linger(req: IncomingMessage): void {
  let discarded = 0;
  const hangUp = () => req.socket.destroy();
  const timer = setTimeout(hangUp, LINGER_MS).unref();
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > LINGER_BYTES) hangUp();
  });
  req.once('end', () => clearTimeout(timer));
  req.once('close', () => clearTimeout(timer));
  req.resume();
}

/** Writes `body` as JSON, never cached; `close` asks the client to hang up (the server is shutting down). */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: object,
  headers: Record<string, string> = {},
  close = false,
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    ...(close ? { connection: 'close' } : {}),
    ...headers,
  });
  res.end(text);
}

/** The path without the query (which may hold anything), shortened and on one line, for the log and routing. */
export function pathOf(req: IncomingMessage): string {
  const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
  return path.length > 100 ? `${path.slice(0, 100)}…` : path.replace(/[^\x21-\x7e]/g, '?');
}

/**
 * Binds `server`; a port in use, a privileged port or an address this machine does not have is a ConfigError
 * naming `option` (the command-line option that chose the address). `what` starts the message: `webhook`…
 */
export async function bind(
  server: Server,
  where: { host: string; port: number },
  what: string,
  option: string,
): Promise<BoundAddress> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(err, where, what, option)));
    server.listen(where.port, where.host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  return { host: bound.address, port: bound.port, url: `http://${host}:${bound.port}` };
}

function listenError(
  err: NodeJS.ErrnoException,
  { host, port }: { host: string; port: number },
  what: string,
  option: string,
): Error {
  const where = `${what}: cannot listen on ${host}:${port}`;
  switch (err.code) {
    case 'EADDRINUSE':
      return new ConfigError(`${where}: the port is in use (pick another in ${option}, or 0 for any)`);
    case 'EACCES':
      return new ConfigError(`${where}: permission denied (ports below 1024 need privileges)`);
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ConfigError(`${where}: no such address on this machine`);
    default:
      return err;
  }
}

/**
 * The answers a server is working on, and its graceful close: once `closing`, new requests are refused (the
 * handlers ask it); `close` stops taking connections, lets the answers in flight finish, then drops keep-alive
 * connections and any that never sent a request. Closing twice waits for the one close.
 */
export class InFlight {
  closing = false;
  private readonly work = new Set<Promise<unknown>>();
  private closed: Promise<void> | undefined;

  track(work: Promise<unknown>): void {
    this.work.add(work);
    // Settled either way: a rejection is its caller's to handle, never an unhandled one of this bookkeeping.
    const forget = () => this.work.delete(work);
    work.then(forget, forget);
  }

  close(server: Server): Promise<void> {
    this.closed ??= (async () => {
      this.closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      while (this.work.size > 0) await Promise.allSettled([...this.work]);
      server.closeAllConnections();
      await stopped;
    })();
    return this.closed;
  }
}
