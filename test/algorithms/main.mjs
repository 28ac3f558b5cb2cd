// A test algorithm image: `{"method": …, "kwargs": {…}}` in, a JSON result out, like an algorithm
// wrapped by the upstream vantage6 algorithm tools. Methods cover what the node must handle.
import { setTimeout as sleep } from 'node:timers/promises';
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { env, readCsvDatabase, serve } from './contract.mjs';

const methods = {
  /** Sum and count of a numeric column of the CSV database: the partial of a federated mean. */
  partial_average({ column }) {
    const values = readCsvDatabase().map((row) => Number(row[column]));
    return { sum: values.reduce((a, b) => a + b, 0), count: values.length };
  },
  echo(kwargs) {
    console.log(`echo: ${JSON.stringify(kwargs)}`);
    return kwargs;
  },
  crash({ code = 3 }) {
    console.error('crash: failing on purpose');
    process.exit(code);
  },
  async sleep({ seconds }) {
    console.log(`sleeping ${seconds} s`);
    await sleep(seconds * 1000);
    return { slept: seconds };
  },
  /** Sleeps, then ends well without touching its output (whatever is there is what the node reads). */
  async idle({ seconds }) {
    console.log(`idling ${seconds} s`);
    await sleep(seconds * 1000);
    process.exit(0);
  },
  /**
   * An attacker: puts something of `kind` in place of its output (or its log) pointing at
   * `target`, and ends well, leaving it for the node to read. When its run folder does not let it,
   * the output says what it was refused.
   */
  plant({ kind, target }) {
    const output = env('OUTPUT_FILE');
    const plants = {
      symlink: () => symlinkSync(target, output),
      hardlink: () => linkSync(target, output),
      directory: () => mkdirSync(output),
      fifo: () => execFileSync('mkfifo', [output]),
    };
    try {
      if (kind === 'log') symlinkSync(target, join(dirname(output), 'log'));
      else {
        rmSync(output, { force: true });
        plants[kind]();
      }
    } catch (error) {
      return { planted: false, code: error.code ?? String(error) };
    }
    console.log(`planted a ${kind} to ${target}`);
    process.exit(0);
  },
  /** Writes `bytes` into the job's temporary folder, and a link there to `link_to` if given; then sleeps `seconds`. */
  async write_tmp({ bytes, link_to, seconds = 0 }) {
    const folder = env('TEMPORARY_FOLDER');
    writeFileSync(join(folder, 'scratch'), 'x'.repeat(bytes));
    if (link_to !== undefined) symlinkSync(link_to, join(folder, 'escape'));
    await sleep(seconds * 1000);
    return { wrote: bytes };
  },
  big_output({ bytes }) {
    writeFileSync(env('OUTPUT_FILE'), 'x'.repeat(bytes));
    process.exit(0);
  },
};

await serve(methods);
