// Running host commands: output captured, and a failure that names the command and its stderr.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly stderr: string,
    readonly exitCode: number | string | undefined,
  ) {
    super(`${command} failed (exit ${exitCode}): ${stderr.trim().slice(-2000)}`);
  }
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  input?: string;
  timeoutMs?: number;
}

/** Runs a program (no shell) and returns its stdout; throws a CommandError when it fails. */
export async function run(file: string, args: string[], options: RunOptions = {}): Promise<string> {
  const child = execFileAsync(file, args, {
    env: options.env ?? process.env,
    cwd: options.cwd,
    timeout: options.timeoutMs ?? 0,
    maxBuffer: 256 * 1024 * 1024,
  });
  if (options.input !== undefined) {
    child.child.stdin?.end(options.input);
  }
  try {
    return (await child).stdout;
  } catch (error) {
    const e = error as { stderr?: string; code?: number | string; message: string };
    throw new CommandError(`${file} ${args.join(' ')}`, e.stderr || e.message, e.code);
  }
}

/** Like run, but a failure is returned as undefined (for probes and best-effort cleanup). */
export async function tryRun(file: string, args: string[], options: RunOptions = {}): Promise<string | undefined> {
  return run(file, args, options).catch(() => undefined);
}
