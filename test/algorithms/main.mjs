// A test algorithm image: `{"method": …, "kwargs": {…}}` in, a JSON result out, like an algorithm
// wrapped by the upstream vantage6 algorithm tools. Methods cover what the node must handle.
import { setTimeout as sleep } from 'node:timers/promises';
import { writeFileSync } from 'node:fs';
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
  big_output({ bytes }) {
    writeFileSync(env('OUTPUT_FILE'), 'x'.repeat(bytes));
    process.exit(0);
  },
};

await serve(methods);
