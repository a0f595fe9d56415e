/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }],
    // email-reply-parser ships ES modules only. Jest loads ESM through require() only with
    // --experimental-vm-modules, so its .js files are compiled to CommonJS here (swc rewrites
    // the import.meta.url in its regex.js to a file URL built from __filename).
    '/node_modules/email-reply-parser/.+\\.js$': ['@swc/jest', { jsc: { parser: { syntax: 'ecmascript' }, target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  // node_modules stay untransformed, except the ESM-only packages listed in the negative lookahead.
  transformIgnorePatterns: ['/node_modules/(?!email-reply-parser/)', '\\.pnp\\.[^\\/]+$'],
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // OMNITHREAD_TEST_SHIFT_DAYS moves the workers' clock (see the file): the suite must pass on any date.
  setupFiles: ['<rootDir>/test/support/shifted-clock.js'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  maxWorkers: 2,
  testTimeout: 120000,
};
