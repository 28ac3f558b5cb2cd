// A Redis image for the chart's bundled Redis on the local cluster (no registry serves
// `redis:7.2-alpine` here): Debian bookworm's redis-server and redis-cli on minbase, with `sh`,
// which the chart's StatefulSet needs (`sh -c 'exec redis-server /etc/redis/redis.conf …'`), and
// the image's redis user as 999:999, the chart's `redis.runAsUser`/`runAsGroup`.
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { debianImage, inRootfs } from './debian-image.js';
import type { BuiltImage } from './static-image.js';

export const REDIS_IMAGE = 'redis:7.0-bookworm';

/** Builds (or takes from the cache) the Redis image. */
export async function redisImage(name: string = REDIS_IMAGE): Promise<BuiltImage> {
  return debianImage({
    name,
    kind: 'redis',
    include: ['redis-server', 'redis-tools'],
    inputs: ['uid 999'],
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], User: '999:999', WorkingDir: '/data', Cmd: ['redis-server'] },
    customize: async (rootfs) => {
      // The package made its own redis user; the chart runs the container as 999:999.
      for (const file of ['etc/passwd', 'etc/group']) {
        const lines = (await readFile(join(rootfs, file), 'utf8')).split('\n').filter((l) => !l.startsWith('redis:'));
        await writeFile(join(rootfs, file), lines.join('\n'));
      }
      await appendFile(join(rootfs, 'etc/passwd'), 'redis:x:999:999::/data:/usr/sbin/nologin\n');
      await appendFile(join(rootfs, 'etc/group'), 'redis:x:999:\n');
      await inRootfs(rootfs, ['sh', '-c', 'mkdir -p /data && chown 999:999 /data']);
      const version = await inRootfs(rootfs, ['redis-server', '--version']);
      if (!/v=7\./.test(version)) throw new Error(`redis-server in the image says ${version.trim()}, expected 7.x`);
    },
  });
}
