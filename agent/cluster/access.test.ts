import test from 'ava';
import { recheckedAccess, type AccessReport } from './access.js';

const COMPLETE: AccessReport = { missing: [] };
const MISSING: AccessReport = { missing: ['may not delete batch/jobs in namespace v (grant it in the agent\'s Role)'] };

/** A check answering `answers` in turn (the last one from then on), counting the questions, on a clock the test moves. */
function setup(first: AccessReport, answers: AccessReport[]) {
  let clock = 1_000;
  let asked = 0;
  const check = async () => answers[Math.min(asked++, answers.length - 1)]!;
  const access = recheckedAccess(check, { report: first, at: clock }, 60_000, () => clock);
  return { access, asked: () => asked, advance: (ms: number) => (clock += ms) };
}

test('a complete answer stands until it is older than the recheck interval', async (t) => {
  const { access, asked, advance } = setup(COMPLETE, [COMPLETE]);
  for (let i = 0; i < 5; i++) t.deepEqual(await access(), COMPLETE);
  advance(59_999);
  await access();
  t.is(asked(), 0, 'asked nothing within the interval');
  advance(1);
  await access();
  t.is(asked(), 1);
  await access();
  t.is(asked(), 1, 'the new answer stands again');
});

test('while something is missing every call asks, so a fix shows at once', async (t) => {
  const { access, asked } = setup(MISSING, [MISSING, COMPLETE]);
  t.deepEqual(await access(), MISSING);
  t.deepEqual(await access(), COMPLETE);
  t.deepEqual(await access(), COMPLETE);
  t.is(asked(), 2);
});

test('a permission taken away shows once the complete answer is old', async (t) => {
  const { access, advance } = setup(COMPLETE, [MISSING]);
  t.deepEqual(await access(), COMPLETE);
  advance(60_000);
  t.deepEqual(await access(), MISSING);
});

test('concurrent calls share one question', async (t) => {
  const { access, asked } = setup(MISSING, [COMPLETE]);
  await Promise.all([access(), access(), access()]);
  t.is(asked(), 1);
});
