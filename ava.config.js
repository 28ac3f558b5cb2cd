// Tests are TypeScript run through tsx; worker threads are off because tsx's loader
// hooks do not reach ava's worker threads.
export default {
  files: ['test/**/*.test.ts', 'agent/**/*.test.ts', 'proxy/**/*.test.ts', 'queue/**/*.test.ts', '!test/cluster/**'],
  extensions: { ts: 'module' },
  nodeArguments: ['--import=tsx'],
  workerThreads: false,
  timeout: '2m',
  concurrency: 2,
};
