/**
 * Algorithm container environment values (spec A8). The node encodes every value as
 * `base32(utf8(str(value)))` with each '=' replaced by '!' (`_encode_environment_variables`); the
 * algorithm decodes with `get_env_var` (vantage6-algorithm-tools util.py).
 */
import { EnvValueError } from './errors.js';
import { b32decode, b32encode, decodeUtf8 } from './python-codecs.js';

/** vantage6's `ENV_VAR_EQUALS_REPLACEMENT`. */
export const ENV_VAR_EQUALS_REPLACEMENT = '!';

/** Set in the algorithm image's Dockerfile; the node may not override it. */
const RESERVED_ENV_NAME = 'PKG_NAME';

export type EnvValue = string | number | boolean | null;

/** Encode a value as the node does. Numbers follow Python's `str()`: integral numbers print as ints. */
export function encodeEnvValue(value: EnvValue): string {
  return b32encode(Buffer.from(pythonStr(value), 'utf8')).replaceAll('=', ENV_VAR_EQUALS_REPLACEMENT);
}

export type EnvValueType = 'str' | 'bool' | 'int';
export type DecodedEnvValue<T extends EnvValueType> = T extends 'bool' ? boolean : T extends 'int' ? number : string;

/**
 * `get_env_var(name, as_type=asType)` for a variable that is set to `raw`: '!' back to '=', then
 * base32; a value that is not valid base32 is returned as is. Throws `NotUtf8Error` for base32
 * that is not UTF-8, and `EnvValueError` when the value is not the requested bool
 * (`true/1/yes/t`, `false/0/no/f`, so an encoded Python `True` fails) or int.
 */
export function decodeEnvValue<T extends EnvValueType = 'str'>(raw: string, asType?: T): DecodedEnvValue<T> {
  const decoded = b32decode(Buffer.from(raw.replaceAll(ENV_VAR_EQUALS_REPLACEMENT, '='), 'utf8'));
  const value = decoded === undefined ? raw : decodeUtf8(decoded, 'the base32-decoded environment value');
  switch (asType ?? 'str') {
    case 'bool':
      return toBool(value) as DecodedEnvValue<T>;
    case 'int':
      return toInt(value) as DecodedEnvValue<T>;
    default:
      return value as DecodedEnvValue<T>;
  }
}

/** Whether the node may set an environment variable of this name: Python `str.isidentifier()` and not `PKG_NAME`. */
export function isValidEnvName(name: string): boolean {
  return /^[\p{XID_Start}_]\p{XID_Continue}*$/u.test(name) && name !== RESERVED_ENV_NAME;
}

function toBool(value: string): boolean {
  if (['true', '1', 'yes', 't'].includes(value)) return true;
  if (['false', '0', 'no', 'f'].includes(value)) return false;
  throw new EnvValueError(`environment value '${value}' cannot be converted to a boolean value; use 'false' or 'true'`);
}

/** Python `int(str)`: surrounding whitespace, a sign, and single '_' between ASCII digits. */
function toInt(value: string): number {
  const text = value.trim();
  if (!/^[+-]?\d+(_\d+)*$/.test(text)) {
    throw new EnvValueError(`environment value '${value}' cannot be converted to an integer`);
  }
  return Number(text.replaceAll('_', ''));
}

/** Python `str()` of a scalar. */
function pythonStr(value: EnvValue): string {
  if (value === null) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'string') return value;
  return pythonNumberStr(value);
}

/** An integral number prints as a Python int; anything else as Python's `repr(float)`. */
function pythonNumberStr(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
  if (Number.isInteger(value)) return BigInt(value).toString();
  // Python prints the shortest round-trip digits (as JS does) in exponent form below 1e-4.
  const [mantissa, exponent] = value.toExponential().split('e') as [string, string];
  const power = Number(exponent);
  if (power >= -4) return String(value);
  return `${mantissa}e-${String(-power).padStart(2, '0')}`;
}
