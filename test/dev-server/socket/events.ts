// socket.io namespace /tasks with the 4.x server's always_connect semantics (spec A4): the
// connection is always accepted; only a valid token earns `sync` and the collaboration rooms.
import type { Server as HttpServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import { JwtError } from '../auth/jwt.js';
import type { Identity, TokenService } from '../auth/tokens.js';
import { collaborationsOf } from '../auth/access.js';
import type { NodeFixture } from '../state/fixtures.js';
import type { DevServerState } from '../state/model.js';

export const NAMESPACE = '/tasks';

export interface TaskEvents {
  /** Emits to a room of /tasks and records the event in `state.events`. */
  emit(room: string, event: string, data: unknown): void;
  /** Drops every socket.io connection (the server-side end of an outage). */
  disconnectAll(): void;
  close(): Promise<void>;
}

function bearer(socket: Socket): string | undefined {
  const header = socket.handshake.headers.authorization;
  return header?.startsWith('Bearer ') ? header.slice('Bearer '.length) : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** The server's rebroadcast of a node's `algorithm_status_change`: its fields, and the run's job id. */
function statusChange(state: DevServerState, data: Record<string, unknown>): Record<string, unknown> {
  const run = state.runs.get(Number(data.run_id));
  const jobId = run === undefined ? null : (state.tasks.get(run.task_id)?.job_id ?? null);
  const { status, run_id, task_id, collaboration_id, node_id, organization_id, parent_id } = data;
  return { status, run_id, task_id, job_id: jobId, collaboration_id, node_id, organization_id, parent_id };
}

export function attachTaskEvents(httpServer: HttpServer, state: DevServerState, tokens: TokenService): TaskEvents {
  const io = new Server(httpServer, { pingTimeout: 60_000 });
  const nsp = io.of(NAMESPACE);

  const emit = (room: string, event: string, data: unknown): void => {
    state.events.push({ room, event, data });
    nsp.to(room).emit(event, data);
  };

  const authenticate = (socket: Socket): Identity | undefined => {
    const token = bearer(socket);
    if (token === undefined) return undefined;
    try {
      return tokens.verify(token, 'access');
    } catch (error) {
      if (error instanceof JwtError && error.code === 'expired') socket.emit('expired_token');
      else if (error instanceof JwtError && error.code === 'invalid_signature') socket.emit('invalid_token');
      return undefined;
    }
  };

  const onNode = (socket: Socket, node: NodeFixture): void => {
    const rooms = [
      'all_nodes',
      `collaboration_${node.collaboration_id}`,
      `collaboration_${node.collaboration_id}_organization_${node.organization_id}`,
    ];
    state.setPresence(node.id, { online: true, last_seen: state.now() });
    socket.emit('sync');
    // As the real server: node-online goes to the rooms before the node joins them (so it does
    // not hear its own), then it joins, and each room but all_nodes hears the join message.
    for (const room of rooms) emit(room, 'node-online', { id: node.id, name: node.name, org_id: node.organization_id });
    for (const room of rooms) {
      void socket.join(room);
      if (room !== 'all_nodes') emit(room, 'message', `Node <${node.name}> joined room <${room}>`);
    }

    socket.on('ping', () => state.setPresence(node.id, { online: true, last_seen: state.now() }));
    socket.on('node_info_update', (info: unknown) => state.setPresence(node.id, { info }));
    socket.on('algorithm_status_change', (data: unknown) => {
      if (!isObject(data)) return;
      emit(`collaboration_${String(data.collaboration_id)}`, 'algorithm_status_change', statusChange(state, data));
    });
    socket.on('algorithm_log', (data: unknown) => {
      if (!isObject(data) || typeof data.log !== 'string') return;
      const run = state.runs.get(Number(data.run_id));
      if (!run || run.organization_id !== node.organization_id) return;
      // The real server's _append_log: a newline between messages, none after the last.
      run.log = run.log ? `${run.log.endsWith('\n') ? run.log : `${run.log}\n`}${data.log}` : data.log;
      emit(`collaboration_${String(data.collaboration_id)}`, 'algorithm_log', { run_id: run.id, task_id: run.task_id, log: data.log });
    });
    socket.on('disconnect', () => {
      state.setPresence(node.id, { online: false });
      for (const room of rooms) emit(room, 'node-offline', { id: node.id, name: node.name, org_id: node.organization_id });
    });
  };

  nsp.on('connection', (socket) => {
    const identity = authenticate(socket);
    if (identity?.kind === 'node') onNode(socket, identity.node);
    else if (identity?.kind === 'user') {
      for (const id of collaborationsOf(state, identity)) void socket.join(`collaboration_${id}`);
    }
  });

  return {
    emit,
    disconnectAll: () => {
      io.disconnectSockets(true);
    },
    close: () => new Promise((resolve) => {
      void io.close(() => resolve());
    }),
  };
}
