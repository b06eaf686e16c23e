// The Socket Mode side of the local Slack: one-time tickets, WebSocket connections, pings, routing and acks.

import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { disconnectFrame, type Envelope } from './local-slack-envelopes.js';
import { isRecord } from './local-slack-http.js';
import type { Waiters } from './local-slack-waiters.js';

export interface RecordedAck {
  envelopeId: string;
  payload?: Record<string, unknown>;
  connectionId: number;
  at: number;
}

export interface SocketsOptions {
  /** 'http://127.0.0.1:PORT' */
  baseUrl: string;
  appId: string;
  pingIntervalMs: number;
  hello: (numConnections: number) => Envelope;
  waiters: Waiters;
  onAck: (ack: RecordedAck) => void;
  onCountChange: (connectionCount: number) => void;
}

interface Connection {
  id: number;
  socket: WebSocket;
  /** 'draining': told to reconnect, so it gets no more envelopes. */
  state: 'open' | 'draining' | 'closed';
  timers: NodeJS.Timeout[];
}

const ROUTE_TIMEOUT_MS = 10_000;
// Slack closes a connection some seconds after its disconnect message if the client has not.
const DRAIN_MS = 10_000;

export class Sockets {
  readonly acks: RecordedAck[] = [];
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly connections: Connection[] = [];
  private readonly tickets = new Set<string>();
  private turn = 0;
  private closed = false;
  private holdNext = false;
  private refuseNext = 0;
  /** Upgrade requests held unanswered (`holdNextUpgrade`): a connection stuck opening. */
  readonly held: Duplex[] = [];

  constructor(private readonly options: SocketsOptions) {}

  /** Connections greeted with hello and not yet closed or told to reconnect. */
  get openCount(): number {
    return this.open().length;
  }

  /** Connections not yet closed: open, and those told to reconnect that their client has not closed yet. */
  get aliveCount(): number {
    return this.connections.filter((c) => c.state !== 'closed').length;
  }

  /** Connections ever greeted with hello. */
  get total(): number {
    return this.connections.length;
  }

  /** apps.connections.open: a URL with a ticket good for one connection. */
  issueTicket(): string {
    const ticket = randomUUID();
    this.tickets.add(ticket);
    return `${this.options.baseUrl.replace('http:', 'ws:')}/link?ticket=${ticket}&app_id=${this.options.appId}`;
  }

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', this.options.baseUrl);
    const ticket = url.searchParams.get('ticket') ?? '';
    if (this.closed || !/^\/link\/?$/.test(url.pathname) || !this.tickets.delete(ticket)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    if (this.refuseNext > 0) {
      this.refuseNext--;
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    if (this.holdNext) {
      this.holdNext = false;
      this.held.push(socket);
      this.options.waiters.wake();
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws));
  }

  /** The next connection's upgrade is never answered: the client's WebSocket stays opening until it gives up. */
  holdNextUpgrade(): void {
    this.holdNext = true;
  }

  /**
   * Sends a text frame to open connection number `to`, or the next in turn; waits a while for one to open. A
   * connection found gone (its client died: closing, not yet closed) is let go, and the frame goes to the next in
   * turn, as Slack hands an envelope to another connection of the app.
   */
  async send(frame: string, to: number | undefined): Promise<{ index: number; connectionId: number }> {
    const needed = (to ?? 0) + 1;
    for (;;) {
      await this.options.waiters.until(
        () => this.openCount >= needed,
        ROUTE_TIMEOUT_MS,
        () => `no Socket Mode connection #${needed - 1} within ${ROUTE_TIMEOUT_MS} ms (open: ${this.openCount})`,
      );
      const open = this.open();
      const index = to ?? this.turn++ % open.length;
      const connection = open[index];
      if (connection === undefined) throw new Error(`LocalSlack: no open connection #${index}`);
      const failed = await new Promise<Error | undefined>((resolve) => {
        if (connection.socket.readyState !== connection.socket.OPEN) {
          resolve(new Error(`LocalSlack: connection #${index} is closing`));
        } else connection.socket.send(frame, (err) => resolve(err ?? undefined));
      });
      if (failed === undefined) return { index, connectionId: connection.id };
      this.end(connection);
      // The connection a test asked for is gone: that test learns it.
      if (to !== undefined) throw failed;
    }
  }

  disconnectAll(reason: string): void {
    for (const connection of this.open()) {
      connection.socket.send(JSON.stringify(disconnectFrame(reason)));
      connection.state = 'draining';
      connection.timers.push(setTimeout(() => connection.socket.terminate(), DRAIN_MS));
    }
    this.changed();
  }

  /** The next `n` upgrades are answered 503: a connection that cannot be opened although its URL was given. */
  refuseNextUpgrades(n: number): void {
    this.refuseNext = n;
  }

  /**
   * Every open connection goes silent, as over a link that died without a word: no more pings, nothing it is sent
   * is read (its pings go unanswered), and no envelope is routed to it. Its client is to notice and replace it.
   */
  silenceAll(): void {
    for (const connection of this.open()) {
      stopTimers(connection);
      connection.socket.pause();
      connection.state = 'draining';
    }
    this.changed();
  }

  dropAll(): void {
    for (const connection of this.connections) this.end(connection);
  }

  close(): void {
    this.closed = true;
    this.dropAll();
    for (const socket of this.held.splice(0)) socket.destroy();
    this.wss.close();
  }

  private open(): Connection[] {
    return this.connections.filter((c) => c.state === 'open');
  }

  private accept(socket: WebSocket): void {
    const connection: Connection = { id: this.connections.length + 1, socket, state: 'open', timers: [] };
    this.connections.push(connection);
    // Slack pings its connections; ws answers the client's own pings by itself (irbot's client replaces a
    // connection it hears nothing on for 10 s).
    connection.timers.push(setInterval(() => socket.ping(), this.options.pingIntervalMs));
    socket.on('message', (data: RawData, isBinary: boolean) => this.onFrame(connection, data, isBinary));
    socket.on('close', () => this.end(connection));
    socket.on('error', () => this.end(connection));
    socket.send(JSON.stringify(this.options.hello(this.openCount)));
    this.changed();
  }

  private end(connection: Connection): void {
    if (connection.state === 'closed') return;
    connection.state = 'closed';
    stopTimers(connection);
    connection.socket.terminate();
    this.changed();
  }

  private changed(): void {
    this.options.onCountChange(this.openCount);
    this.options.waiters.wake();
  }

  private onFrame(connection: Connection, data: RawData, isBinary: boolean): void {
    if (isBinary) return;
    let frame: unknown;
    try {
      frame = JSON.parse(data.toString());
    } catch {
      return;
    }
    if (!isRecord(frame) || typeof frame.envelope_id !== 'string') return;
    const ack: RecordedAck = {
      envelopeId: frame.envelope_id,
      ...(isRecord(frame.payload) && { payload: frame.payload }),
      connectionId: connection.id,
      at: Date.now(),
    };
    this.acks.push(ack);
    this.options.onAck(ack);
    this.options.waiters.wake();
  }
}

/** Its pings and its drain deadline: a connection ended or gone silent has none left. */
function stopTimers(connection: Connection): void {
  for (const timer of connection.timers) clearTimeout(timer);
  connection.timers = [];
}
