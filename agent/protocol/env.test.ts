import test from 'ava';
import { readFileSync } from 'node:fs';
import { decodeEnvValue, encodeEnvValue, isValidEnvName, type EnvValue, type EnvValueType } from './env.js';
import { ProtocolError } from './errors.js';

interface Result {
  ok: boolean;
  result?: unknown;
}
const vectors = JSON.parse(readFileSync(new URL('../../test/fixtures/vectors/env.json', import.meta.url), 'utf8')) as {
  encode: { description: string; value: unknown; value_type: string; encoded: string; decoded_by_get_env_var: Result }[];
  decode: { description: string; env_value: string; as_type: EnvValueType; get_env_var: Result }[];
};

function outcome(run: () => unknown): Result {
  try {
    return { ok: true, result: run() };
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    return { ok: false };
  }
}

function expected(r: Result): Result {
  return r.ok ? { ok: true, result: r.result } : { ok: false };
}

// The node encodes scalars only; the list/dict cases show Python's repr, which no agent value takes.
const SCALAR_TYPES = new Set(['str', 'int', 'float', 'bool', 'NoneType']);

for (const c of vectors.encode.filter((v) => SCALAR_TYPES.has(v.value_type))) {
  test(`encode ${c.description}`, (t) => {
    const encoded = encodeEnvValue(c.value as EnvValue);
    t.deepEqual({ encoded, decoded: outcome(() => decodeEnvValue(encoded)) }, { encoded: c.encoded, decoded: expected(c.decoded_by_get_env_var) }, c.description);
  });
}

for (const c of vectors.decode) {
  test(`decode ${c.description}`, (t) => {
    t.deepEqual(outcome(() => decodeEnvValue(c.env_value, c.as_type)), expected(c.get_env_var), c.description);
  });
}

test('numbers print as Python str() prints them', (t) => {
  const values: EnvValue[] = [0, -7, 2 ** 70, 1.5, -0.25, 1e-4, 1.5e-5, 1e-7, Number.NaN, Infinity, -Infinity];
  t.deepEqual(
    values.map((v) => decodeEnvValue(encodeEnvValue(v))),
    ['0', '-7', '1180591620717411303424', '1.5', '-0.25', '0.0001', '1.5e-05', '1e-07', 'nan', 'inf', '-inf'],
  );
});

test('int conversion follows Python int()', (t) => {
  const raw = [' 42 ', '+7', '-1_000', '1__0', '4.0', ''];
  t.deepEqual(
    raw.map((v) => outcome(() => decodeEnvValue(v, 'int'))),
    [{ ok: true, result: 42 }, { ok: true, result: 7 }, { ok: true, result: -1000 }, { ok: false }, { ok: false }, { ok: false }],
  );
});

test('env names: Python identifiers except PKG_NAME', (t) => {
  const names = ['INPUT_FILE', '_x', 'naïve', 'db1_URI', 'PKG_NAME', 'pkg_name', '1X', 'A-B', 'A B', ''];
  t.deepEqual(
    names.map((n) => isValidEnvName(n)),
    [true, true, true, true, false, true, false, false, false, false],
  );
});
