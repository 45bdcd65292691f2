import { CfnOutput } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lakeformation from 'aws-cdk-lib/aws-lakeformation';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct, IConstruct } from 'constructs';
import { goldTableDeclarations } from '../lake/datasets';
import { acknowledgeWildcardResource, grantPrefixReadWrite } from '../shared/grants';
import { LakeFormationGrants, LakeFormationSettings } from '../lake/lake-formation';
import { LeastPrivilegeRole } from '../shared/least-privilege-role';
import { PlatformStack, PlatformStackProps } from '../shared/platform-stack';
import { PERSONAL_DATA } from '../lake/storage-stack';
import { resourceName } from '../shared/naming';
import { StageAlarms } from '../shared/stage-alarms';
import { clickstreamMetricsNamespace, LiveMetrics } from './live-metrics';
import { QuickSightDashboards } from './quicksight';
import { SemanticLayer, servingViews } from './semantic-layer';

/** Properties of the {@link ServingStack}. */
export interface ServingStackProps extends PlatformStackProps {
  /** Bucket of Athena's query results, encrypted with its own customer key (not the lake's). */
  readonly queryResultsBucket: s3.IBucket;
  /** The gold database the analysts query. */
  readonly goldDatabase: glue.IDatabase;
  /** The gold tables by name (the analysts' grants are made after the tables exist). */
  readonly goldTables: Record<string, IConstruct>;
  /** The environment's registered lake locations; the grants depend on them. */
  readonly lakeFormation: LakeFormationSettings;
  /** The click stream (Ingestion) with its customer key, which the live metrics consume. */
  readonly clickStream: kinesis.IStream;
  /** The alerts topic: the live metrics' alarms, failed dashboard refreshes (where `serving.quickSight` is on). */
  readonly alertsTopic: sns.ITopic;
  /** Key of the log groups. */
  readonly logKey: kms.IKey;
}

/** What an analyst does with the workgroup: run, follow, read and stop queries; read its saved queries. */
export const ATHENA_QUERY_ACTIONS = [
  'athena:StartQueryExecution',
  'athena:GetQueryExecution',
  'athena:GetQueryResults',
  'athena:StopQueryExecution',
  'athena:GetWorkGroup',
  'athena:ListNamedQueries',
  'athena:GetNamedQuery',
  'athena:BatchGetNamedQuery',
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
 * Stage 5, serving: the analysts' role and an Athena workgroup whose settings clients cannot
 * override: results encrypted with the query-results key in the query-results bucket, a
 * per-query scan cap, metrics. The analysts read gold through Lake Formation (SELECT on every
 * gold table, without the columns its declarations mark as personal data): they hold no key of
 * the lake, only the query-results key. Where `serving.quickSight.enabled`, QuickSight reads the
 * views the same way, through the same workgroup with the same grants ({@link QuickSightDashboards}).
 *
 * With `serving.liveMetrics.enabled`, the click stream's live operational metrics too: a
 * consumer of the Ingestion stack's stream publishing per-minute metrics, and the alarms on
 * a site that looks down, on malformed events and on the consumer itself ({@link LiveMetrics}).
 */
export class ServingStack extends PlatformStack {
  public readonly workgroup: athena.CfnWorkGroup;
  /** Role of the analysts: SELECT on gold without the personal columns (Lake Formation). */
  public readonly analystRole: LeastPrivilegeRole;
  /** The analysts' Lake Formation grants. */
  public readonly lakeGrants: LakeFormationGrants;
  /** The views over gold and the workgroup's saved queries (`lib/serving/sql`). */
  public readonly semanticLayer: SemanticLayer;
  /** QuickSight on the views, where `serving.quickSight.enabled`. */
  public readonly quickSight?: QuickSightDashboards;
  /** The stage's alarms (the live metrics'). */
  public readonly alarms: StageAlarms;
  /** The click stream's live metrics, when `serving.liveMetrics.enabled`. */
  public readonly liveMetrics?: LiveMetrics;
  private readonly goldDatabase: glue.IDatabase;
  private readonly goldTables: Record<string, IConstruct>;

  constructor(scope: Construct, props: ServingStackProps) {
    super(scope, 'Serving', props);
    const { config } = this;
    const key = props.queryResultsBucket.encryptionKey;
    if (!key) {
      throw new Error('ServingStack needs a query-results bucket encrypted with a customer key.');
    }
    this.workgroup = new athena.CfnWorkGroup(this, 'Workgroup', {
      name: resourceName(config, 'analysts'),
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
    const analyst = new LeastPrivilegeRole(this, 'AnalystRole', {
      assumedBy: new iam.AccountPrincipal(this.account),
      description: "Analysts: query gold through Athena, without customers' personal columns",
    });
    this.analystRole = analyst;
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

    // Lake Formation: gold, except the columns its declarations mark as personal data, then the
    // views (made in between: a view's grant needs the view). A view runs with the reader's
    // rights: the analyst reads it with SELECT on it and on the gold columns it reads, none of
    // which is personal (a test checks it).
    this.lakeGrants = new LakeFormationGrants(this, 'LakeGrants', { settings: props.lakeFormation });
    this.goldDatabase = props.goldDatabase;
    this.goldTables = props.goldTables;
    this.grantGoldTables(analyst);
    this.semanticLayer = new SemanticLayer(this, 'SemanticLayer', { database: props.goldDatabase, workgroup: this.workgroup });
    this.grantViews(analyst);

    // QuickSight reads the views as the analysts do: the same workgroup and the same grants.
    const quickSight = config.serving.quickSight;
    if (quickSight.enabled) {
      this.quickSight = new QuickSightDashboards(this, 'QuickSight', {
        names: config,
        settings: {
          namespace: quickSight.namespace,
          identityRegion: quickSight.identityRegion,
          authorGroup: quickSight.authorGroup!,
          viewerGroup: quickSight.viewerGroup!,
          fallbackRefreshTimeUtc: quickSight.fallbackRefreshTimeUtc!,
        },
        workgroup: this.workgroup,
        queryResultsBucket: props.queryResultsBucket,
        resultsPrefix: ATHENA_RESULTS_PREFIX,
        goldDatabase: props.goldDatabase,
        views: servingViews(),
        alertsTopic: props.alertsTopic,
      });
      this.grantGoldTables(this.quickSight.role);
      const grants = this.grantViews(this.quickSight.role);
      // The datasets' first import (at their creation) runs as the role: after its last grant,
      // which comes after all the others (one chain of grants per stack).
      for (const dataSet of Object.values(this.quickSight.dataSets)) {
        dataSet.node.addDependency(grants[grants.length - 1]);
      }
    }

    this.alarms = new StageAlarms(this, 'Alarms', { topic: props.alertsTopic });
    if (config.serving.liveMetrics.enabled) {
      this.liveMetrics = new LiveMetrics(this, 'LiveMetrics', {
        stream: props.clickStream,
        settings: config.serving.liveMetrics,
        namespace: clickstreamMetricsNamespace(config),
        queueNamePrefix: resourceName(config, 'clicks'),
        logKey: props.logKey,
        logRetention: this.logRetention,
        removalPolicy: this.dataRemovalPolicy,
        alarms: this.alarms,
      });
    }

    // What an analyst needs on day one (docs/serving.md).
    new CfnOutput(this, 'AnalystRoleArn', { value: analyst.roleArn, description: 'Role analysts assume to query gold and the views' });
    new CfnOutput(this, 'WorkgroupName', { value: this.workgroup.ref, description: 'Athena workgroup of the analysts' });
    new CfnOutput(this, 'GoldDatabaseName', { value: props.goldDatabase.databaseName, description: 'Database of the gold tables and the views' });
    if (this.quickSight) {
      const { dashboardId } = this.quickSight.dashboard;
      new CfnOutput(this, 'DashboardUrl', {
        value: `https://${this.region}.quicksight.aws.amazon.com/sn/dashboards/${dashboardId}`,
        description: 'The QuickSight dashboard of the views (members of the viewer and author groups)',
      });
    }
  }

  /**
   * DESCRIBE on the gold database and SELECT on every gold table, without the columns its
   * declarations mark as personal data, each grant after its table exists.
   */
  private grantGoldTables(principal: iam.IRole): lakeformation.CfnPrincipalPermissions[] {
    const grants = [this.lakeGrants.grant({ principal, database: this.goldDatabase, permissions: ['DESCRIBE'] })];
    for (const declaration of goldTableDeclarations()) {
      const table = this.goldTables[declaration.name];
      if (!table) {
        throw new Error(`ServingStack: gold table ${declaration.name} is declared but not in goldTables; pass StorageStack.goldTables.`);
      }
      const personal = declaration.columns.filter((c) => c.comment?.includes(PERSONAL_DATA)).map((c) => c.name);
      const grant = this.lakeGrants.grant({
        principal,
        database: this.goldDatabase,
        table: declaration.name,
        permissions: ['SELECT'],
        excludedColumns: personal.length > 0 ? personal : undefined,
      });
      grant.node.addDependency(table);
      grants.push(grant);
    }
    return grants;
  }

  /** SELECT on every view, each grant after its view exists. */
  private grantViews(principal: iam.IRole): lakeformation.CfnPrincipalPermissions[] {
    return Object.entries(this.semanticLayer.views).map(([name, view]) => {
      const grant = this.lakeGrants.grant({ principal, database: this.goldDatabase, table: name, permissions: ['SELECT'] });
      grant.node.addDependency(view);
      return grant;
    });
  }
}
