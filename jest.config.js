/** Jest runs the TypeScript tests with ts-jest in transpile-only mode; `npm run typecheck` type-checks. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': 'ts-jest',
  },
  // Each worker synthesizes whole apps; two workers match the two cores of CI.
  maxWorkers: 2,
  // The longest suites first (the local twin's among them), whatever Jest's cache holds.
  testSequencer: '<rootDir>/test/support/longest-first.js',
  testTimeout: 120000,
};
