// The vantage6 4.x algorithm contract as an algorithm image sees it (what the upstream
// algorithm tools do): environment values are base32 with '=' written as '!', the input is a
// JSON file, the output a JSON file, the token a file, the server reached at HOST:PORT/API_PATH.
// Plain JavaScript so the simulated kubelet can run it with nothing but node.
import { readFileSync, writeFileSync } from 'node:fs';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** get_env_var: base32-decoded value, or the raw value when it is not base32. */
export function env(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined) return fallback;
  const text = raw.replaceAll('!', '=');
  if (!/^[A-Z2-7]*=*$/.test(text) || text.length % 8 !== 0) return raw;
  let bits = 0;
  let value = 0;
  const bytes = [];
  for (const char of text.replace(/=+$/, '')) {
    value = (value << 5) | ALPHABET.indexOf(char);
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

export function readInput() {
  return JSON.parse(readFileSync(env('INPUT_FILE'), 'utf8'));
}

export function writeOutput(result) {
  writeFileSync(env('OUTPUT_FILE'), JSON.stringify(result));
}

/** The first requested database as rows of a CSV file with a header line. */
export function readCsvDatabase() {
  const label = env('USER_REQUESTED_DATABASE_LABELS', '').split(',')[0];
  const uri = env(`${label.toUpperCase()}_DATABASE_URI`);
  const [header, ...lines] = readFileSync(uri, 'utf8').trim().split('\n');
  const columns = header.split(',');
  return lines.map((line) => Object.fromEntries(line.split(',').map((cell, i) => [columns[i], cell])));
}

/** A client of the node's proxy, as the upstream AlgorithmClient: bearer token from TOKEN_FILE. */
export function proxyClient() {
  const base = `${env('HOST')}:${env('PORT')}${env('API_PATH', '')}`;
  const token = readFileSync(env('TOKEN_FILE'), 'utf8').trim();
  return async (method, path, body) => {
    const response = await fetch(`${base}/${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text}`);
    return JSON.parse(text);
  };
}

/**
 * Runs the method the input names with its kwargs and writes what it returns as the output, as the
 * upstream algorithm wrapper does; an unknown method exits with code 2.
 */
export async function serve(methods) {
  const input = readInput();
  const method = methods[input.method];
  if (!method) {
    console.error(`unknown method ${input.method}`);
    process.exit(2);
  }
  console.log(`running ${input.method}`);
  writeOutput(await method(input.kwargs ?? {}));
}
