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

test('an unknown option is a usage error (exit 2) naming it, not a crash', async (t) => {
  const { code, stderr } = await fails(['start', '--bogus']);
  t.is(code, 2);
  t.regex(stderr, /Unknown option '--bogus'/);
  t.regex(stderr, /usage: v6-node/);
});

test('a config file that cannot be read is a config error (exit 2) that says why once', async (t) => {
  const { code, stderr } = await fails(['start', '--config', '/nonexistent/node.yaml']);
  t.is(code, 2);
  t.regex(stderr, /Invalid configuration in \/nonexistent\/node\.yaml:\n {2}- \(the file\): cannot be read: no such file/);
  t.notRegex(stderr, /ENOENT/);
});

test('--version prints the package version; <command> --help prints that command\'s help', async (t) => {
  const { stdout: version } = await run(process.execPath, [...cli, '--version']);
  t.regex(version, /^v6-node \d+\.\d+\.\d+\n$/);
  for (const command of ['start', 'proxy', 'status']) {
    const { stdout } = await run(process.execPath, [...cli, command, '--help']);
    t.true(stdout.startsWith(`usage: v6-node ${command} --config <file>`), `${command}: ${stdout.split('\n')[0]}`);
  }
  const { stdout: general } = await run(process.execPath, [...cli, '--help']);
  t.regex(general, /^usage: v6-node <command> --config <file>/);
});
