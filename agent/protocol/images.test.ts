import test from 'ava';
import { readFileSync } from 'node:fs';
import { InvalidImageNameError } from './errors.js';
import { imageWithoutTag, parseImageName } from './images.js';

interface Outcome {
  ok: boolean;
  registry?: string;
  repository?: string;
  tag?: string;
  result?: string;
}
const vectors = JSON.parse(readFileSync(new URL('../../test/fixtures/vectors/images.json', import.meta.url), 'utf8')) as {
  cases: { input: string; source: string; parse_image_name: Outcome; get_image_name_wo_tag: Outcome }[];
};

function outcome<T extends object>(run: () => T): Outcome {
  try {
    return { ok: true, ...run() };
  } catch (error) {
    if (!(error instanceof InvalidImageNameError)) throw error;
    return { ok: false };
  }
}

function expected({ ok, registry, repository, tag, result }: Outcome): Outcome {
  if (!ok) return { ok };
  return result === undefined ? { ok, registry, repository, tag } : { ok, result };
}

for (const c of vectors.cases) {
  test(`${JSON.stringify(c.input)} (${c.source.split('::').pop() ?? c.source})`, (t) => {
    t.deepEqual(
      { parsed: outcome(() => parseImageName(c.input)), withoutTag: outcome(() => ({ result: imageWithoutTag(c.input) })) },
      { parsed: expected(c.parse_image_name), withoutTag: expected(c.get_image_name_wo_tag) },
      c.input,
    );
  });
}
