import * as athena from 'aws-cdk-lib/aws-athena';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledgeWildcardResource, grantPrefixReadWrite } from '../constructs/grants';
import { acknowledge } from '../constructs/nag';
import { StageStack, StageStackProps } from './stage-stack';

/** Properties of the {@link ServingStack}. */
export interface ServingStackProps extends StageStackProps {
  /** Bucket of Athena's query results (encrypted with the lake key). */
  readonly queryResultsBucket: s3.IBucket;
  /** The analysts' role (its Lake Formation grants come from the storage stage). */
  readonly analystRole: iam.IRole;
  /** The gold database the analysts query. */
  readonly goldDatabase: glue.IDatabase;
}

/** What an analyst does with the workgroup: run, follow, read and stop queries. */
export const ATHENA_QUERY_ACTIONS = [
  'athena:StartQueryExecution',
  'athena:GetQueryExecution',
  'athena:GetQueryResults',
  'athena:StopQueryExecution',
  'athena:GetWorkGroup',
] as const;

/** Catalog reads a query of gold needs. */
export const GLUE_READ_ACTIONS = [
  'glue:GetDatabase',
  'glue:GetTable',
  'glue:GetTables',
  'glue:GetPartition',
  'glue:GetPartitions',
] as const;

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
      // Saved queries and history go with the workgroup only where data goes with the stack.
      recursiveDeleteOption: this.destroysData,
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

    // The analysts query gold through this workgroup only; Lake Formation decides the columns.
    const analyst = props.analystRole;
    analyst.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [...ATHENA_QUERY_ACTIONS],
        resources: [this.formatArn({ service: 'athena', resource: 'workgroup', resourceName: this.workgroup.name })],
      }),
    );
    grantPrefixReadWrite(analyst, { bucket: props.queryResultsBucket, prefix: ATHENA_RESULTS_PREFIX });
    // Athena looks up the region of the output bucket before it runs a query: that bucket only.
    analyst.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['s3:GetBucketLocation'], resources: [props.queryResultsBucket.bucketArn] }),
    );
    const goldTables = this.formatArn({ service: 'glue', resource: 'table', resourceName: `${props.goldDatabase.databaseName}/*` });
    analyst.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [...GLUE_READ_ACTIONS],
        resources: [this.formatArn({ service: 'glue', resource: 'catalog' }), props.goldDatabase.databaseArn, goldTables],
      }),
    );
    acknowledgeWildcardResource(
      analyst,
      goldTables,
      'Catalog reads of the tables of the gold database only; Lake Formation grants decide which tables and columns the analyst sees.',
    );
    analyst.addToPrincipalPolicy(
      // lakeformation:GetDataAccess has no resource-level permissions; Lake Formation's own
      // grants scope what it vends.
      new iam.PolicyStatement({ actions: ['lakeformation:GetDataAccess'], resources: ['*'] }),
    );
    acknowledge(
      analyst as unknown as Construct,
      ['AwsSolutions'],
      'IAM5[Resource::*]',
      'lakeformation:GetDataAccess supports no resource-level permissions; Lake Formation vends credentials only for the gold tables and columns it granted the analyst.',
    );
  }
}
