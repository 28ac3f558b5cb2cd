import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';

const run = promisify(execFile);
const cli = ['--import', 'tsx', 'agent/cli.ts'];

async function fails(args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    await run(process.execPath, [...cli, ...args]);
  } catch (error) {
    const { code, stderr } = error as { code: number; stderr: string };
    return { code, stderr };
  }
  throw new Error('the command succeeded');
}

test('a bad config stops the agent with exit code 2 and names every wrong field, never a secret', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'v6-cli-'));
  const path = join(dir, 'node.yaml');
  await writeFile(path, 'api_key: not-a-secret-uuid\nserver_url: ftp://server\nkubernetes:\n  run: {active_deadline_seconds: -1}\n');
  const { code, stderr } = await fails(['start', '--config', path]);
  t.is(code, 2);
  for (const field of ['api_key', 'server_url', 'kubernetes.task_volume', 'kubernetes.run.active_deadline_seconds', 'proxy']) {
    t.true(stderr.includes(`${field}:`), `${field} is named`);
  }
  t.false(stderr.includes('not-a-secret-uuid'));
});

test('a missing --config or unknown command is a usage error', async (t) => {
  t.is((await fails(['start'])).code, 2);
  t.regex((await fails(['launch', '--config', 'x'])).stderr, /unknown command 'launch'/);
});
