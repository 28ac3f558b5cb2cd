// A federated algorithm image in the vantage6 4.x style: one image with a central function that
// creates partial subtasks for every organization through the node's proxy, waits for their
// results and combines them, and the partial function those subtasks run. Plain JavaScript so the
// simulated kubelet can run it with nothing but node.
import { setTimeout as sleep } from 'node:timers/promises';
import { env, proxyClient, readCsvDatabase, serve } from './contract.mjs';

const b64json = (value) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64');
const unb64json = (text) => JSON.parse(Buffer.from(text, 'base64').toString('utf8'));

const methods = {
  /** Sum and count of a numeric column of the CSV database. */
  partial_average({ column }) {
    const values = readCsvDatabase().map((row) => Number(row[column]));
    return { sum: values.reduce((a, b) => a + b, 0), count: values.length };
  },
  /** Federated mean of `column`: partials at `organizations` through the proxy, combined here. */
  async central_average({ column, organizations, collaboration_id, image, timeout_s = 60 }) {
    const api = proxyClient();
    const task = await api('POST', 'task', {
      name: 'partial_average',
      description: 'subtask of central_average',
      image: image ?? env('V6_IMAGE', 'v6-test/federated:1'),
      collaboration_id,
      organizations: organizations.map((id) => ({ id, input: b64json({ method: 'partial_average', kwargs: { column } }) })),
      databases: [{ label: env('USER_REQUESTED_DATABASE_LABELS', 'default').split(',')[0] }],
    });
    console.log(`created subtask ${task.id} for organizations ${organizations.join(', ')}`);
    const deadline = Date.now() + timeout_s * 1000;
    for (;;) {
      const page = await api('GET', `result?task_id=${task.id}`);
      const results = page.data.filter((r) => r.result !== null && r.result !== undefined && r.result !== '');
      if (results.length >= organizations.length) {
        const partials = results.map((r) => unb64json(r.result));
        const sum = partials.reduce((a, p) => a + p.sum, 0);
        const count = partials.reduce((a, p) => a + p.count, 0);
        console.log(`combined ${partials.length} partials`);
        return { mean: sum / count, sum, count, partials, subtask_id: task.id };
      }
      if (Date.now() > deadline) throw new Error(`subtask ${task.id}: ${results.length}/${organizations.length} results after ${timeout_s} s`);
      await sleep(200);
    }
  },
};

await serve(methods);
