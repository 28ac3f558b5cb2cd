// Running the tools the image scripts drive, with errors that show the command and its stderr.
import { spawn } from 'node:child_process';

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string | Buffer;
  /** Send the tool's stdout and stderr to ours (progress of long builds); it then resolves with ''. */
  progress?: boolean;
}

export class CommandError extends Error {
  readonly code = 'V6_IMAGES_COMMAND_FAILED';
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly stderr: string,
    /** The tool's stdout, for a container whose log is split over both streams. */
    readonly stdout = '',
  ) {
    super(`${command} exited ${exitCode}${stderr.trim() === '' ? '' : `:\n${stderr.trim().split('\n').slice(-20).join('\n')}`}`);
  }
}

/** Runs `file args…`, resolving with its stdout; rejects with a CommandError on a non-zero exit. */
export function run(file: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: options.progress ? ['pipe', 2, 2] : ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'ENOENT' ? new CommandError(`${file} (not installed?)`, null, error.message) : error),
    );
    child.on('close', (code) => {
      const stdout = Buffer.concat(out).toString('utf8');
      if (code === 0) resolve(stdout);
      else reject(new CommandError([file, ...args].join(' '), code, Buffer.concat(err).toString('utf8') || stdout, stdout));
    });
    child.stdin?.end(options.input);
  });
}
