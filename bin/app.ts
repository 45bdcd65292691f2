#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { ConfigError, loadConfig } from '../lib/config';
import { addComplianceChecks, buildPlatform } from '../lib/platform';

const app = new App();

let config;
try {
  config = loadConfig(app.node.tryGetContext('env'), {
    account: process.env.CDK_DEFAULT_ACCOUNT,
    region: process.env.CDK_DEFAULT_REGION,
  });
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}

buildPlatform(app, config);
addComplianceChecks(app);
