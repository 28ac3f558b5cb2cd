// The run folder as hostile ground: every name an algorithm could leave where the agent reads,
// planted here directly (as root), and the modes the agent gives what it makes, whatever the umask.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { link, lstat, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { agentJobTmpFolder, agentPrivateRunFolder, agentRunFolder } from '../kube/paths.js';
import { RunFileRefusedError } from './hostile-files.js';
import { OutputTooLargeError, RunFiles, runFolderAccessProblems } from './run-files.js';

const FS_GROUP = 10_000;
const RUN = 7;
const JOB = 3;

async function volume(t: { teardown(fn: () => Promise<void>): void }): Promise<{ root: string; files: RunFiles; folder: string }> {
  const root = await mkdtemp('/var/tmp/v6-run-files-');
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const files = new RunFiles(root, FS_GROUP);
  await files.prepare(RUN, JOB, Buffer.from('{"method":"echo"}'));
  return { root, files, folder: agentRunFolder(root, RUN) };
}

const mode = async (path: string): Promise<string> => ((await lstat(path)).mode & 0o7777).toString(8);

for (const umask of [0o022, 0o077, 0o000]) {
  test.serial(`prepare gives exactly the modes and group the algorithm needs under umask ${umask.toString(8).padStart(3, '0')}`, async (t) => {
    const previous = process.umask(umask);
    t.teardown(() => process.umask(previous));
    const { root, folder } = await volume(t);
    t.is(await mode(folder), '2750', 'run folder: the algorithm reads and traverses, cannot add or replace names');
    t.is(await mode(join(folder, 'input')), '640');
    t.is(await mode(join(folder, 'output')), '660', 'output: the algorithm writes it through its group');
    t.is(await mode(agentJobTmpFolder(root, JOB)), '2770', "the job's temporary folder: the algorithm writes there");
    t.is(await mode(join(root, 'tmp')), '700');
    for (const path of [folder, join(folder, 'input'), join(folder, 'output'), agentJobTmpFolder(root, JOB)]) {
      t.is((await stat(path)).gid, FS_GROUP, `${path} belongs to fs_group`);
    }
    t.is((await readFile(join(folder, 'input'))).toString(), '{"method":"echo"}');
  });
}

test('prepare keeps an output a pod of the run already wrote (a retried launch)', async (t) => {
  const { files, folder } = await volume(t);
  await writeFile(join(folder, 'output'), '{"done":true}');
  await files.prepare(RUN, JOB, Buffer.from('{}'));
  t.is((await readFile(join(folder, 'output'))).toString(), '{"done":true}');
});

test('prepare refuses a run folder or input that is a symbolic link, and writes nothing through it', async (t) => {
  const root = await mkdtemp('/var/tmp/v6-run-files-');
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const elsewhere = join(root, 'elsewhere');
  await mkdir(elsewhere);
  await symlink(elsewhere, agentRunFolder(root, RUN));
  const files = new RunFiles(root, FS_GROUP);
  const error = await t.throwsAsync(files.prepare(RUN, JOB, Buffer.from('{}')), { instanceOf: RunFileRefusedError });
  t.regex(error.message, /the run folder is a symbolic link/);
  t.deepEqual(await readdir(elsewhere), []);

  await rm(agentRunFolder(root, RUN));
  await mkdir(agentRunFolder(root, RUN));
  const secret = join(root, 'secret');
  await writeFile(secret, 'SECRET');
  await symlink(secret, join(agentRunFolder(root, RUN), 'input'));
  await t.throwsAsync(files.prepare(RUN, JOB, Buffer.from('{}')), { instanceOf: RunFileRefusedError, message: /input is a symbolic link/ });
  t.is(await readFile(secret, 'utf8'), 'SECRET');
});

test('readOutput reads a regular output, and an absent one as empty', async (t) => {
  const { files, folder } = await volume(t);
  t.is((await files.readOutput(RUN, 100)).length, 0);
  await writeFile(join(folder, 'output'), '{"sum":42}');
  t.is((await files.readOutput(RUN, 100)).toString(), '{"sum":42}');
  await rm(join(folder, 'output'));
  t.is((await files.readOutput(RUN, 100)).length, 0);
});

/** Each thing an algorithm could leave as `output`, and what the refusal must call it. */
const hostile: Array<[string, RegExp, (folder: string, root: string) => Promise<void>]> = [
  ['a symbolic link to the agent\'s environment', /a symbolic link/, (f) => symlink('/proc/self/environ', join(f, 'output'))],
  ['a symbolic link to a key file', /a symbolic link/, async (f, root) => {
    await writeFile(join(root, 'private_key.pem'), '-----BEGIN PRIVATE KEY-----SECRET');
    await symlink(join(root, 'private_key.pem'), join(f, 'output'));
  }],
  ["a symbolic link to another run's input", /a symbolic link/, async (f, root) => {
    await symlink(join(agentRunFolder(root, RUN + 1), 'input'), join(f, 'output'));
  }],
  ['a symbolic link to /dev/zero', /a symbolic link/, (f) => symlink('/dev/zero', join(f, 'output'))],
  ['a FIFO', /a FIFO/, async (f) => void execFileSync('mkfifo', [join(f, 'output')])],
  ['a directory', /a directory/, (f) => mkdir(join(f, 'output'))],
  ["a hard link to another run's input", /a hard link \(2 names for one file\)/, (f, root) => link(join(agentRunFolder(root, RUN + 1), 'input'), join(f, 'output'))],
  // Bound by a process that leaves the socket's name behind (Node's server would unlink it on close).
  ['a socket', /a FIFO or a socket/, async (f) => void execFileSync('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', join(f, 'output')])],
];

for (const [what, found, plant] of hostile) {
  test(`readOutput refuses ${what} as the output, saying what it found, and leaks nothing`, async (t) => {
    const { root, files, folder } = await volume(t);
    await files.prepare(RUN + 1, JOB, Buffer.from('{"other":"run input SECRET"}'));
    await rm(join(folder, 'output'));
    await plant(folder, root);
    const error = await t.throwsAsync(files.readOutput(RUN, 1_000_000), { instanceOf: RunFileRefusedError });
    t.regex(error.message, new RegExp(`^the run's output is ${found.source}`));
    t.notRegex(error.message, /SECRET/);
    await files.remove(RUN);
    t.is((await readFile(join(agentRunFolder(root, RUN + 1), 'input'), 'utf8')), '{"other":"run input SECRET"}', 'removing the run touched nothing it pointed at');
  });
}

test('readOutput refuses an output over the limit by its size, even a sparse one, without reading it', async (t) => {
  const { files, folder } = await volume(t);
  await writeFile(join(folder, 'output'), 'x'.repeat(101));
  const error = await t.throwsAsync(files.readOutput(RUN, 100), { instanceOf: OutputTooLargeError });
  t.is(error.size, 101);
  execFileSync('truncate', ['-s', '64G', join(folder, 'output')]);
  const sparse = await t.throwsAsync(files.readOutput(RUN, 100), { instanceOf: OutputTooLargeError });
  t.is(sparse.size, 64 * 1024 ** 3);
});

test("the agent's own files of a run (token, log) live outside the run folder, readable by the agent only", async (t) => {
  const { root, files, folder } = await volume(t);
  await files.saveToken(RUN, 'container-token');
  await files.saveLog(RUN, 'the log');
  t.deepEqual((await readdir(folder)).sort(), ['input', 'output'], 'nothing of the agent in the folder the pod mounts');
  const own = agentPrivateRunFolder(root, RUN);
  t.is(await mode(own), '700');
  t.is(await mode(join(own, 'token')), '600');
  t.is(await mode(join(own, 'log')), '600');
  // A log or token an algorithm plants in its own folder is not what the agent reads back.
  await symlink('/proc/self/environ', join(folder, 'log'));
  await symlink('/proc/self/environ', join(folder, 'token'));
  t.is(await files.savedLog(RUN), 'the log');
  t.is(await files.savedToken(RUN), 'container-token');
  await files.remove(RUN);
  t.is(await files.savedLog(RUN), undefined);
  t.is(await files.savedToken(RUN), undefined);
  await t.throwsAsync(lstat(folder), { code: 'ENOENT' });
});

test('a saved log is cut at MAX_LOG_BYTES, so reading it back can never be refused', async (t) => {
  const { files } = await volume(t);
  const { MAX_LOG_BYTES } = await import('./run-files.js');
  await files.saveLog(RUN, 'y'.repeat(MAX_LOG_BYTES + 10));
  t.is((await files.savedLog(RUN))?.length, MAX_LOG_BYTES);
});

test('runFolderAccessProblems: algorithms may not run as the agent, and the agent must be in fs_group', (t) => {
  const run = { run_as_user: 10_000, fs_group: 10_000 };
  t.deepEqual(runFolderAccessProblems(run, { uid: 1000, gid: 10_000, groups: [] }), [], 'the chart: uid 1000, group 10000');
  t.deepEqual(runFolderAccessProblems(run, { uid: 0, gid: 0, groups: [] }), [], 'root may give folders to any group');
  t.deepEqual(runFolderAccessProblems(run, { uid: 1000, gid: 1000, groups: [10_000] }), [], 'a supplementary group will do');
  const [sameUser] = runFolderAccessProblems({ run_as_user: 1000, fs_group: 10_000 }, { uid: 1000, gid: 10_000, groups: [] });
  t.regex(sameUser ?? '', /^kubernetes\.run\.run_as_user: 1000 is the agent's own uid/);
  const [notMember] = runFolderAccessProblems(run, { uid: 1000, gid: 1000, groups: [] });
  t.regex(notMember ?? '', /^kubernetes\.run\.fs_group: the agent \(uid 1000, gid 1000\) is not in group 10000/);
});

/** What could stand where the agent writes, and how each must be refused (never written through). */
const inTheWay: Array<[string, RegExp, (path: string, root: string) => Promise<void>]> = [
  ['a symbolic link', /is a symbolic link/, (p, root) => symlink(join(root, 'victim'), p)],
  ['a FIFO', /is a FIFO/, async (p) => void execFileSync('mkfifo', [p])],
  ['a directory', /is a directory/, (p) => mkdir(p)],
  ['a hard link', /is a hard link/, (p, root) => link(join(root, 'victim'), p)],
];
const places: Array<[string, (root: string) => string, (files: RunFiles) => Promise<unknown>]> = [
  ["the run's input", (root) => join(agentRunFolder(root, RUN), 'input'), (files) => files.prepare(RUN, JOB, Buffer.from('{}'))],
  ["the job's temporary folder", (root) => agentJobTmpFolder(root, JOB), (files) => files.prepare(RUN, JOB, Buffer.from('{}'))],
  ["the agent's log of the run", (root) => join(agentPrivateRunFolder(root, RUN), 'log'), (files) => files.saveLog(RUN, 'log')],
  ["the agent's token of the run", (root) => join(agentPrivateRunFolder(root, RUN), 'token'), (files) => files.saveToken(RUN, 'token')],
];
for (const [place, pathOf, write] of places) {
  for (const [what, found, plant] of inTheWay) {
    // A folder in the way of a folder is what it expects; a hard link to a folder cannot be made.
    if (place.includes('folder') && (what === 'a directory' || what === 'a hard link')) continue;
    test(`the agent refuses ${what} in place of ${place}, and writes nothing through it`, async (t) => {
      const root = await mkdtemp('/var/tmp/v6-run-files-');
      t.teardown(() => rm(root, { recursive: true, force: true }));
      const files = new RunFiles(root, FS_GROUP);
      await files.prepare(RUN, JOB, Buffer.from('{}'));
      await files.saveLog(RUN, 'first');
      await writeFile(join(root, 'victim'), 'VICTIM');
      const path = pathOf(root);
      await rm(path, { recursive: true, force: true });
      await plant(path, root);
      const error = await t.throwsAsync(write(files), { instanceOf: RunFileRefusedError });
      t.regex(error.message, new RegExp(`^${place.replace(/'/g, "'")} ${found.source}`));
      t.is(await readFile(join(root, 'victim'), 'utf8'), 'VICTIM');
    });
  }
}
