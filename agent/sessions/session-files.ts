import { constants } from 'node:fs';
import { lstat, open, readdir, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { sessionIdOfFolder } from '../kube/names.js';
import { agentRunFolder, agentSessionFolder, agentSessionsRoot } from '../kube/paths.js';
import { isDataframeName } from '../protocol/session-databases.js';
import { ensureFolder, openRegularFile, RunFileRefusedError } from '../runs/hostile-files.js';
import type { DataframeColumn } from './dataframe-columns.js';

/** Reads the columns of a parquet file, throwing when it is not one. */
export type ColumnReader = (path: string) => Promise<DataframeColumn[]>;

const Mode = {
  /** `sessions/`: no pod mounts it, only the session folders below it. */
  Root: 0o700,
  /** setgid; algorithms read the dataframes through their group and can change nothing (mounted read-only too). */
  Session: 0o2750,
  Dataframe: 0o640,
} as const;

const PARQUET = '.parquet';
const COPY_CHUNK = 1024 * 1024;

/** Copies what `from` holds into `to`, both opened by the caller (streams over handles that stay open never settle). */
async function copyContent(from: FileHandle, to: FileHandle): Promise<void> {
  const chunk = Buffer.allocUnsafe(COPY_CHUNK);
  for (let position = 0; ; ) {
    const { bytesRead } = await from.read(chunk, 0, COPY_CHUNK, position);
    if (bytesRead === 0) return;
    await to.write(chunk, 0, bytesRead);
    position += bytesRead;
  }
}

/**
 * The session folders of a vantage6 5 node on the task volume: `sessions/session{id:09d}/`, one
 * `<dataframe>.parquet` per dataframe, as upstream keeps them. Algorithm pods mount their
 * session's folder read-only; the node stores a dataframe there only once it has read the
 * extraction's or preprocessing's output as a parquet table, so what a compute run reads is
 * always a table some run produced whole.
 */
export class SessionFiles {
  private readonly own: { mode: number; gid: number };

  constructor(
    private readonly mountPath: string,
    /** `kubernetes.run.fs_group`: the group through which algorithms read dataframes. */
    private readonly fsGroup: number,
    private readonly columnsOf: ColumnReader,
    agentGid: number = process.getgid?.() ?? 0,
  ) {
    this.own = { mode: Mode.Root, gid: agentGid };
  }

  /** Makes the session's folder (a pod mounting it needs it to exist). */
  async ensure(sessionId: number): Promise<void> {
    await ensureFolder(agentSessionsRoot(this.mountPath), 'the session folders\' parent', this.own);
    await ensureFolder(agentSessionFolder(this.mountPath, sessionId), "the session's folder", { mode: Mode.Session, gid: this.fsGroup });
  }

  /** The names among `names` that the session has no dataframe of. */
  async missing(sessionId: number, names: readonly string[]): Promise<string[]> {
    const absent: string[] = [];
    for (const name of new Set(names)) {
      const stats = await lstat(this.dataframePath(sessionId, name)).catch(() => undefined);
      if (!stats?.isFile()) absent.push(name);
    }
    return absent;
  }

  /**
   * Stores the output of run `runId` as the session's dataframe `name` and answers its columns.
   * The output is copied (never followed if it is not a regular file of its own), read as parquet
   * from the node's copy, and only then put in place, replacing an earlier version atomically:
   * a pod reading the old one keeps reading it whole. Throws what the column reader throws for
   * something that is not a parquet table, and `RunFileRefusedError` for an output that is not a
   * regular file; nothing is stored then.
   */
  async store(sessionId: number, name: string, runId: number): Promise<DataframeColumn[]> {
    await this.ensure(sessionId);
    const output = join(agentRunFolder(this.mountPath, runId), 'output');
    const source = await openRegularFile(output, "the run's output");
    if (source === undefined) throw new RunFileRefusedError("the run's output", 'missing');
    const copy = join(agentSessionFolder(this.mountPath, sessionId), `.${name}${PARQUET}.run-${runId}`);
    try {
      await rm(copy, { force: true });
      const target = await open(copy, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, Mode.Dataframe);
      try {
        await copyContent(source.handle, target);
        if ((await target.stat()).gid !== this.fsGroup) await target.chown(-1, this.fsGroup);
        await target.chmod(Mode.Dataframe);
      } finally {
        await target.close();
      }
      const columns = await this.columnsOf(copy);
      await rename(copy, this.dataframePath(sessionId, name));
      return columns;
    } catch (error) {
      await rm(copy, { force: true });
      throw error;
    } finally {
      await source.handle.close();
    }
  }

  /** Deletes the session's dataframe `name`; false when there was none. */
  async remove(sessionId: number, name: string): Promise<boolean> {
    const path = this.dataframePath(sessionId, name);
    const existed = (await lstat(path).catch(() => undefined)) !== undefined;
    await rm(path, { force: true });
    return existed;
  }

  /** Deletes the session's folder and every dataframe in it. */
  async removeSession(sessionId: number): Promise<void> {
    await rm(agentSessionFolder(this.mountPath, sessionId), { recursive: true, force: true });
  }

  /** The dataframes this node holds, by session (copies being stored are not dataframes yet). */
  async held(): Promise<Map<number, string[]>> {
    const held = new Map<number, string[]>();
    // No sessions folder is no sessions (a new node); any other failure is the caller's to report.
    const folders = await readdir(agentSessionsRoot(this.mountPath), { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [];
      throw error;
    });
    for (const folder of folders) {
      const sessionId = sessionIdOfFolder(folder.name);
      if (!folder.isDirectory() || sessionId === undefined) continue;
      const files = await readdir(agentSessionFolder(this.mountPath, sessionId), { withFileTypes: true });
      held.set(
        sessionId,
        files
          .filter((file) => file.isFile() && file.name.endsWith(PARQUET))
          .map((file) => file.name.slice(0, -PARQUET.length))
          .filter((name) => !name.startsWith('.') && isDataframeName(name)),
      );
    }
    return held;
  }

  private dataframePath(sessionId: number, name: string): string {
    if (!isDataframeName(name)) throw new Error(`'${name}' cannot be a dataframe's file name`);
    return join(agentSessionFolder(this.mountPath, sessionId), `${name}${PARQUET}`);
  }
}
