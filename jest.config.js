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
  testTimeout: 120000,
};
