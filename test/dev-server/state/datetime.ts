// Timestamps the way the vantage6 4.x server reads and writes them: it parses PATCHed datetimes
// with strptime("%Y-%m-%dT%H:%M:%S.%f", plus "%z" only for a "+00:00" suffix) and returns naive
// UTC isoformat() strings (fraction omitted when the microseconds are zero).

/** A datetime that passed schema validation but that the server's strptime rejects (→ 500). */
export class DatetimeFormatError extends Error {
  constructor(text: string) {
    super(`time data '${text}' does not match format '%Y-%m-%dT%H:%M:%S.%f'`);
    this.name = 'DatetimeFormatError';
  }
}

// marshmallow's ISO-8601 check, which the request schema applies first (→ 400 when it fails).
const MARSHMALLOW_ISO =
  /^\d{4}-\d{1,2}-\d{1,2}[T ]\d{1,2}:\d{1,2}(?::\d{1,2}(?:\.\d{1,6}\d{0,6})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?$/;

const STRPTIME = /^(\d{4})-(\d{1,2})-(\d{1,2})T(\d{1,2}):(\d{1,2}):(\d{1,2})\.(\d{1,6})(\+00:00)?$/;

export function isIsoDatetime(text: string): boolean {
  return MARSHMALLOW_ISO.test(text);
}

function render(year: number, month: number, day: number, h: number, m: number, s: number, micro: number): string {
  const p2 = (n: number): string => String(n).padStart(2, '0');
  const base = `${String(year).padStart(4, '0')}-${p2(month)}-${p2(day)}T${p2(h)}:${p2(m)}:${p2(s)}`;
  return micro === 0 ? base : `${base}.${String(micro).padStart(6, '0')}`;
}

/** Parses like the server's `parse_datetime`; returns the naive UTC string the server stores. */
export function parseServerDatetime(text: string): string {
  const match = STRPTIME.exec(text);
  if (!match) throw new DatetimeFormatError(text);
  const [year, month, day, h, m, s] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const micro = Number((match[7] ?? '').padEnd(6, '0'));
  const probe = new Date(Date.UTC(year, month - 1, day, h, m, s));
  if (
    probe.getUTCFullYear() !== year || probe.getUTCMonth() !== month - 1 || probe.getUTCDate() !== day ||
    probe.getUTCHours() !== h || probe.getUTCMinutes() !== m || probe.getUTCSeconds() !== s
  ) {
    throw new DatetimeFormatError(text);
  }
  return render(year, month, day, h, m, s, micro);
}

/** A JS Date as the server returns timestamps: naive UTC isoformat. */
export function formatServerDatetime(date: Date): string {
  return render(
    date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate(),
    date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds(), date.getUTCMilliseconds() * 1000,
  );
}
