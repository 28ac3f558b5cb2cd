import test from 'ava';
import { pino, type Logger } from 'pino';
import { closeInOrder } from './shutdown.js';

/** A logger whose records the test reads. */
function recordingLogger(): { logger: Logger; records: Array<Record<string, unknown>> } {
  const records: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void records.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, records };
}

test('closeInOrder runs every step in order whatever the earlier ones did, and names those that hung or failed', async (t) => {
  const { logger, records } = recordingLogger();
  const ran: string[] = [];
  const unfinished = await closeInOrder(
    [
      { name: 'hanging step', close: () => new Promise<void>(() => ran.push('hanging step')) },
      { name: 'failing step', close: () => { ran.push('failing step'); throw new Error('broken pipe'); } },
      { name: 'rejecting step', close: async () => { ran.push('rejecting step'); throw new TypeError('no socket'); } },
      { name: 'last step', close: () => void ran.push('last step') },
    ],
    { logger, timeoutMs: 20 },
  );
  t.deepEqual(ran, ['hanging step', 'failing step', 'rejecting step', 'last step']);
  t.deepEqual(unfinished, [
    { name: 'hanging step', reason: 'timeout' },
    { name: 'failing step', reason: 'error' },
    { name: 'rejecting step', reason: 'error' },
  ]);
  t.like(records.find((r) => r.step === 'hanging step'), { level: 40, timeoutMs: 20 });
  // Errors keep their type and stack (pino's err serializer).
  const failed = records.find((r) => r.step === 'rejecting step') as { level: number; err: { type: string; message: string; stack: string } };
  t.is(failed.level, 50);
  t.like(failed.err, { type: 'TypeError', message: 'no socket' });
  t.regex(failed.err.stack, /^TypeError: no socket\n\s+at /);
});

test('closeInOrder with nothing left hanging resolves with no unfinished step and logs nothing', async (t) => {
  const { logger, records } = recordingLogger();
  t.deepEqual(await closeInOrder([{ name: 'quick', close: async () => undefined }], { logger }), []);
  t.deepEqual(records, []);
});
