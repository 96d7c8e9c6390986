import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // The AWS SDK's credential and region chains read these files: never a developer's own ~/.aws.
    env: { AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws/credentials', AWS_CONFIG_FILE: '/nonexistent/aws/config' },
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores, three servers: more workers only fight over CPU.
    maxWorkers: 2,
  },
});
