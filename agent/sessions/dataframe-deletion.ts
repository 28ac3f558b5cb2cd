import type { Logger } from 'pino';
import { isDataframeName } from '../protocol/session-databases.js';
import type { DeleteDataframeEvent } from '../server/socket.js';
import type { SessionFiles } from './session-files.js';

/** The names of a session's dataframes as the hub lists them; undefined when it has no such session. */
export type HubDataframes = (sessionId: number) => Promise<readonly string[] | undefined>;

/**
 * Dataframes deleted at a 5 hub leave the node. On `delete_dataframe` the session's dataframe
 * file goes, and the node answers `dataframe_deleted {df_name, session_id, node_id}`, which is what
 * clears the hub's pending-deletion row for this node (the 5.x contract §4.2, §4.3). The hub sends
 * the event to the whole collaboration and again when a node reconnects, so a dataframe this node
 * never had is answered all the same, as upstream does. But the re-sent event goes out before
 * the reconnecting node has joined the collaboration's room (§4.1), so a node that was away never
 * hears it: at every `sync` the node also compares what it holds with what the hub lists.
 */
export class DataframeDeletion {
  constructor(
    private readonly sessions: Pick<SessionFiles, 'remove' | 'removeSession' | 'held'>,
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
      await this.delete(sessionId, name);
    } catch (error) {
      // Not answered: the hub keeps its pending row and the next sync finds the file again.
      this.logger.error({ err: error, sessionId, dataframe: name }, 'could not delete the session dataframe; the next sync tries again');
    }
  }

  /**
   * Level-triggered catch-up: every dataframe this node holds that its session at the hub no
   * longer lists is deleted and answered (its pending row is waiting for this node); the folder of
   * a session the hub no longer has goes whole. Nothing the hub lists is touched, so a dataframe
   * being extracted or preprocessed right now stays.
   */
  async reconcile(hubDataframes: HubDataframes): Promise<void> {
    const held = await this.sessions.held().catch((error: unknown) => {
      this.logger.error({ err: error }, 'could not list the session dataframes on the task volume; the next sync tries again');
      return new Map<number, string[]>();
    });
    for (const [sessionId, names] of held) {
      try {
        const listed = await hubDataframes(sessionId);
        if (listed === undefined) {
          await this.sessions.removeSession(sessionId);
          this.logger.info({ sessionId, dataframes: names }, 'The hub has no such session any more; deleted its folder');
          continue;
        }
        for (const name of names.filter((name) => !listed.includes(name))) await this.delete(sessionId, name);
      } catch (error) {
        this.logger.warn({ err: error, sessionId }, 'could not compare the session\'s dataframes with the hub; the next sync tries again');
      }
    }
  }

  private async delete(sessionId: number, name: string): Promise<void> {
    const existed = await this.sessions.remove(sessionId, name);
    this.logger.info({ sessionId, dataframe: name, existed }, existed ? 'Deleted the session dataframe' : 'The session dataframe to delete was not on this node');
    this.emit('dataframe_deleted', { df_name: name, session_id: sessionId, node_id: this.nodeId });
  }
}
