import type { Logger } from 'pino';
import { isDataframeName } from '../protocol/session-databases.js';
import type { DeleteDataframeEvent } from '../server/socket.js';
import type { SessionFiles } from './session-files.js';

/**
 * A 5 hub's `delete_dataframe`: the session's dataframe file goes, and the node answers
 * `dataframe_deleted {df_name, session_id, node_id}`, which is what clears the hub's
 * pending-deletion row for this node (the 5.x contract §4.2, §4.3). The hub sends the event to the
 * whole collaboration and again when a node reconnects, so a dataframe this node never had is
 * answered all the same, as upstream does.
 */
export class DataframeDeletion {
  constructor(
    private readonly sessions: Pick<SessionFiles, 'remove'>,
    private readonly nodeId: number,
    private readonly emit: (event: string, payload: unknown) => void,
    private readonly logger: Logger,
  ) {}

  async handle(event: DeleteDataframeEvent): Promise<void> {
    const name = event?.df_name;
    const sessionId = event?.session_id;
    if (typeof name !== 'string' || !isDataframeName(name) || !Number.isSafeInteger(sessionId) || sessionId < 0) {
      this.logger.warn({ event }, 'delete_dataframe names no dataframe this node could hold; ignored');
      return;
    }
    try {
      const existed = await this.sessions.remove(sessionId, name);
      this.logger.info({ sessionId, dataframe: name, existed }, existed ? 'Deleted the session dataframe' : 'The session dataframe to delete was not on this node');
      this.emit('dataframe_deleted', { df_name: name, session_id: sessionId, node_id: this.nodeId });
    } catch (error) {
      // Not answered: the hub keeps its pending row and sends the event again when the node reconnects.
      this.logger.error({ err: error, sessionId, dataframe: name }, 'could not delete the session dataframe; the hub will ask again');
    }
  }
}
