import { io, type Socket } from 'socket.io-client';
import type { Logger } from 'pino';
import type { ServerClient } from './client.js';

/** `new_task` payload (spec A4). */
export interface NewTaskEvent {
  readonly id: number;
  readonly parent_id: number | null;
}

/** `kill_containers` payload: a kill list (POST kill/task) or a whole node (POST kill/node/tasks). */
export interface KillContainersEvent {
  readonly kill_list?: ReadonlyArray<{ task_id: number; run_id: number; organization_id: number }>;
  readonly node_id?: number;
  readonly collaboration_id?: number;
}

/** `delete_dataframe` payload (vantage6 5): a session's dataframe the researcher deleted. */
export interface DeleteDataframeEvent {
  readonly df_name: string;
  readonly session_id: number;
}

export interface SocketHandlers {
  /** The server sent `sync`: the connection is authenticated. Called on every (re)connect. */
  onSync(): void;
  onNewTask(event: NewTaskEvent): void;
  onKillContainers(event: KillContainersEvent): void;
  /** A 5 hub's `delete_dataframe`; a 4.x server never sends it. */
  onDeleteDataframe?(event: DeleteDataframeEvent): void;
  /** The server no longer accepts this node (its API key was rejected on re-login). */
  onFatal(error: unknown): void;
  /** Connection state changes, for metrics and readiness. */
  onStateChange?(connected: boolean): void;
}

export interface ServerSocketOptions {
  readonly client: ServerClient;
  readonly logger: Logger;
  readonly handlers: SocketHandlers;
  readonly pingIntervalMs?: number;
  readonly firstPingMs?: number;
  readonly reconnectDelayMs?: number;
  readonly reconnectDelayMaxMs?: number;
  /**
   * How long a connection may wait for `sync` before it is dropped and the node logs in again.
   * The 4.x server keeps a connection whose token it could not place (an unknown node, a database
   * error in its connect handler) without a word; default 30 s.
   */
  readonly syncTimeoutMs?: number;
  readonly random?: () => number;
}

/**
 * The node's socket.io session on the server's `/tasks` namespace. Reconnection is ours, not
 * socket.io-client's, so that every attempt carries a fresh token (python-socketio accepts any
 * connection and only answers `sync` to a valid token, so `sync` is the proof of login).
 */
export class ServerSocket {
  private readonly client: ServerClient;
  private readonly logger: Logger;
  private readonly handlers: SocketHandlers;
  private readonly pingIntervalMs: number;
  private readonly firstPingMs: number;
  private readonly delayMs: number;
  private readonly delayMaxMs: number;
  private readonly syncTimeoutMs: number;
  private readonly random: () => number;
  private readonly socket: Socket;
  private authenticated = false;
  private closed = false;
  private attempts = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private syncTimer: NodeJS.Timeout | undefined;

  constructor(options: ServerSocketOptions) {
    this.client = options.client;
    this.logger = options.logger;
    this.handlers = options.handlers;
    this.pingIntervalMs = options.pingIntervalMs ?? 60_000;
    this.firstPingMs = options.firstPingMs ?? 5_000;
    this.delayMs = options.reconnectDelayMs ?? 1_000;
    this.delayMaxMs = options.reconnectDelayMaxMs ?? 30_000;
    this.syncTimeoutMs = options.syncTimeoutMs ?? 30_000;
    this.random = options.random ?? Math.random;
    this.socket = io(`${this.client.endpoints.origin}/tasks`, { autoConnect: false, reconnection: false });
    this.listen();
  }

  /** Whether the server has confirmed this connection with `sync`. */
  get connected(): boolean {
    return this.authenticated;
  }

  start(): void {
    void this.connect();
  }

  /**
   * Emits a node event. With `onlyWhileConnected` (log lines) it is dropped while the session is
   * down rather than buffered: the final PATCH carries the whole log anyway. (socket.io's
   * `volatile` would also drop lines while the polling transport is busy, which is most of the time.)
   */
  emit(event: string, payload: unknown, options: { onlyWhileConnected?: boolean } = {}): void {
    if (this.closed || (options.onlyWhileConnected && !this.authenticated)) return;
    this.socket.emit(event, payload);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.syncTimer);
    this.stopPing();
    this.setAuthenticated(false);
    this.socket.disconnect();
  }

  private listen(): void {
    const socket = this.socket;
    socket.on('connect', () => {
      this.logger.info('socket connected to /tasks; waiting for sync');
      clearTimeout(this.syncTimer);
      this.syncTimer = setTimeout(() => this.syncTimedOut(), this.syncTimeoutMs);
    });
    socket.on('sync', () => {
      clearTimeout(this.syncTimer);
      this.attempts = 0;
      this.setAuthenticated(true);
      this.startPing();
      this.logger.info('received sync: the server accepted this node');
      this.handlers.onSync();
    });
    // `new_task` from a 4.x server, `new_task_update` from a 5 hub: the same `{id, parent_id}`.
    for (const name of ['new_task', 'new_task_update']) {
      socket.on(name, (event: NewTaskEvent) => {
        this.logger.info({ taskId: event?.id, parentId: event?.parent_id }, `received ${name}`);
        this.handlers.onNewTask(event);
      });
    }
    socket.on('kill_containers', (event: KillContainersEvent) => {
      this.logger.info({ event }, 'received kill_containers');
      this.handlers.onKillContainers(event);
    });
    socket.on('delete_dataframe', (event: DeleteDataframeEvent) => {
      this.logger.info({ sessionId: event?.session_id, dataframe: event?.df_name }, 'received delete_dataframe');
      this.handlers.onDeleteDataframe?.(event);
    });
    socket.on('message', (message: unknown) => this.logger.debug({ message }, 'server message'));
    socket.on('expired_token', () => {
      this.logger.info('server says the token has expired; refreshing and reconnecting');
      this.reconnectNow(() => this.client.refreshNow());
    });
    socket.on('invalid_token', () => {
      this.logger.warn('server says the token is invalid; logging in again and reconnecting');
      this.client.forgetTokens();
      this.reconnectNow(() => this.client.accessToken());
    });
    socket.on('disconnect', (reason) => {
      clearTimeout(this.syncTimer);
      this.setAuthenticated(false);
      this.stopPing();
      if (this.closed || reason === 'io client disconnect') return;
      this.logger.warn({ reason }, 'socket disconnected');
      this.scheduleReconnect();
    });
    socket.on('connect_error', (error) => {
      this.logger.warn({ err: error }, 'socket connection failed');
      this.scheduleReconnect();
    });
  }

  /** Connected, but no `sync`: the server did not accept the token. Log in afresh and try again. */
  private syncTimedOut(): void {
    if (this.closed || this.authenticated) return;
    this.logger.warn({ timeoutMs: this.syncTimeoutMs }, 'no sync from the server on this connection; logging in again and reconnecting');
    this.client.forgetTokens();
    this.socket.disconnect();
    this.scheduleReconnect();
  }

  private reconnectNow(token: () => Promise<string>): void {
    clearTimeout(this.syncTimer);
    this.setAuthenticated(false);
    this.stopPing();
    this.socket.disconnect();
    void token().then(
      () => this.connect(),
      (error: unknown) => this.failed(error),
    );
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    let token: string;
    try {
      token = await this.client.accessToken();
    } catch (error) {
      this.failed(error);
      return;
    }
    if (this.closed) return;
    this.socket.io.opts.extraHeaders = { Authorization: `Bearer ${token}` };
    this.socket.connect();
  }

  private failed(error: unknown): void {
    if ((error as { retryable?: unknown }).retryable === false) {
      this.handlers.onFatal(error);
      return;
    }
    this.logger.warn({ err: error }, 'could not get a token for the socket');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer !== undefined) return;
    const ceiling = Math.min(this.delayMaxMs, this.delayMs * 2 ** this.attempts);
    const delay = ceiling / 2 + (this.random() * ceiling) / 2;
    this.attempts += 1;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.connect();
    }, delay);
  }

  private startPing(): void {
    this.stopPing();
    const ping = (): void => {
      if (this.authenticated) this.socket.emit('ping');
    };
    this.pingTimer = setTimeout(() => {
      ping();
      this.pingTimer = setInterval(ping, this.pingIntervalMs);
    }, this.firstPingMs);
  }

  private stopPing(): void {
    clearTimeout(this.pingTimer);
    clearInterval(this.pingTimer);
    this.pingTimer = undefined;
  }

  private setAuthenticated(value: boolean): void {
    if (this.authenticated === value) return;
    this.authenticated = value;
    this.handlers.onStateChange?.(value);
  }
}
