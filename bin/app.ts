#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { accountBaselineRequested, ConfigError, dataRetentionWarning, loadConfig, readContext } from '../lib/config';
import { addComplianceChecks, buildAccountBaseline, buildPlatform } from '../lib/app';

const app = new App();

let config;
let accountBaseline = false;
try {
  const { env, accountBaseline: baselineFlag, ...context } = readContext(app);
  accountBaseline = accountBaselineRequested({ accountBaseline: baselineFlag });
  config = loadConfig(
    env,
    {
      account: process.env.CDK_DEFAULT_ACCOUNT,
      region: process.env.CDK_DEFAULT_REGION,
    },
    context,
  );
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}

// Data the config would destroy is retained without the second key: say so on every synth.
const warning = dataRetentionWarning(config);
if (warning) {
  console.error(warning);
}

buildPlatform(app, config);
if (accountBaseline) {
  buildAccountBaseline(app, config);
}
addComplianceChecks(app);
