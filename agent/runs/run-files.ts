import { chown, mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { agentJobTmpFolder, agentRunFolder } from '../kube/paths.js';

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

const LOG_FILE = 'log';
/** The run's container token, readable by the agent only: a retried launch reuses it for the run's Secret. */
const TOKEN_FILE = '.token';

/** Who owns the files an algorithm must write: its `run_as_user` and `fs_group`. */
export interface AlgorithmOwner {
  readonly uid: number;
  readonly gid: number;
}

/**
 * A run's files on the task volume, as the agent sees its own mount of the claim: `input` and an
 * empty `output` written before the Job exists, `output` read after, the collected `log` kept
 * until the result is delivered, and the job's shared temporary folder. Folders are group
 * writable for the algorithm's fsGroup; an agent running as root (outside the chart) hands them
 * to the algorithm's user, as the kubelet's fsGroup handling would.
 */
export class RunFiles {
  constructor(
    private readonly mountPath: string,
    private readonly owner: AlgorithmOwner,
  ) {}

  async prepare(runId: number, jobId: number, input: Uint8Array): Promise<void> {
    const folder = agentRunFolder(this.mountPath, runId);
    const tmp = agentJobTmpFolder(this.mountPath, jobId);
    await mkdir(folder, { recursive: true, mode: 0o2775 });
    await mkdir(tmp, { recursive: true, mode: 0o2775 });
    await writeFile(join(folder, 'input'), input, { mode: 0o644 });
    await writeFile(join(folder, 'output'), '', { mode: 0o664 });
    if (process.getuid?.() === 0) {
      for (const path of [folder, tmp, join(folder, 'input'), join(folder, 'output')]) {
        await chown(path, this.owner.uid, this.owner.gid);
      }
    }
  }

  /** The output, refusing to read more than `limit` bytes into memory. Missing output is empty. */
  async readOutput(runId: number, limit: number): Promise<Buffer> {
    let handle;
    try {
      handle = await open(join(agentRunFolder(this.mountPath, runId), 'output'), 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return Buffer.alloc(0);
      throw error;
    }
    try {
      const { size } = await handle.stat();
      if (size > limit) throw new OutputTooLargeError(size, limit);
      return await handle.readFile();
    } finally {
      await handle.close();
    }
  }

  async saveLog(runId: number, log: string): Promise<void> {
    await mkdir(agentRunFolder(this.mountPath, runId), { recursive: true, mode: 0o2775 });
    await writeFile(join(agentRunFolder(this.mountPath, runId), LOG_FILE), log);
  }

  async savedLog(runId: number): Promise<string | undefined> {
    try {
      return await readFile(join(agentRunFolder(this.mountPath, runId), LOG_FILE), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async saveToken(runId: number, token: string): Promise<void> {
    await mkdir(agentRunFolder(this.mountPath, runId), { recursive: true, mode: 0o2775 });
    await writeFile(join(agentRunFolder(this.mountPath, runId), TOKEN_FILE), token, { mode: 0o600 });
  }

  async savedToken(runId: number): Promise<string | undefined> {
    try {
      return await readFile(join(agentRunFolder(this.mountPath, runId), TOKEN_FILE), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async remove(runId: number): Promise<void> {
    await rm(agentRunFolder(this.mountPath, runId), { recursive: true, force: true });
  }
}
