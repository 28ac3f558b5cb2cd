import test from 'ava';
import { InvalidIdError } from './errors.js';
import {
  LabelKey,
  algorithmPodLabels,
  jobTmpFolderName,
  nodeSelector,
  runFolderName,
  runIdOf,
  runLabels,
  runObjectName,
  runSelector,
} from './names.js';

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const objectNames: Array<[number, number, string]> = [
  [1, 1, 'v6-node-1-run-1'],
  [12, 3456, 'v6-node-12-run-3456'],
  [0, 0, 'v6-node-0-run-0'],
  [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, `v6-node-${Number.MAX_SAFE_INTEGER}-run-${Number.MAX_SAFE_INTEGER}`],
];

for (const [nodeId, runId, expected] of objectNames) {
  test(`runObjectName(${nodeId}, ${runId}) is a short RFC 1123 label`, (t) => {
    const name = runObjectName(nodeId, runId);
    t.is(name, expected);
    t.true(name.length <= 63 - 6, 'leaves room for the pod name suffix');
    t.regex(name, dns1123Label);
  });
}

test('two nodes never share a name for the same run id', (t) => {
  t.not(runObjectName(1, 12), runObjectName(11, 2));
  t.not(runObjectName(1, 12), runObjectName(2, 12));
});

const badIds = [-1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1];
for (const bad of badIds) {
  test(`ids must be non-negative safe integers: ${bad}`, (t) => {
    t.throws(() => runObjectName(1, bad), { instanceOf: InvalidIdError, message: 'run id must be a non-negative integer' });
    t.throws(() => runObjectName(bad, 1), { instanceOf: InvalidIdError });
  });
}

test('run and temporary folders are named as vantage6 names them', (t) => {
  t.is(runFolderName(1), 'task-000000001');
  t.is(runFolderName(123456789), 'task-123456789');
  t.is(runFolderName(1234567890), 'task-1234567890');
  t.is(jobTmpFolderName(42), 'tmp/job-42');
});

test('run labels, with the parent task only for subtasks', (t) => {
  const base = {
    'app.kubernetes.io/managed-by': 'v6-node',
    'app.kubernetes.io/component': 'algorithm',
    'vantage6.ai/node-id': '3',
    'vantage6.ai/run-id': '10',
    'vantage6.ai/task-id': '20',
    'vantage6.ai/job-id': '30',
  };
  t.deepEqual(runLabels(3, { id: 10, taskId: 20, jobId: 30, parentId: null }), base);
  t.deepEqual(runLabels(3, { id: 10, taskId: 20, jobId: 30, parentId: 19 }), { ...base, 'vantage6.ai/parent-task-id': '19' });
  t.deepEqual(algorithmPodLabels(3, { id: 10, taskId: 20, jobId: 30, parentId: null }), { ...base, 'vantage6.ai/role': 'algorithm' });
});

test('selectors pick this node, and one run', (t) => {
  t.is(nodeSelector(3), 'app.kubernetes.io/managed-by=v6-node,app.kubernetes.io/component=algorithm,vantage6.ai/node-id=3');
  t.is(runSelector(3, 10), `${nodeSelector(3)},vantage6.ai/run-id=10`);
});

const runIds: Array<[Record<string, string> | undefined, number | undefined]> = [
  [{ [LabelKey.RunId]: '10' }, 10],
  [{ [LabelKey.RunId]: '0' }, 0],
  [{ [LabelKey.RunId]: '010' }, undefined],
  [{ [LabelKey.RunId]: '1e3' }, undefined],
  [{ [LabelKey.RunId]: '99999999999999999999' }, undefined],
  [{}, undefined],
  [undefined, undefined],
];
for (const [labels, expected] of runIds) {
  test(`runIdOf(${JSON.stringify(labels)}) is ${expected}`, (t) => {
    t.is(runIdOf(labels), expected);
  });
}

test('runIdOf reads back what runLabels writes', (t) => {
  t.is(runIdOf(runLabels(1, { id: 77, taskId: 2, jobId: 3, parentId: null })), 77);
});
