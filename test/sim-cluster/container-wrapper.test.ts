import test from 'ava';
import { setupScript, type HostEntry, type HostView } from './container-wrapper.js';

const tools = { mount: 'mount', mkdir: 'mkdir', ln: 'ln', chroot: 'chroot', setpriv: 'setpriv' };
const files = { root: '/state/root', entrypoint: '/state/entrypoint.sh', startError: '/state/start-error' };

/** A host of folders (path → entries); `/var/run` is a symlink to `/run`. */
function host(folders: Record<string, HostEntry[]>): HostView {
  const links: Record<string, string> = { '/var/run': '/run' };
  return {
    resolve(path) {
      const parts = path.split('/').filter(Boolean);
      for (let count = parts.length; count > 0; count--) {
        const prefix = `/${parts.slice(0, count).join('/')}`;
        const parent = `/${parts.slice(0, count - 1).join('/')}`;
        if (!(folders[parent] ?? []).some((e) => e.name === parts[count - 1])) continue;
        return { existing: links[prefix] ?? prefix, missing: parts.slice(count) };
      }
      return { existing: '/', missing: parts };
    },
    folder: (path) => ({ mode: 0o755, uid: 0, gid: 0, entries: folders[path] ?? [] }),
  };
}

const dirs = (...names: string[]): HostEntry[] => names.map((name) => ({ name, kind: 'dir' }));

test('only the deepest folder the host has is covered, so a mount costs a few mount calls, not one per host entry', (t) => {
  const view = host({
    '/': [...dirs('etc', 'mnt', 'proc', 'run', 'tmp', 'usr', 'var'), { name: 'bin', kind: 'symlink', link: 'usr/bin' }],
    '/mnt': [...dirs('data', 'tmp'), { name: 'token', kind: 'file' }],
    '/run': dirs('lock'),
    '/var': [...dirs('lib'), { name: 'run', kind: 'symlink', link: '/run' }],
  });
  const script = setupScript({
    mounts: [
      { source: '/vol/task', target: '/mnt/task-1/in', readOnly: true, file: false },
      { source: '/vol/token', target: '/var/run/v6/token', readOnly: false, file: true },
    ],
  }, files, view, tools);
  const mounts = script.split('\n').filter((line) => line.startsWith('mount '));
  t.deepEqual(mounts, [
    'mount --rbind / \'/state/root\'',
    'mount -t tmpfs -o mode=755,uid=0,gid=0 v6-sim-root \'/state/root/mnt\'',
    'mount --no-canonicalize --rbind \'./data\' \'/state/root/mnt/data\' || [ ! -e \'./data\' ]',
    'mount --no-canonicalize --rbind \'./tmp\' \'/state/root/mnt/tmp\' || [ ! -e \'./tmp\' ]',
    'mount --no-canonicalize --rbind \'./token\' \'/state/root/mnt/token\' || [ ! -e \'./token\' ]',
    'mount -t tmpfs -o mode=755,uid=0,gid=0 v6-sim-root \'/state/root/run\'',
    'mount --no-canonicalize --rbind \'./lock\' \'/state/root/run/lock\' || [ ! -e \'./lock\' ]',
    'mount --bind \'/vol/task\' \'/state/root/mnt/task-1/in\'',
    'mount -o remount,bind,ro \'/state/root/mnt/task-1/in\'',
    'mount --bind \'/vol/token\' \'/state/root/run/v6/token\'',
  ], 'the mount under the symlinked /var/run is made where it leads, in /run');
  t.regex(script, /^: > '\/state\/root\/mnt\/token'$/m, 'a host file is bound onto a file');
  t.regex(script, /^\[ -e '\/state\/root\/run\/v6\/token' \] \|\| \{ mkdir -p '\/state\/root\/run\/v6'; : > '\/state\/root\/run\/v6\/token'; \}$/m);
});

test('a folder the container\'s root must add at the top copies the host\'s top-level symlinks', (t) => {
  const view = host({ '/': [...dirs('usr', 'proc'), { name: 'bin', kind: 'symlink', link: 'usr/bin' }] });
  const script = setupScript({ mounts: [{ source: '/vol', target: '/app', readOnly: false, file: false }], workingDir: '/work' }, files, view, tools);
  t.regex(script, /^ln -s 'usr\/bin' '\/state\/root\/bin'$/m);
  t.regex(script, /^mkdir '\/state\/root\/usr' '\/state\/root\/proc'$/m);
  t.regex(script, /^mkdir -p '\/state\/root\/app'\nmount --bind '\/vol' '\/state\/root\/app'\nmkdir -p '\/state\/root\/work'$/m);
  t.regex(script, /\nexec chroot '\/state\/root' \/bin\/sh '\/state\/entrypoint.sh' "\$@"\n$/);
});
