import * as athena from 'aws-cdk-lib/aws-athena';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { StageStack, StageStackProps } from './stage-stack';

/** Properties of the {@link ServingStack}. */
export interface ServingStackProps extends StageStackProps {
  /** Bucket of Athena's query results (encrypted with the lake key). */
  readonly queryResultsBucket: s3.IBucket;
}

/** Prefix of Athena results in the query-results bucket. */
export const ATHENA_RESULTS_PREFIX = 'athena/';

/**
 * Stage 5, serving: an Athena workgroup whose settings clients cannot override: results
 * encrypted with the lake key in the query-results bucket, a per-query scan cap, metrics.
 */
export class ServingStack extends StageStack {
  public readonly workgroup: athena.CfnWorkGroup;

  constructor(scope: Construct, props: ServingStackProps) {
    super(scope, 'Serving', props);
    const { config } = this;
    const key = props.queryResultsBucket.encryptionKey;
    if (!key) {
      throw new Error('ServingStack needs a query-results bucket encrypted with a customer key.');
    }
    this.workgroup = new athena.CfnWorkGroup(this, 'Workgroup', {
      name: `${config.appName}-${config.envName}-analysts`.toLowerCase(),
      description: `${config.appName} ${config.envName}: enforced, encrypted, scan-capped analyst workgroup`,
      state: 'ENABLED',
      recursiveDeleteOption: config.dataProtection.removalPolicy === 'destroy',
      workGroupConfiguration: {
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        bytesScannedCutoffPerQuery: config.serving.athenaBytesScannedCutoffPerQuery,
        engineVersion: { selectedEngineVersion: 'Athena engine version 3' },
        resultConfiguration: {
          outputLocation: props.queryResultsBucket.s3UrlForObject(ATHENA_RESULTS_PREFIX),
          encryptionConfiguration: { encryptionOption: 'SSE_KMS', kmsKey: key.keyArn },
          expectedBucketOwner: this.account,
        },
      },
    });
  }
}
