import test from 'ava';
import { pino } from 'pino';
import { Periodic } from './periodic.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

test('passes never overlap, a failed one is tried again, and close waits for the pass under way', async (t) => {
  let running = 0;
  let overlapped = false;
  let passes = 0;
  let finished = 0;
  const periodic = new Periodic(
    async () => {
      passes += 1;
      running += 1;
      overlapped ||= running > 1;
      await sleep(30);
      running -= 1;
      if (passes === 1) throw new Error('first pass fails');
      finished += 1;
    },
    { intervalMs: 5, logger: pino({ level: 'silent' }), failure: 'failed', immediately: true },
  );
  periodic.start();
  await sleep(150);
  await periodic.close();
  const after = passes;
  await sleep(50);
  t.false(overlapped);
  t.true(finished >= 1, 'the passes after the failed one ran');
  t.is(running, 0, 'close waited for the pass under way');
  t.is(passes, after, 'no pass after close');
});
