// ESLint flat config: typescript-eslint's recommended rules for every TypeScript file.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'helm/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': ['error', { allow: ['error'] }],
    },
  },
  {
    // Each process loads only what it runs: the proxy (and the agent modules it shares) never
    // pull in the agent's Kubernetes client, queues or socket (issue 13: @kubernetes/client-node
    // alone is ~80 MB of RSS). Shared helpers with no dependencies live in agent/within.ts,
    // agent/protocol/, agent/server/jwt.ts and the like.
    files: [
      'proxy/**/*.ts',
      'agent/config.ts',
      'agent/within.ts',
      'agent/health-server.ts',
      'agent/protocol/**/*.ts',
      'agent/server/client.ts',
      'agent/server/jwt.ts',
      'agent/kube/env-names.ts',
      'queue/live-tokens.ts',
      'queue/backoff.ts',
      'queue/metrics/proxy-metrics.ts',
    ],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: '@kubernetes/client-node', message: 'The proxy must not load the Kubernetes client (issue 13); keep shared code free of it.', allowTypeImports: true },
            { name: 'bullmq', message: 'The proxy must not load the run queues (issue 13).', allowTypeImports: true },
            { name: 'socket.io-client', message: 'The proxy must not load the server socket (issue 13).', allowTypeImports: true },
          ],
          patterns: [
            {
              // Any path reaching agent-only folders or files, relative or not; agent/kube/env-names is pure.
              regex: '(^|/)(cluster|runs|isolation|status)/|(^|/)kube/(?!env-names\\.js$)|(^|/)(node-agent|serve|cli|run-queues)\\.js$',
              message: 'The proxy must not load agent-only modules (they pull in @kubernetes/client-node or BullMQ); move what is shared into a dependency-free module.',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
  {
    // The test algorithms are plain JavaScript run by node inside simulated pods.
    files: ['**/*.mjs'],
    languageOptions: {
      globals: { process: 'readonly', Buffer: 'readonly', console: 'readonly', fetch: 'readonly', URL: 'readonly' },
    },
  },
  {
    files: ['test/**', '**/*.test.ts', '**/main.ts', 'agent/cli.ts', 'queue/bench*.ts'],
    rules: { 'no-console': 'off' },
  },
);
