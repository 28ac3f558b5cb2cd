// The cluster tier: smoke tests against a real Kubernetes — the one `npm run cluster:up` starts,
// or any cluster named by KUBECONFIG (see test/cluster/README.md). One file at a time: they share one node.
export default {
  files: ['test/cluster/**/*.test.ts', '!test/cluster/images/**'],
  extensions: { ts: 'module' },
  nodeArguments: ['--import=tsx'],
  workerThreads: false,
  timeout: '5m',
  concurrency: 1,
};
