// The image tier (test/cluster/images/, and the algorithm images of test/cluster/algorithms/):
// builds images and runs them in a private containerd, so it needs root and is not part of
// `npm test`. Run: `npm run test:images`.
import base from './ava.config.js';

export default {
  ...base,
  files: ['test/cluster/images/**/*.test.ts', 'test/cluster/algorithms/**/*.test.ts'],
  timeout: '20m',
  concurrency: 1,
};
