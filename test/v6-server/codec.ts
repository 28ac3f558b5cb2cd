// Task inputs and run results through vantage6's own Python code (codec.py in the server's
// virtualenv): what the researcher's Python client would send, and what it would read back.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const codec = fileURLToPath(new URL('codec.py', import.meta.url));

function runCodec(python: string, args: string[], stdin: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [codec, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`codec.py ${args[0]} exited with ${code}: ${stderr.slice(-2000)}`))));
    child.stdin.end(stdin);
  });
}

/** Where a researcher's key lives; undefined for an unencrypted collaboration. */
export interface CodecKey {
  readonly privateKeyFile: string;
  readonly publicKey: string;
}

/** A task input for one organization, as vantage6's client makes it from `value`. */
export function encodeInput(python: string, value: unknown, key?: CodecKey): Promise<string> {
  return runCodec(python, ['encrypt', key?.privateKeyFile ?? '-', key?.publicKey ?? '-'], JSON.stringify(value));
}

/** A run's result as vantage6's client reads it: decrypted (with `privateKeyFile`) and deserialized. */
export async function decodeResult(python: string, result: string, privateKeyFile?: string): Promise<unknown> {
  return JSON.parse(await runCodec(python, ['decrypt', privateKeyFile ?? '-'], result)) as unknown;
}
