import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { agentJobTmpFolder, agentPrivateRoot, agentPrivateRunFolder, agentRunFolder, agentTmpRoot } from '../kube/paths.js';
import { ensureFolder, FileTooLargeError, readRegularFile, writeRegularFile } from './hostile-files.js';

/** The output file is larger than `results.max_output_bytes`. */
export class OutputTooLargeError extends Error {
  readonly code = 'V6_OUTPUT_TOO_LARGE';

  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super(`the algorithm wrote ${size} bytes of output, more than the node's limit results.max_output_bytes = ${limit}`);
  }
}

/**
 * Modes of what the agent makes on the task volume, set exactly whatever the umask. Algorithm pods
 * mount their run folder and their job's temporary folder (subPath), nothing else; the agent owns
 * both and the algorithm reaches them through its group (`kubernetes.run.fs_group`, which the
 * agent's own group must be, as in the chart).
 */
const Mode = {
  /** setgid, so files keep the group; the algorithm may read and traverse but not add, remove or replace names. */
  RunFolder: 0o2750,
  Input: 0o640,
  Output: 0o660,
  /** Shared by the runs of one job: the algorithm writes what it likes there; the agent never reads it. */
  JobTmpFolder: 0o2770,
  /** The parents (`tmp/`, `.v6-node/`) and the agent's own files: no pod mounts them. */
  AgentOnly: 0o700,
  AgentOnlyFile: 0o600,
} as const;

const INPUT_FILE = 'input';
const OUTPUT_FILE = 'output';
/** The container log, collected once and kept until the result is delivered. */
const LOG_FILE = 'log';
/** The run's container token: a retried launch reuses it for the run's Secret. */
const TOKEN_FILE = 'token';
/** The agent writes its own files only; still, nothing it reads back is unbounded. */
const MAX_TOKEN_BYTES = 64 * 1024;
export const MAX_LOG_BYTES = 16 * 1024 * 1024;

/**
 * A run's files on the task volume, as the agent sees its own mount of the claim. The run folder
 * (`task-XXXXXXXXX`) holds `input` and an empty `output`, written before the Job exists; `output`
 * is read after, as hostile (no links, no special files, bounded). The agent's own files of the
 * run (its token, the collected log) live apart, below `.v6-node/`, where no algorithm reaches.
 */
export class RunFiles {
  private readonly own: { mode: number; gid: number };

  constructor(
    private readonly mountPath: string,
    /** `kubernetes.run.fs_group`: the group through which algorithms reach their folders. */
    private readonly fsGroup: number,
    agentGid: number = process.getgid?.() ?? 0,
  ) {
    this.own = { mode: Mode.AgentOnly, gid: agentGid };
  }

  /** Writes the run's input and empty output; with a `jobId` (4.x) also the job's temporary folder, which 5 has not. */
  async prepare(runId: number, jobId: number | undefined, input: Uint8Array): Promise<void> {
    const folder = agentRunFolder(this.mountPath, runId);
    if (jobId !== undefined) {
      await ensureFolder(agentTmpRoot(this.mountPath), 'the temporary folders\' parent', this.own);
      await ensureFolder(agentJobTmpFolder(this.mountPath, jobId), "the job's temporary folder", { mode: Mode.JobTmpFolder, gid: this.fsGroup });
    }
    await ensureFolder(folder, 'the run folder', { mode: Mode.RunFolder, gid: this.fsGroup });
    await writeRegularFile(join(folder, INPUT_FILE), "the run's input", input, { mode: Mode.Input, gid: this.fsGroup });
    // A retried launch may find the output of a pod that already ran: it stays.
    await writeRegularFile(join(folder, OUTPUT_FILE), "the run's output", '', { mode: Mode.Output, gid: this.fsGroup, exclusive: true });
  }

  /** The output, refusing to read more than `limit` bytes into memory. Missing output is empty. */
  async readOutput(runId: number, limit: number): Promise<Buffer> {
    try {
      return (await readRegularFile(join(agentRunFolder(this.mountPath, runId), OUTPUT_FILE), "the run's output", limit)) ?? Buffer.alloc(0);
    } catch (error) {
      if (error instanceof FileTooLargeError) throw new OutputTooLargeError(error.size, error.limit);
      throw error;
    }
  }

  /** Keeps the collected log, cut at MAX_LOG_BYTES. */
  async saveLog(runId: number, log: string): Promise<void> {
    await this.writeOwn(runId, LOG_FILE, Buffer.from(log, 'utf8').subarray(0, MAX_LOG_BYTES));
  }

  async savedLog(runId: number): Promise<string | undefined> {
    return (await this.readOwn(runId, LOG_FILE, MAX_LOG_BYTES))?.toString('utf8');
  }

  async saveToken(runId: number, token: string): Promise<void> {
    await this.writeOwn(runId, TOKEN_FILE, token);
  }

  async savedToken(runId: number): Promise<string | undefined> {
    return (await this.readOwn(runId, TOKEN_FILE, MAX_TOKEN_BYTES))?.toString('utf8');
  }

  /** Removes the run folder and the agent's files of the run; what an algorithm left there is not followed. */
  async remove(runId: number): Promise<void> {
    await rm(agentRunFolder(this.mountPath, runId), { recursive: true, force: true });
    await rm(agentPrivateRunFolder(this.mountPath, runId), { recursive: true, force: true });
  }

  private async writeOwn(runId: number, file: string, content: Uint8Array | string): Promise<void> {
    await ensureFolder(agentPrivateRoot(this.mountPath), "the agent's own folder", this.own);
    await ensureFolder(agentPrivateRunFolder(this.mountPath, runId), "the agent's folder of the run", this.own);
    await writeRegularFile(join(agentPrivateRunFolder(this.mountPath, runId), file), `the agent's ${file} of the run`, content, {
      mode: Mode.AgentOnlyFile,
      gid: this.own.gid,
    });
  }

  private readOwn(runId: number, file: string, limit: number): Promise<Buffer | undefined> {
    return readRegularFile(join(agentPrivateRunFolder(this.mountPath, runId), file), `the agent's ${file} of the run`, limit);
  }
}

/** Who the agent process is. */
export interface ProcessIdentity {
  readonly uid: number;
  readonly gid: number;
  readonly groups: readonly number[];
}

export function currentIdentity(): ProcessIdentity {
  return { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, groups: process.getgroups?.() ?? [] };
}

/**
 * What stops the agent from keeping run folders out of the algorithms' hands, naming the config
 * keys: an algorithm running as the agent's own user would own its run folder (and could plant
 * links there), and an agent outside `fs_group` cannot give the folders to the algorithms' group.
 */
export function runFolderAccessProblems(run: { run_as_user: number; fs_group: number }, agent: ProcessIdentity): string[] {
  const problems: string[] = [];
  if (run.run_as_user === agent.uid) {
    problems.push(
      `kubernetes.run.run_as_user: ${run.run_as_user} is the agent's own uid; algorithms must run as another user, or they would own their run folders`,
    );
  }
  const member = agent.uid === 0 || agent.gid === run.fs_group || agent.groups.includes(run.fs_group);
  if (!member) {
    problems.push(
      `kubernetes.run.fs_group: the agent (uid ${agent.uid}, gid ${agent.gid}) is not in group ${run.fs_group}, so it cannot give run folders to the algorithms' group; run it with that group (the chart does: runAsGroup = algorithms.fsGroup)`,
    );
  }
  return problems;
}
