/**
 * Timestamps on the vantage6 4.x wire (spec A6). The server parses `PATCH run` datetimes with
 * `strptime("%Y-%m-%dT%H:%M:%S.%f")` (plus `%z` only for a `+00:00` suffix), so anything else —
 * JS's `…Z`, no fraction, another offset — makes it answer 500. It returns naive UTC timestamps.
 */
import { DatetimeError } from './errors.js';

const SERVER_DATETIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}:\d{2})?$/;

/** `YYYY-MM-DDTHH:MM:SS.ffffff+00:00` in UTC (microseconds are the milliseconds padded with zeros). */
export function toServerDatetime(date: Date): string {
  const time = date.getTime();
  if (!Number.isFinite(time)) throw new DatetimeError('cannot send an invalid Date');
  const iso = date.toISOString();
  if (!/^\d{4}-/.test(iso)) throw new DatetimeError(`cannot send a year outside 0000-9999 (${iso})`);
  return `${iso.slice(0, 23)}000+00:00`;
}

/**
 * A server timestamp (`2024-05-01T12:00:00.123456`, fraction optional) as a Date. Naive
 * timestamps are UTC; an explicit `Z` or `±HH:MM` offset is honoured. Sub-millisecond digits
 * are truncated.
 */
export function parseServerDatetime(text: string): Date {
  const match = SERVER_DATETIME.exec(text);
  if (match === null) throw new DatetimeError(`not a server timestamp: ${JSON.stringify(text)}`);
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const fraction = match[7] ?? '';
  const utc = Date.UTC(year, month - 1, day, hour, minute, second, Number(fraction.padEnd(3, '0').slice(0, 3)));
  // Date.UTC rolls out-of-range fields over (month 13, hour 24); the server never sends those.
  const fields = new Date(utc);
  const exact =
    fields.getUTCFullYear() === year &&
    fields.getUTCMonth() === month - 1 &&
    fields.getUTCDate() === day &&
    fields.getUTCHours() === hour &&
    fields.getUTCMinutes() === minute &&
    fields.getUTCSeconds() === second;
  if (!exact) throw new DatetimeError(`not a valid date: ${JSON.stringify(text)}`);
  return new Date(utc - offsetMinutes(match[8] ?? 'Z') * 60_000);
}

function offsetMinutes(offset: string): number {
  if (offset === 'Z') return 0;
  const sign = offset.startsWith('-') ? -1 : 1;
  return sign * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4, 6)));
}
