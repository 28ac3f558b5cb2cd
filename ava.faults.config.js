// The whole fault suite (`npm run test:faults`): the scenarios under test/faults at full scale
// (V6_FAULTS=full), one file at a time, since each runs many algorithm processes on the machine.
// `npm test` runs the same files at slice scale through ava.config.js.
export default {
  files: ['test/faults/**/*.test.ts'],
  extensions: { ts: 'module' },
  nodeArguments: ['--import=tsx'],
  workerThreads: false,
  timeout: '30m',
  concurrency: 1,
  environmentVariables: { V6_FAULTS: 'full' },
};
