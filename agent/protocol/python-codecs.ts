/**
 * Python's byte codecs as vantage6 uses them, where Node's built-ins differ:
 * - `base64.b64decode(text.encode("utf-8"))` (CPython 3.11 `binascii.a2b_base64`, non-strict):
 *   bytes outside the alphabet are skipped, decoding stops at the padding that completes a
 *   quantum, and a dangling quantum is an error. Node's decoder never fails, so it cannot say
 *   which messages vantage6 rejects.
 * - `base64.b32encode` / `b32decode` (RFC 4648 alphabet, upper case only, padding required).
 * - `bytes.decode("utf-8")` (strict; a BOM is kept as U+FEFF).
 */
import { isUtf8 } from 'node:buffer';
import { Base64Error, NotUtf8Error } from './errors.js';

const B64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_VALUES = alphabetTable(B64_ALPHABET);
const B64_PAD = 0x3d; // '='

const B32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const B32_VALUES = alphabetTable(B32_ALPHABET);
/** Python accepts only these numbers of trailing '=' in the last 8-character quantum. */
const B32_VALID_PADDING = new Set([0, 1, 3, 4, 6]);


const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Standard base64 with padding (`base64.b64encode(data).decode()`). */
export function b64encode(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
}

/** `base64.b64decode` of the UTF-8 bytes of `text` (or of `text` itself when it is bytes). */
export function b64decode(text: string | Uint8Array): Buffer {
  // Canonical base64 decodes the same under every rule: let the native decoder do it.
  if (typeof text === 'string') {
    const native = decodeCanonical(text);
    if (native !== undefined) return native;
  }
  const input = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const out = Buffer.allocUnsafe(Math.floor((input.length * 3) / 4) + 3);
  let length = 0;
  let quadPos = 0;
  let pads = 0;
  let left = 0;
  for (const byte of input) {
    if (byte === B64_PAD) {
      // Only padding that can end the current quantum counts; it ends the input.
      if (quadPos >= 2 && quadPos + ++pads >= 4) return out.subarray(0, length);
      continue;
    }
    const value = B64_VALUES[byte] ?? -1;
    if (value < 0) continue;
    pads = 0;
    switch (quadPos) {
      case 0:
        left = value;
        break;
      case 1:
        out[length++] = ((left << 2) | (value >> 4)) & 0xff;
        left = value & 0x0f;
        break;
      case 2:
        out[length++] = ((left << 4) | (value >> 2)) & 0xff;
        left = value & 0x03;
        break;
      default:
        out[length++] = ((left << 6) | value) & 0xff;
    }
    quadPos = (quadPos + 1) % 4;
  }
  if (quadPos === 1) throw new Base64Error('Invalid base64-encoded string: number of data characters is 1 more than a multiple of 4');
  if (quadPos !== 0) throw new Base64Error('Incorrect padding');
  return out.subarray(0, length);
}

/**
 * `text` decoded natively when it is canonical base64 (only alphabet characters, length a
 * multiple of 4, at most two '=' at the end), else `undefined`. One native pass instead of a
 * regular expression and a decode: Node's decoder skips (or stops at) any character outside the
 * alphabet, so such a character leaves fewer bytes than the length promises. Node also takes the
 * URL-safe '-' and '_', which Python skips: those are excluded first (memchr-fast).
 */
function decodeCanonical(text: string): Buffer | undefined {
  if (text.length % 4 !== 0 || text.includes('-') || text.includes('_')) return undefined;
  const pads = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const decoded = Buffer.from(text, 'base64');
  return decoded.length === (text.length / 4) * 3 - pads ? decoded : undefined;
}

/** `base64.b32encode(data).decode()`. */
export function b32encode(data: Uint8Array): string {
  let text = '';
  for (let i = 0; i < data.length; i += 5) {
    const chunk = data.subarray(i, i + 5);
    let bits = 0n;
    for (let j = 0; j < 5; j++) bits = (bits << 8n) | BigInt(chunk[j] ?? 0);
    const chars = Math.ceil((chunk.length * 8) / 5);
    for (let j = 0; j < 8; j++) {
      text += j < chars ? B32_ALPHABET[Number((bits >> BigInt(35 - 5 * j)) & 31n)] : '=';
    }
  }
  return text;
}

/** `base64.b32decode(bytes)` (no casefold): the decoded bytes, or `undefined` where Python raises `binascii.Error`. */
export function b32decode(input: Uint8Array): Buffer | undefined {
  if (input.length % 8 !== 0) return undefined;
  let end = input.length;
  while (end > 0 && input[end - 1] === B64_PAD) end--;
  const padding = input.length - end;
  if (!B32_VALID_PADDING.has(padding)) return undefined;
  const out: number[] = [];
  for (let i = 0; i < end; i += 8) {
    let bits = 0n;
    for (let j = i; j < i + 8; j++) {
      const value = j < end ? (B32_VALUES[input[j] ?? 0] ?? -1) : 0;
      if (value < 0) return undefined;
      bits = (bits << 5n) | BigInt(value);
    }
    for (let k = 4; k >= 0; k--) out.push(Number((bits >> BigInt(8 * k)) & 0xffn));
  }
  // The last quantum carries floor((40 - 5 * padding) / 8) bytes; its spare bits are ignored.
  const spare = padding === 0 ? 0 : 5 - Math.floor((40 - 5 * padding) / 8);
  return Buffer.from(out.slice(0, out.length - spare));
}

/** Whether `data` is strict UTF-8 (`bytes.decode("utf-8")` would succeed). */
export function isStrictUtf8(data: Uint8Array): boolean {
  return isUtf8(data);
}

/** Throws what `decodeUtf8` throws for `data`, without decoding it. */
export function checkUtf8(data: Uint8Array, what: string): void {
  if (!isUtf8(data)) throw new NotUtf8Error(what);
}

/** `data.decode("utf-8")`; `what` names the bytes in the error. */
export function decodeUtf8(data: Uint8Array, what: string): string {
  if (!isUtf8(data)) throw new NotUtf8Error(what);
  return strictUtf8.decode(data);
}

function alphabetTable(alphabet: string): Int8Array {
  const table = new Int8Array(256).fill(-1);
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i;
  return table;
}
