import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';

/** The Node.js runtime of the app's own Lambda handlers (custom resources, the click stream's live consumer). */
export const HANDLER_RUNTIME = lambda.Runtime.NODEJS_24_X;

/**
 * How the app bundles its own Lambda handlers: with the local esbuild (never Docker), one
 * minified CommonJS file for the runtime's Node version, the AWS SDK left to the runtime.
 */
export const HANDLER_BUNDLING: nodejs.BundlingOptions = {
  externalModules: ['@aws-sdk/*'],
  minify: true,
  sourceMap: false,
  target: 'node24',
  format: nodejs.OutputFormat.CJS,
  logLevel: nodejs.LogLevel.ERROR,
  forceDockerBundling: false,
};
