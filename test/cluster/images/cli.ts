// The image scripts' command line: `npm run image -- <command> [options]`. Progress goes to
// stderr; the last line on stdout is the OCI archive's path (or the pushed digest with --push),
// so `archive=$(npm run -s image -- pause)` works.
import { parseArgs } from 'node:util';
import { buildFolderImage } from './bases.js';
import { nodeBaseImage } from './node-base.js';
import { pauseImage, PAUSE_IMAGE } from './pause.js';
import { productImage } from './product-image.js';
import { pushArchive } from './push.js';
import { pythonBaseImage, type PythonMinor } from './python-base.js';
import { staticBinaryImage, type BuiltImage } from './static-image.js';

const USAGE = `usage: npm run image -- <command> [options]
  product [--name v6-node:<version>]  the product image from ./Dockerfile (also: npm run image:build)
  build   DIR --name REF [--dockerfile PATH] [--build-arg K=V]… [--target STAGE]
                                      an image from a Dockerfile folder; FROM node:24-slim / python:3.11-slim / python:3.13-slim are made here
  base-node                           node:24-slim from Debian bookworm + the project's Node 24 + npm
  base-python [3.11|3.13]             python:3.11-slim (bookworm's python3) or 3.13-slim (trixie's), pip, venv
  pause   [--name ${PAUSE_IMAGE}]  the static pause image for containerd's sandbox_image
  static  --binary PATH --name REF [--path /bin/x] [--user UID:GID] [-- ARGS…]
                                                       an image of one static binary; ARGS become its CMD
  push    --archive PATH --push REF [--creds U:P]      push an OCI archive
every command that builds also takes --push REF [--creds USER:PASS] [--tls-verify]`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    name: { type: 'string' },
    binary: { type: 'string' },
    path: { type: 'string' },
    user: { type: 'string' },
    archive: { type: 'string' },
    dockerfile: { type: 'string' },
    'build-arg': { type: 'string', multiple: true },
    target: { type: 'string' },
    push: { type: 'string' },
    creds: { type: 'string' },
    'tls-verify': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
});

function need(name: keyof typeof values): string {
  const value = values[name];
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

class UsageError extends Error {}

async function build(command: string | undefined, args: string[]): Promise<BuiltImage | undefined> {
  switch (command) {
    case 'pause':
      return pauseImage(values.name ?? PAUSE_IMAGE);
    case 'static':
      return staticBinaryImage({
        name: need('name'),
        binary: need('binary'),
        ...(values.path === undefined ? {} : { path: values.path }),
        ...(values.user === undefined ? {} : { user: values.user }),
        ...(args.length === 0 ? {} : { cmd: args }),
      });
    case 'product':
      return productImage(values.name === undefined ? {} : { name: values.name });
    case 'build': {
      const [context] = args;
      if (context === undefined) throw new UsageError('build: give the Dockerfile folder');
      const buildArgs = Object.fromEntries(
        (values['build-arg'] ?? []).map((kv) => {
          const eq = kv.indexOf('=');
          if (eq < 1) throw new UsageError(`--build-arg ${kv}: expected KEY=VALUE`);
          return [kv.slice(0, eq), kv.slice(eq + 1)];
        }),
      );
      return buildFolderImage({
        context,
        name: need('name'),
        buildArgs,
        ...(values.dockerfile === undefined ? {} : { dockerfile: values.dockerfile }),
        ...(values.target === undefined ? {} : { target: values.target }),
      });
    }
    case 'base-node':
      return nodeBaseImage();
    case 'base-python': {
      const [minor = '3.11'] = args;
      if (minor !== '3.11' && minor !== '3.13') throw new UsageError(`base-python: ${minor} is not made here (3.11 or 3.13)`);
      return pythonBaseImage(minor satisfies PythonMinor);
    }
    case 'push':
      return undefined;
    default:
      throw new UsageError(command === undefined ? 'no command given' : `unknown command ${command}`);
  }
}

try {
  if (values.help) {
    console.log(USAGE);
  } else {
    const [command, ...args] = positionals;
    const started = Date.now();
    const image = await build(command, args);
    if (image !== undefined) console.error(`${image.name} ${image.digest} ${image.cached ? 'from the cache' : 'built'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const archive = image?.archive ?? need('archive');
    if (values.push !== undefined) {
      const digest = await pushArchive(archive, values.push, { tlsVerify: values['tls-verify'], ...(values.creds === undefined ? {} : { creds: values.creds }) });
      console.error(`pushed ${values.push}@${digest}`);
      console.log(digest);
    } else {
      console.log(archive);
    }
  }
} catch (error) {
  if (error instanceof UsageError) {
    console.error(`${error.message}\n${USAGE}`);
    process.exitCode = 64;
  } else {
    console.error(`image: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}
