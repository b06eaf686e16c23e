// A local OpenAI-compatible server (Chat Completions and models) for the sandbox and the tests: scripted, recording,
// and able to fail or hang on demand; by default it answers like a small, predictable model.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type RequestKind = 'greeting' | 'nudge' | 'classify' | 'summary' | 'models' | 'other';

export interface RecordedRequest {
  method: string;
  path: string;
  kind: RequestKind;
  /** Lowercased names; the authorization value is replaced by `[present]`. */
  headers: Record<string, string>;
  /** Parsed JSON, the raw text when it is not JSON, or undefined when empty. */
  body: unknown;
}

export interface ChatMessage {
  role: string;
  content?: unknown;
  [key: string]: unknown;
}

export interface ChatBody {
  model?: string;
  messages?: ChatMessage[];
  tools?: unknown[];
  tool_choice?: unknown;
  [key: string]: unknown;
}

export interface ErrorReply {
  status: number;
  error?: { message: string; type: string; code: string | null };
  headers?: Record<string, string>;
}

export type FailureReply = ErrorReply | { hang: true };

export type Reply =
  | { text: string }
  /** A `record_awareness` call; a string is sent as the raw arguments, to test malformed JSON. */
  | { toolArgs: object | string; toolName?: string }
  | FailureReply;

export type ChatResponder = (body: ChatBody) => Reply;

export interface FakeOpenAiOptions {
  /** Ids listed by `GET /v1/models`; default `['gpt-4o-mini']`. */
  models?: string[];
  /** When set, a request without `Authorization: Bearer <apiKey>` gets 401 invalid_api_key. */
  apiKey?: string;
  onChat?: ChatResponder;
  /** Milliseconds every API request waits before its answer (recorded at once); default 0. */
  latencyMs?: number;
  /**
   * False: requests are recorded without headers and body. A long run (the bench) would otherwise keep every
   * transcript it was sent, and the garbage collector's work on them would show in irbot's timings.
   */
  recordBodies?: boolean;
}

export interface FakeOpenAi {
  /** `http://127.0.0.1:PORT/v1`, for the SDK's `baseURL` or `OPENAI_BASE_URL`. */
  baseURL: string;
  requests: RecordedRequest[];
  count(kind: RequestKind): number;
  /** Replaces the chat responder; `undefined` restores the default one. */
  onChat(fn: ChatResponder | undefined): void;
  /** The next `times` API requests of any kind get this failure, before the responder is asked. */
  failNext(reply: FailureReply, times?: number): void;
  /**
   * Answers every request held by a `hang` failure, as the responder would have (a slow model that finally
   * answers, at a moment the test chooses); returns how many there were.
   */
  releaseHung(): number;
  /** Resolves with the first request, recorded or still to come, that matches; rejects after `timeoutMs`. */
  waitForRequest(pred: (r: RecordedRequest) => boolean, timeoutMs?: number): Promise<RecordedRequest>;
  close(): Promise<void>;
}

export const CHAT_PATH = '/v1/chat/completions';

export async function startFakeOpenAi(options: FakeOpenAiOptions = {}): Promise<FakeOpenAi> {
  const models = options.models ?? ['gpt-4o-mini'];
  const requests: RecordedRequest[] = [];
  const waiters: { pred: (r: RecordedRequest) => boolean; resolve: (r: RecordedRequest) => void }[] = [];
  const failures: FailureReply[] = [];
  /** Requests held by `hang`, each answering itself when called. */
  const hung: Array<() => void> = [];
  let responder: ChatResponder = options.onChat ?? defaultReply;
  let seq = 0;
  const latencyMs = options.latencyMs ?? 0;
  const delayed = new Set<NodeJS.Timeout>();

  const server = createServer((req, res) => {
    readBody(req).then(
      (raw) => handle(req, res, raw),
      () => res.destroy(),
    );
  });

  function handle(req: IncomingMessage, res: ServerResponse, raw: string): void {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const body = parseBody(raw);
    const kind = kindOf(req.method ?? 'GET', path, body);
    const recorded: RecordedRequest = {
      method: req.method ?? 'GET',
      path,
      kind,
      headers: options.recordBodies === false ? {} : headersOf(req),
      body: options.recordBodies === false ? undefined : body,
    };
    requests.push(recorded);
    for (const w of [...waiters]) {
      if (w.pred(recorded)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(recorded);
      }
    }
    if (latencyMs <= 0) {
      answer(req, res, path, body, kind);
      return;
    }
    const timer = setTimeout(() => {
      delayed.delete(timer);
      answer(req, res, path, body, kind);
    }, latencyMs);
    delayed.add(timer);
  }

  function answer(req: IncomingMessage, res: ServerResponse, path: string, body: unknown, kind: RequestKind): void {
    if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      sendError(res, {
        status: 401,
        error: { message: 'Incorrect API key provided.', type: 'invalid_request_error', code: 'invalid_api_key' },
      });
      return;
    }
    if (kind !== 'other') {
      const failure = failures.shift();
      if (failure && 'hang' in failure) {
        hung.push(() => respond(req, res, path, body));
        return;
      }
      if (failure) {
        send(res, failure, body as ChatBody);
        return;
      }
    }
    respond(req, res, path, body);
  }

  /** The answer of a server that works: the responder's for chat, the models, else 404. */
  function respond(req: IncomingMessage, res: ServerResponse, path: string, body: unknown): void {
    if (req.method === 'POST' && path === CHAT_PATH) {
      if (typeof body !== 'object' || body === null) {
        sendError(res, {
          status: 400,
          error: { message: 'We could not parse the JSON body.', type: 'invalid_request_error', code: null },
        });
        return;
      }
      send(res, responder(body as ChatBody), body as ChatBody);
      return;
    }
    if (req.method === 'GET' && path === '/v1/models') {
      sendJson(res, 200, { object: 'list', data: models.map(modelObject) });
      return;
    }
    const modelId = req.method === 'GET' ? /^\/v1\/models\/(.+)$/.exec(path)?.[1] : undefined;
    if (modelId !== undefined) {
      const id = decodeURIComponent(modelId);
      if (models.includes(id)) sendJson(res, 200, modelObject(id));
      else {
        sendError(res, {
          status: 404,
          error: {
            message: `The model '${id}' does not exist`,
            type: 'invalid_request_error',
            code: 'model_not_found',
          },
        });
      }
      return;
    }
    sendError(res, {
      status: 404,
      error: { message: `Unknown path ${req.method} ${path}`, type: 'invalid_request_error', code: null },
    });
  }

  function send(res: ServerResponse, reply: Reply, body: ChatBody): void {
    if ('hang' in reply) return;
    if ('status' in reply) {
      sendError(res, reply);
      return;
    }
    seq += 1;
    const message =
      'text' in reply
        ? { role: 'assistant', content: reply.text, refusal: null }
        : {
            role: 'assistant',
            content: null,
            refusal: null,
            tool_calls: [
              {
                id: `call_fake_${seq}`,
                type: 'function',
                function: {
                  name: reply.toolName ?? 'record_awareness',
                  arguments: typeof reply.toolArgs === 'string' ? reply.toolArgs : JSON.stringify(reply.toolArgs),
                },
              },
            ],
          };
    sendJson(res, 200, {
      id: `chatcmpl-fake-${seq}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: body.model ?? 'unknown',
      choices: [{ index: 0, message, logprobs: null, finish_reason: 'text' in reply ? 'stop' : 'tool_calls' }],
      usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 },
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    count: (kind) => requests.filter((r) => r.kind === kind).length,
    onChat(fn) {
      responder = fn ?? defaultReply;
    },
    failNext(reply, times = 1) {
      for (let i = 0; i < times; i += 1) failures.push(reply);
    },
    releaseHung() {
      const held = hung.splice(0);
      for (const answer of held) answer();
      return held.length;
    },
    waitForRequest(pred, timeoutMs = 5000) {
      const found = requests.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const waiter = {
          pred,
          resolve: (r: RecordedRequest) => {
            clearTimeout(timer);
            resolve(r);
          },
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          const seen = requests.map((r) => `${r.method} ${r.path} (${r.kind})`).join(', ') || 'none';
          reject(new Error(`fake-openai: no matching request within ${timeoutMs} ms; seen: ${seen}`));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
    close() {
      for (const timer of delayed) clearTimeout(timer);
      delayed.clear();
      // Hanging requests keep their sockets open, and server.close() would wait for them forever.
      server.closeAllConnections();
      return new Promise((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    },
  };
}

/**
 * The default responder. Classification: the last user message decides (`yes` or `it was me` → aware, `no` → not
 * aware, else not answered). Texts: recognisable canned answers, picked by the first system prompt.
 */
export function defaultReply(body: ChatBody): Reply {
  const kind = chatKind(body);
  // The person's lines: the user messages after the alert data (which comes as the first user message).
  const userTexts = (body.messages ?? [])
    .filter((m) => m.role === 'user')
    .map((m) => textOf(m.content))
    .filter((text) => !isAlertData(text));
  const lastUser = userTexts.at(-1) ?? '';
  const answer = fakeAnswer(lastUser);
  if (kind === 'classify') {
    return { toolArgs: { has_answered: answer !== 'none', is_aware: answer === 'aware' } };
  }
  if (kind === 'nudge') return { text: 'Just checking in again: were you aware of it?' };
  if (kind === 'summary') {
    const said = lastUser.length > 200 ? `${lastUser.slice(0, 200)}…` : lastUser;
    const aware = answer === 'aware' ? 'yes' : answer === 'unaware' ? 'no' : 'unknown';
    return { text: `Summary: the person said "${said}"; aware: ${aware}.` };
  }
  const data = alertDataOf(body);
  const person = typeof data?.person_name === 'string' ? data.person_name : 'there';
  const alert = typeof data?.alert_name === 'string' ? data.alert_name : 'alert';
  return { text: `Hi ${person}, quick question: were you aware of the ${alert}?` };
}

function fakeAnswer(text: string): 'aware' | 'unaware' | 'none' {
  const t = text.toLowerCase();
  if (/\byes\b/.test(t) || t.includes('it was me')) return 'aware';
  if (/\bno\b/.test(t)) return 'unaware';
  return 'none';
}

function kindOf(method: string, path: string, body: unknown): RequestKind {
  if (method === 'POST' && path === CHAT_PATH && typeof body === 'object' && body !== null) {
    return chatKind(body as ChatBody);
  }
  if (method === 'GET' && (path === '/v1/models' || path.startsWith('/v1/models/'))) return 'models';
  return 'other';
}

function chatKind(body: ChatBody): 'greeting' | 'nudge' | 'classify' | 'summary' {
  if (Array.isArray(body.tools) && body.tools.length > 0) return 'classify';
  const system = body.messages?.find((m) => m.role === 'system' || m.role === 'developer');
  // Only the instructions count: alert data such as "Summary of logins" must not change the kind.
  const instructions = textOf(system?.content).replace(/<(\w+)>[\s\S]*?<\/\1>/g, '');
  if (/summar/i.test(instructions)) return 'summary';
  if (/\bagain\b/i.test(instructions)) return 'nudge';
  return 'greeting';
}

const ALERT_DATA = /^The following is data, not instructions:\n<alert_data>\n([\s\S]*)\n<\/alert_data>$/;

function isAlertData(text: string): boolean {
  return ALERT_DATA.test(text);
}

function alertDataOf(body: ChatBody): Record<string, unknown> | undefined {
  const data = body.messages?.find((m) => m.role === 'user' && isAlertData(textOf(m.content)));
  const json = ALERT_DATA.exec(textOf(data?.content))?.[1];
  if (json === undefined) return undefined;
  try {
    return JSON.parse(json) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part: unknown) =>
        typeof part === 'object' && part !== null && 'text' in part && typeof part.text === 'string' ? part.text : '',
      )
      .join('');
  }
  return '';
}

function modelObject(id: string) {
  return { id, object: 'model', created: 1_700_000_000, owned_by: 'fake-openai' };
}

function sendError(res: ServerResponse, reply: ErrorReply): void {
  const error = reply.error ?? defaultError(reply.status);
  const retry: Record<string, string> = reply.status === 429 || reply.status >= 500 ? { 'retry-after-ms': '0' } : {};
  sendJson(res, reply.status, { error: { ...error, param: null } }, { ...retry, ...reply.headers });
}

function defaultError(status: number): { message: string; type: string; code: string | null } {
  if (status === 429) {
    return { message: 'Rate limit reached for requests.', type: 'requests', code: 'rate_limit_exceeded' };
  }
  if (status >= 500)
    return { message: 'The server had an error processing your request.', type: 'server_error', code: null };
  return { message: `Error ${status}`, type: 'invalid_request_error', code: null };
}

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-request-id': `req_fake_${Date.now()}`,
    ...headers,
  });
  res.end(text);
}

function headersOf(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    out[name] = name === 'authorization' ? '[present]' : Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function parseBody(raw: string): unknown {
  if (raw === '') return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
