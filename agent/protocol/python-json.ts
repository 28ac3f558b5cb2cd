/**
 * Whether Python's `json.loads(text)` accepts `text`. It accepts what `JSON.parse` accepts plus
 * the bare constants `NaN`, `Infinity` and `-Infinity` where a value may stand. vantage6 uses this
 * test to tell the node's plain JSON from the UI's base64-wrapped JSON after decryption.
 *
 * Not covered: Python's recursion limit (nesting deeper than about 1,000 levels makes Python raise
 * RecursionError; we accept such text).
 */
const PYTHON_CONSTANTS = ['-Infinity', 'Infinity', 'NaN'];

export function isPythonJson(text: string): boolean {
  return parses(text) || parses(withPythonConstantsReplaced(text));
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Outside string literals, each Python constant becomes ` 0 `: a value of its own wherever the
 * constant would be one, and a syntax error wherever it would not (`1NaN`, `-NaN`, `{NaN: 1}`).
 */
function withPythonConstantsReplaced(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (inString) {
      out += ch;
      if (ch === '\\') out += text[++i] ?? '';
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    const constant = PYTHON_CONSTANTS.find((c) => text.startsWith(c, i));
    if (constant === undefined) {
      out += ch;
    } else {
      out += ' 0 ';
      i += constant.length - 1;
    }
  }
  return out;
}

/**
 * `isPythonJson` of the UTF-8 text `data` (already checked to be UTF-8) without decoding it or
 * building the parsed value: a syntax check over the bytes, so a large result costs no string
 * and no object graph. Grammar: RFC 8259 (what `JSON.parse` accepts) plus `NaN`, `Infinity` and
 * `-Infinity` as values; inside strings, bytes from 0x20 up (UTF-8 is valid) and the JSON escapes.
 * Callers may still confirm a `false` with `isPythonJson`; a `true` is final.
 */
export function isPythonJsonBytes(data: Uint8Array): boolean {
  const n = data.length;
  const stack: number[] = [];
  let i = skipSpace(data, 0);
  for (;;) {
    // A value starts at i.
    const c = data[i];
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      i = skipSpace(data, i + 1);
      if (data[i] === (c === OPEN_OBJECT ? CLOSE_OBJECT : CLOSE_ARRAY)) {
        i++;
      } else {
        stack.push(c);
        if (c === OPEN_OBJECT && (i = member(data, i)) < 0) return false;
        continue;
      }
    } else if (c === QUOTE) {
      if ((i = string(data, i)) < 0) return false;
    } else if ((i = scalar(data, i)) < 0) {
      return false;
    }
    // After a value: close containers, or a comma and the next value.
    for (;;) {
      i = skipSpace(data, i);
      if (stack.length === 0) return i === n;
      const top = stack[stack.length - 1];
      const ch = data[i];
      if (ch === COMMA) {
        i = skipSpace(data, i + 1);
        if (top === OPEN_OBJECT && (i = member(data, i)) < 0) return false;
        break;
      }
      if (ch !== (top === OPEN_OBJECT ? CLOSE_OBJECT : CLOSE_ARRAY)) return false;
      stack.pop();
      i++;
    }
  }
}

export const OPEN_OBJECT = 0x7b;
export const CLOSE_OBJECT = 0x7d;
export const OPEN_ARRAY = 0x5b;
export const CLOSE_ARRAY = 0x5d;
export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const MINUS = 0x2d;
export const ESCAPED = new Set([0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74]); // " \ / b f n r t
export const LITERALS = ['true', 'false', 'null', ...PYTHON_CONSTANTS].map((l) => Buffer.from(l));

function skipSpace(data: Uint8Array, i: number): number {
  for (let c = data[i]; c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09; c = data[++i]);
  return i;
}

/** `"key" :` at i (whitespace skipped after); the index of the value, or -1. */
function member(data: Uint8Array, i: number): number {
  if (data[i] !== QUOTE || (i = string(data, i)) < 0) return -1;
  i = skipSpace(data, i);
  return data[i] === COLON ? skipSpace(data, i + 1) : -1;
}

/** The string starting with the quote at i: the index after its closing quote, or -1. */
function string(data: Uint8Array, i: number): number {
  const n = data.length;
  for (i++; i < n; i++) {
    const c = data[i]!;
    if (c === QUOTE) return i + 1;
    if (c < 0x20) return -1;
    if (c !== BACKSLASH) continue;
    const e = data[++i];
    if (e === 0x75) {
      // \uXXXX
      for (let k = 1; k <= 4; k++) if (!isHex(data[i + k])) return -1;
      i += 4;
    } else if (e === undefined || !ESCAPED.has(e)) {
      return -1;
    }
  }
  return -1;
}

/** A number or literal at i: the index after it, or -1. */
function scalar(data: Uint8Array, i: number): number {
  for (const literal of LITERALS) {
    if (data[i] === literal[0] && startsWith(data, literal, i)) return i + literal.length;
  }
  const start = i;
  if (data[i] === MINUS) i++;
  if (data[i] === 0x30) i++;
  else if (isDigit19(data[i])) while (isDigit(data[++i]));
  else return -1;
  if (data[i] === 0x2e) {
    if (!isDigit(data[++i])) return -1;
    while (isDigit(data[++i]));
  }
  if (data[i] === 0x65 || data[i] === 0x45) {
    i++;
    if (data[i] === 0x2b || data[i] === MINUS) i++;
    if (!isDigit(data[i])) return -1;
    while (isDigit(data[++i]));
  }
  return i > start ? i : -1;
}

function startsWith(data: Uint8Array, literal: Uint8Array, i: number): boolean {
  if (i + literal.length > data.length) return false;
  for (let k = 1; k < literal.length; k++) if (data[i + k] !== literal[k]) return false;
  return true;
}

export const isDigit = (c: number | undefined): boolean => c !== undefined && c >= 0x30 && c <= 0x39;
const isDigit19 = (c: number | undefined): boolean => c !== undefined && c >= 0x31 && c <= 0x39;
export const isHex = (c: number | undefined): boolean => c !== undefined && ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66));
