// What every resource group and the socket layer share.
import type { TokenService } from './auth/tokens.js';
import type { DevServerState } from './state/model.js';

export interface ServerContext {
  readonly state: DevServerState;
  readonly tokens: TokenService;
  /** e.g. `/api`. */
  readonly apiPath: string;
  readonly blobStoreEnabled: boolean;
  /** Emits on namespace /tasks to a room, and records it in `state.events`. */
  emit(room: string, event: string, data: unknown): void;
}
