import test from 'ava';
import { DatetimeError } from './errors.js';
import { parseServerDatetime, toServerDatetime } from './datetime.js';

test('toServerDatetime: microseconds and +00:00, in UTC', (t) => {
  t.deepEqual(
    [new Date(Date.UTC(2024, 4, 1, 12, 3, 4, 56)), new Date(0), new Date('2024-02-29T23:59:59.999+02:00')].map(toServerDatetime),
    ['2024-05-01T12:03:04.056000+00:00', '1970-01-01T00:00:00.000000+00:00', '2024-02-29T21:59:59.999000+00:00'],
  );
});

test('toServerDatetime refuses what the server cannot parse', (t) => {
  t.throws(() => toServerDatetime(new Date(Number.NaN)), { instanceOf: DatetimeError });
  t.throws(() => toServerDatetime(new Date(Date.UTC(10000, 0, 1))), { instanceOf: DatetimeError });
});

test('parseServerDatetime: naive timestamps are UTC, fractions optional, offsets honoured', (t) => {
  const texts = ['2024-05-01T12:03:04.056789', '2024-05-01T12:03:04', '2024-05-01T12:03:04.5', '2024-05-01T12:03:04.056000+00:00', '2024-05-01T14:03:04+02:00'];
  t.deepEqual(
    texts.map((s) => parseServerDatetime(s).toISOString()),
    ['2024-05-01T12:03:04.056Z', '2024-05-01T12:03:04.000Z', '2024-05-01T12:03:04.500Z', '2024-05-01T12:03:04.056Z', '2024-05-01T12:03:04.000Z'],
  );
});

test('parseServerDatetime round-trips toServerDatetime and rejects non-timestamps', (t) => {
  const date = new Date(Date.UTC(2031, 11, 31, 23, 59, 59, 999));
  t.is(parseServerDatetime(toServerDatetime(date)).getTime(), date.getTime());
  for (const bad of ['2024-13-01T00:00:00', '2024-02-30T00:00:00', '2024-05-01 12:00:00', '2024-05-01T24:00:00', 'yesterday', '']) {
    t.throws(() => parseServerDatetime(bad), { instanceOf: DatetimeError }, bad);
  }
});
