// A test algorithm image that calls the node's proxy over and over, as an algorithm polling for
// subtask results does, and counts what it sees: right answers, retryable errors (no
// connection, 502/503/504) and wrong answers (anything else). The fault suite restarts the
// proxy meanwhile. Plain JavaScript so the simulated kubelet can run it with nothing but node.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { env, serve } from './contract.mjs';

const RETRYABLE = new Set([502, 503, 504]);

const methods = {
  /** GET task/<task_id> through the proxy for `seconds`; the answer must be that task. */
  async call_proxy({ seconds, task_id, interval_ms = 20 }) {
    const base = `${env('HOST')}:${env('PORT')}${env('API_PATH', '')}`;
    const token = readFileSync(env('TOKEN_FILE'), 'utf8').trim();
    const counts = { ok: 0, retryable: 0, wrong: 0, wrongAnswers: [] };
    const deadline = Date.now() + seconds * 1000;
    while (Date.now() < deadline) {
      try {
        const response = await fetch(`${base}/task/${task_id}`, { headers: { authorization: `Bearer ${token}` } });
        const text = await response.text();
        if (RETRYABLE.has(response.status)) counts.retryable += 1;
        else if (response.ok && JSON.parse(text).id === task_id) counts.ok += 1;
        else {
          counts.wrong += 1;
          if (counts.wrongAnswers.length < 5) counts.wrongAnswers.push(`${response.status} ${text.slice(0, 200)}`);
        }
      } catch (error) {
        // No connection (refused, reset while the proxy stops): the algorithm may try again.
        // A 2xx body that is not JSON is a wrong answer, not a reason to stop calling.
        if (error instanceof TypeError) counts.retryable += 1;
        else if (error instanceof SyntaxError) {
          counts.wrong += 1;
          if (counts.wrongAnswers.length < 5) counts.wrongAnswers.push(`not JSON: ${error.message}`);
        } else throw error;
      }
      await sleep(interval_ms);
    }
    console.log(`proxy calls: ${JSON.stringify(counts)}`);
    return counts;
  },
};

await serve(methods);
