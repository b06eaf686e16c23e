// A fake Duo Auth API v2 on 127.0.0.1 that checks each request's real signature: people with scripted phones
// (approve, deny, fraud, timeout, or wait for a test or the sandbox to answer), for `irbot sandbox` and the tests.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type DuoParams, isSignedBy } from '../verify/duo-sign.js';
import { FailureQueues } from './failure-queues.js';
import { readBody } from './local-slack-http.js';
import { Waiters } from './local-slack-waiters.js';

/**
 * How a person's Duo account and phone behave. `manual`: the push waits until `answer()` (the sandbox's
 * /approve and /deny); `approve` … `timeout`: the phone answers at once; `not_enrolled`: preauth says `enroll`;
 * `no_push_device`: enrolled with a phone that takes calls and texts only; `bypass`: preauth says `allow`;
 * `locked_out`: preauth says `deny`; `down`: every call about them answers HTTP 500.
 */
export type DuoBehaviour = 'manual' | PushAnswer | 'not_enrolled' | 'no_push_device' | 'bypass' | 'locked_out' | 'down';

/** What a person does with a push on their phone. */
export type PushAnswer = 'approve' | 'deny' | 'fraud' | 'timeout';

export interface DuoPush {
  txid: string;
  username: string;
  /** The pushinfo pairs the phone shows, decoded: `{from: 'irbot', alert: 'Pivoting', id: 'pivot-c55fc5'}`. */
  pushinfo: Record<string, string>;
  at: number;
  answer: PushAnswer | null;
}

export interface DuoCall {
  method: string;
  path: string;
  params: Record<string, string>;
  /** The request carried a valid signature. */
  signed: boolean;
  /** 0 for a call held without an answer (`failNext(path, {hang: true})`). */
  status: number;
  response: Record<string, unknown>;
  at: number;
}

/** An injected answer for the next calls to a path: an HTTP error in Duo's shape, or no answer at all. */
export type DuoFailure = { status: number; code?: number; message?: string } | { hang: true };

export interface LocalDuoOptions {
  /** Username → behaviour; anyone else is unknown to Duo, and preauth asks them to enroll. */
  users?: Record<string, DuoBehaviour>;
  integrationKey?: string;
  secretKey?: string;
  /** Milliseconds auth_status holds a request open for news of a waiting push, as Duo does; default 20 s. */
  longPollMs?: number;
  /** Default 0: a free port. */
  port?: number;
}

export const LOCAL_DUO_KEYS = {
  integrationKey: 'DILOCALSANDBOX000000',
  secretKey: 'local-duo-secret-key-0000000000000000000',
} as const;

const PUSH_PHONE = {
  device: 'DPLOCALPHONE00000001',
  type: 'phone',
  number: 'XXX-XXX-0100',
  name: 'iPhone',
  display_name: 'iPhone (XXX-XXX-0100)',
  capabilities: ['auto', 'push', 'sms', 'phone', 'mobile_otp'],
};
const LANDLINE = {
  device: 'DPLOCALLANDLINE00001',
  type: 'phone',
  number: 'XXX-XXX-0199',
  name: 'Desk phone',
  display_name: 'Landline (XXX-XXX-0199)',
  capabilities: ['phone'],
};
const STATUS_OF: Record<PushAnswer, { result: string; status: string; status_msg: string }> = {
  approve: { result: 'allow', status: 'allow', status_msg: 'Success. Logging you in...' },
  deny: { result: 'deny', status: 'deny', status_msg: 'Login request denied.' },
  fraud: { result: 'deny', status: 'fraud', status_msg: 'Login request reported as fraudulent.' },
  timeout: { result: 'deny', status: 'timeout', status_msg: 'Login timed out.' },
};

type Reply = { status: number; body: Record<string, unknown> };

export class LocalDuo {
  readonly apiUrl: string;
  readonly integrationKey: string;
  readonly secretKey: string;
  readonly calls: DuoCall[] = [];
  readonly pushes: DuoPush[] = [];
  private readonly users = new Map<string, DuoBehaviour>();
  private readonly failures = new FailureQueues<DuoFailure>();
  /** Pushes whose `pushed` status auth_status has already reported: the next poll waits for news. */
  private readonly reported = new Set<string>();
  /** Transactions of people in bypass: no phone ever sees them, and Duo allows them without asking. */
  private readonly bypassed = new Set<string>();
  private readonly emitter = new EventEmitter();
  private readonly waiters = new Waiters('LocalDuo');
  private readonly longPollMs: number;
  private closed = false;

  static async start(options: LocalDuoOptions = {}): Promise<LocalDuo> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new LocalDuo(options, server);
  }

  private constructor(
    options: LocalDuoOptions,
    private readonly server: Server,
  ) {
    this.apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    this.integrationKey = options.integrationKey ?? LOCAL_DUO_KEYS.integrationKey;
    this.secretKey = options.secretKey ?? LOCAL_DUO_KEYS.secretKey;
    this.longPollMs = options.longPollMs ?? 20_000;
    for (const [username, behaviour] of Object.entries(options.users ?? {})) this.users.set(username, behaviour);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.onRequest(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ stat: 'FAIL', code: 50000, message: 'Internal server error', detail: String(err) }));
      });
    });
  }

  setUser(username: string, behaviour: DuoBehaviour): void {
    this.users.set(username, behaviour);
  }

  /** The person answers their oldest waiting push; throws when they have none. */
  answer(username: string, answer: PushAnswer): DuoPush {
    const push = this.pendingPush(username);
    if (push === undefined) throw new Error(`LocalDuo.answer: ${username} has no push waiting`);
    push.answer = answer;
    this.emitter.emit('answer', push);
    this.waiters.wake();
    return structuredClone(push);
  }

  /** The person's oldest push still waiting for an answer, once there is one. */
  async waitForPush(username: string, timeoutMs = 10_000): Promise<DuoPush> {
    await this.waiters.until(
      () => this.pendingPush(username) !== undefined,
      timeoutMs,
      () => `no push waiting for ${username} within ${timeoutMs} ms; ${this.recentCalls()}`,
    );
    const push = this.pendingPush(username);
    if (push === undefined) throw new Error('unreachable: waitForPush resolved without a push');
    return structuredClone(push);
  }

  async waitForCall(predicate: (call: DuoCall) => boolean, timeoutMs = 10_000): Promise<DuoCall> {
    await this.waiters.until(
      () => this.calls.some(predicate),
      timeoutMs,
      () => `no matching call within ${timeoutMs} ms; ${this.recentCalls()}`,
    );
    const call = this.calls.find(predicate);
    if (call === undefined) throw new Error('unreachable: waitForCall resolved without a call');
    return call;
  }

  callsTo(path: string): DuoCall[] {
    return this.calls.filter((c) => c.path === path);
  }

  /** The next `times` calls to `path` (e.g. `/auth/v2/preauth`) fail this way. */
  failNext(path: string, failure: DuoFailure, times = 1): void {
    this.failures.add(path, failure, times);
  }

  on(event: 'push', fn: (push: DuoPush) => void): this;
  on(event: 'answer', fn: (push: DuoPush) => void): this;
  on(event: 'call', fn: (call: DuoCall) => void): this;
  on(event: string, fn: (value: never) => void): this {
    this.emitter.on(event, fn as (value: unknown) => void);
    return this;
  }

  off(event: string, fn: (value: never) => void): this {
    this.emitter.off(event, fn as (value: unknown) => void);
    return this;
  }

  /** Closes the server and every held request; pending waits reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.waiters.close();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private pendingPush(username: string): DuoPush | undefined {
    return this.pushes.find((p) => p.username === username && p.answer === null);
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.apiUrl);
    const body = await readBody(req);
    const method = req.method ?? 'GET';
    const params: Record<string, string> = Object.fromEntries(
      method === 'POST' ? new URLSearchParams(body) : url.searchParams,
    );
    const path = url.pathname;
    const signed = this.signatureOk(req, method, path, params);
    const failure = this.failures.take(path);
    if (failure !== undefined && 'hang' in failure) {
      // Recorded with status 0 and never answered; the connection closes with the server.
      this.record({ method, path, params, signed: signed.ok, status: 0, response: {}, at: Date.now() });
      return;
    }
    let reply: Reply;
    if (path === '/auth/v2/ping' && method === 'GET') {
      reply = ok({ time: Math.floor(Date.now() / 1000) });
    } else if (!signed.ok) {
      reply = signed.reply;
    } else if (failure !== undefined) {
      reply = fail(failure.status, failure.code, failure.message ?? 'Injected failure');
    } else {
      reply = await this.route(method, path, params);
    }
    const call: DuoCall = {
      method,
      path,
      params,
      signed: signed.ok,
      status: reply.status,
      response: reply.body,
      at: Date.now(),
    };
    if (!res.destroyed) {
      res.writeHead(reply.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(reply.body));
    }
    this.record(call);
  }

  private record(call: DuoCall): void {
    this.calls.push(call);
    this.emitter.emit('call', call);
    this.waiters.wake();
  }

  /** Duo's 401s: no credentials (40101), an unknown integration key (40102), a wrong signature (40103). */
  private signatureOk(
    req: IncomingMessage,
    method: string,
    path: string,
    params: DuoParams,
  ): { ok: true } | { ok: false; reply: Reply } {
    const authorization = req.headers.authorization;
    const date = req.headers.date;
    const decoded = /^Basic (.+)$/.exec(authorization ?? '')?.[1];
    if (decoded === undefined || date === undefined) {
      return { ok: false, reply: fail(401, 40101, 'Missing request credentials') };
    }
    const ikey = Buffer.from(decoded, 'base64').toString('utf8').split(':', 1)[0];
    if (ikey !== this.integrationKey) {
      return { ok: false, reply: fail(401, 40102, 'Invalid integration key in request credentials') };
    }
    const keys = { integrationKey: this.integrationKey, secretKey: this.secretKey };
    const host = req.headers.host ?? '';
    if (!isSignedBy(authorization, keys, { method, host, path, params, date })) {
      return { ok: false, reply: fail(401, 40103, 'Invalid signature in request credentials') };
    }
    return { ok: true };
  }

  private async route(method: string, path: string, params: Record<string, string>): Promise<Reply> {
    const routes: Record<string, [string, () => Reply | Promise<Reply>]> = {
      '/auth/v2/check': ['GET', () => ok({ time: Math.floor(Date.now() / 1000) })],
      '/auth/v2/preauth': ['POST', () => this.preauth(params)],
      '/auth/v2/auth': ['POST', () => this.auth(params)],
      '/auth/v2/auth_status': ['GET', () => this.authStatus(params)],
    };
    const route = routes[path];
    if (route === undefined) return fail(404, 40401, 'Resource not found');
    if (route[0] !== method) return fail(405, 40501, 'Method not allowed');
    return route[1]();
  }

  private preauth(params: Record<string, string>): Reply {
    const username = params.username;
    if (!username) return fail(400, 40001, 'Missing required request parameters', 'username');
    switch (this.users.get(username)) {
      case undefined:
      case 'not_enrolled':
        return ok({
          result: 'enroll',
          status_msg: 'Enroll an authentication device to proceed',
          enroll_portal_url: `${this.apiUrl}/portal?code=local`,
        });
      case 'down':
        return fail(500, undefined, 'Internal Server Error');
      case 'bypass':
        return ok({ result: 'allow', status_msg: 'Allowing unknown user' });
      case 'locked_out':
        return ok({ result: 'deny', status_msg: 'Your account is disabled.' });
      case 'no_push_device':
        return ok({ result: 'auth', status_msg: 'Account is active', devices: [LANDLINE] });
      default:
        return ok({ result: 'auth', status_msg: 'Account is active', devices: [PUSH_PHONE] });
    }
  }

  private auth(params: Record<string, string>): Reply {
    const { username, factor, device, async } = params;
    if (!username || !factor) return fail(400, 40001, 'Missing required request parameters', 'username, factor');
    if (factor !== 'push') return fail(400, 40002, 'Invalid request parameters', 'factor (the local Duo pushes only)');
    if (async !== '1')
      return fail(400, 40002, 'Invalid request parameters', 'async (the local Duo answers async=1 only)');
    const behaviour = this.users.get(username);
    if (behaviour === 'down') return fail(500, undefined, 'Internal Server Error');
    if (behaviour === undefined || behaviour === 'not_enrolled' || behaviour === 'locked_out') {
      return fail(400, 40002, 'Invalid request parameters', 'username');
    }
    if (behaviour === 'no_push_device' || (device !== 'auto' && device !== PUSH_PHONE.device)) {
      return fail(400, 40002, 'Invalid request parameters', 'device');
    }
    if (behaviour === 'bypass') {
      const txid = randomUUID();
      this.bypassed.add(txid);
      return ok({ txid });
    }
    const push: DuoPush = {
      txid: randomUUID(),
      username,
      pushinfo: Object.fromEntries(new URLSearchParams(params.pushinfo ?? '')),
      at: Date.now(),
      answer: behaviour === 'manual' ? null : behaviour,
    };
    this.pushes.push(push);
    this.emitter.emit('push', structuredClone(push));
    return ok({ txid: push.txid });
  }

  private async authStatus(params: Record<string, string>): Promise<Reply> {
    if (params.txid !== undefined && this.bypassed.has(params.txid)) {
      return ok({ result: 'allow', status: 'bypass', status_msg: 'Bypassing Duo.' });
    }
    const push = this.pushes.find((p) => p.txid === params.txid);
    if (push === undefined) return fail(400, 40002, 'Invalid request parameters', 'txid');
    if (this.users.get(push.username) === 'down') return fail(500, undefined, 'Internal Server Error');
    // A long poll, as Duo's: the first call reports the push as sent, later ones wait for the person's answer.
    if (push.answer === null && this.reported.has(push.txid)) {
      await this.waiters
        .until(
          () => push.answer !== null,
          this.longPollMs,
          () => 'no answer',
        )
        .catch(() => undefined);
    }
    this.reported.add(push.txid);
    if (push.answer === null) {
      return ok({ result: 'waiting', status: 'pushed', status_msg: 'Pushed a login request to your device...' });
    }
    return ok({ ...STATUS_OF[push.answer] });
  }

  private recentCalls(): string {
    const recent = this.calls.slice(-10).map((c) => `${c.path} (${c.status})`);
    return recent.length === 0 ? 'no calls yet' : `recent calls: ${recent.join(', ')}`;
  }
}

/** The push as the phone shows it, for the sandbox's terminal: `irbot: Pivoting, alert pivot-c55fc5`. */
export function phoneText(push: Pick<DuoPush, 'pushinfo'>): string {
  const { from, alert, id } = push.pushinfo;
  const what = [alert, id === undefined ? undefined : `alert ${id}`].filter((part) => part !== undefined).join(', ');
  return from === undefined ? what : `${from}: ${what}`;
}

function ok(response: Record<string, unknown>): Reply {
  return { status: 200, body: { stat: 'OK', response } };
}

/** Duo's error shape: `{stat: "FAIL", code, message, message_detail}`. */
function fail(status: number, code: number | undefined, message: string, detail?: string): Reply {
  return {
    status,
    body: {
      stat: 'FAIL',
      ...(code !== undefined && { code }),
      message,
      ...(detail !== undefined && { message_detail: detail }),
    },
  };
}
