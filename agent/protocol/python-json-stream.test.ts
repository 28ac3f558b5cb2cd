import test from 'ava';
import { isPythonJsonBytes } from './python-json.js';
import { PythonJsonChecker } from './python-json-stream.js';

const SAMPLES = [
  '{}', '[]', ' [ ] ', '0', '-0', '12', '-12.5e+3', '1E9', '1.', '.5', '01', '-', '--1', '1e', '1e+', 'true', 'tru', 'truex', 'true false',
  'null', 'NaN', '-NaN', 'Infinity', '-Infinity', '-Inf', '[NaN,-Infinity,Infinity]', '{"a":NaN}', '{NaN:1}', '1NaN', '[1 2]', '[1,]', '[,1]',
  '{"a":1,}', '{"a" 1}', '{"a":}', '{"a":1}x', '"abc"', '"a\\"b"', '"\\u00e9"', '"\\u00g9"', '"\\x"', '"a\nb"', '"unterminated', '',
  '   ', '{"a":[1,{"b":[true,false,null,"x"]}],"c":-1.5E-7}', '[[[[]]]]', '[[[[]]]', '[]]', '{]', '[}', '{"a":1}}', '"é"', '[1e5,2E-5,0.0]',
  '{"k": "v" , "k2" : [ 1 , 2 ] }', '1 ', ' 1', '[-]', '[-0.0e-0]', 'nul', 'nulll', '{"":""}', '["\\/\\b\\f\\n\\r\\t"]',
];

function chunked(checker: PythonJsonChecker, data: Buffer, size: number): boolean {
  for (let i = 0; i < data.length; i += size) checker.update(data.subarray(i, i + size));
  return checker.end();
}

test('the streaming check agrees with isPythonJsonBytes on every sample, however it is chunked', (t) => {
  for (const sample of SAMPLES) {
    const data = Buffer.from(sample);
    const expected = isPythonJsonBytes(data);
    for (const size of [1, 2, 3, 7, 1024]) t.is(chunked(new PythonJsonChecker(), data, size), expected, `${JSON.stringify(sample)} in chunks of ${size}`);
  }
});

test('the streaming check agrees with isPythonJsonBytes on generated documents and their mutations', (t) => {
  let seed = 7;
  const random = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) % n);
  const value = (depth: number): string => {
    switch (random(depth > 3 ? 5 : 7)) {
      case 0: return String(random(2000) - 1000) + (random(2) ? `.${random(100)}` : '') + (random(3) === 0 ? `e${random(2) ? '-' : ''}${random(30)}` : '');
      case 1: return ['true', 'false', 'null', 'NaN', 'Infinity', '-Infinity'][random(6)]!;
      case 2: return JSON.stringify(`s${random(100)}\n"é`);
      case 3: case 4: return `"x${random(9)}"`;
      case 5: return `[${Array.from({ length: random(4) }, () => value(depth + 1)).join(random(2) ? ',' : ' , ')}]`;
      default: return `{${Array.from({ length: random(4) }, (_, k) => `"k${k}":${value(depth + 1)}`).join(',')}}`;
    }
  };
  const noise = [' ', ',', ']', '}', '"', '\\', 'N', '-', '0', 'e', '.', ':'];
  for (let n = 0; n < 400; n++) {
    let text = value(0);
    if (n % 2 === 1) {
      const at = random(text.length + 1);
      text = random(2) ? text.slice(0, at) + noise[random(noise.length)] + text.slice(at) : text.slice(0, at) + text.slice(at + 1);
    }
    const data = Buffer.from(text);
    t.is(chunked(new PythonJsonChecker(), data, 1 + random(5)), isPythonJsonBytes(data), text);
  }
});
