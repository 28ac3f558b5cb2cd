// The container image the chart runs by default: static checks of the Dockerfile (the tests
// build no image), and that the chart's pod user is the image's user.
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';

const dockerfile = await readFile(new URL('../../Dockerfile', import.meta.url), 'utf8');
const instructions = dockerfile.split('\n').filter((line) => /^[A-Z]+ /.test(line));

test('multi-stage on node:24-slim, production dependencies only, built with npm run build', (t) => {
  const froms = instructions.filter((l) => l.startsWith('FROM '));
  t.true(froms.length >= 2);
  for (const from of froms) t.regex(from, /^FROM node:24-slim\b/);
  t.true(instructions.some((l) => /^RUN npm ci --omit=dev\b/.test(l)));
  t.true(instructions.some((l) => /^RUN npm run build$/.test(l)));
  t.regex(instructions.filter((l) => l.startsWith('ENTRYPOINT')).at(-1) ?? '', /dist\/agent\/cli\.js/);
});

test('the runtime stage runs as a numeric non-root user, the one the chart runs the node pod as', async (t) => {
  const runtime = instructions.slice(instructions.findLastIndex((l) => l.startsWith('FROM ')));
  const user = runtime.filter((l) => l.startsWith('USER ')).at(-1);
  const match = /^USER (\d+):(\d+)$/.exec(user ?? '');
  t.truthy(match, 'USER uid:gid, numeric so runAsNonRoot can be verified');
  t.not(Number(match![1]), 0);
  const values = parse(await readFile(new URL('../../helm/v6-node/values.yaml', import.meta.url), 'utf8')) as { runAsUser: number };
  t.is(values.runAsUser, Number(match![1]));
});
