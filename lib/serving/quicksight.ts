import { Duration, Stack } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as quicksight from 'aws-cdk-lib/aws-quicksight';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { ColumnDeclaration } from '../lake/datasets';
import { acknowledgeWildcardResource, grantPrefixRead, grantPrefixWrite } from '../shared/grants';
import { LeastPrivilegeRole } from '../shared/least-privilege-role';
import { NameScope, pascal, resourceName } from '../shared/naming';
import { ALARM_PERIOD, StageAlarms } from '../shared/stage-alarms';
import { DASHBOARD_VIEWS, DashboardView, retailDashboardDefinition, validateDefinition } from './dashboard-definition';
import { ServingView } from './semantic-layer';

/**
 * QuickSight as code on the serving views (docs/serving.md#quicksight): an Athena data source
 * bound to the analysts' enforced workgroup with a role the project owns, one SPICE dataset per
 * view with its declared columns, a daily fallback refresh, an analysis and a dashboard built
 * from one typed definition (`dashboard-definition.ts`, checked against the datasets' columns
 * here, at synth), permissions for an author group and a viewer group, and alarms on failed or
 * missing refreshes. The workflow refreshes the datasets after each gold run
 * (lib/orchestration/orchestration-stack.ts).
 *
 * What CloudFormation cannot do stays a documented prerequisite: the QuickSight Enterprise
 * subscription, the two groups and their members, and the account's SPICE key.
 */

/** Athena's name of the Glue Data Catalog in QuickSight's and Athena's APIs. */
export const ATHENA_DATA_CATALOG = 'AwsDataCatalog';

/** What QuickSight does with the workgroup for the data source: run, follow, read and stop its queries. */
export const QUICKSIGHT_ATHENA_ACTIONS = [
  'athena:StartQueryExecution',
  'athena:GetQueryExecution',
  'athena:GetQueryResults',
  'athena:GetQueryResultsStream',
  'athena:StopQueryExecution',
  'athena:GetWorkGroup',
] as const;

/** What QuickSight reads of the catalog through Athena to list the schemas and tables of the data source. */
export const QUICKSIGHT_ATHENA_CATALOG_ACTIONS = [
  'athena:GetDataCatalog',
  'athena:ListDatabases',
  'athena:GetDatabase',
  'athena:ListTableMetadata',
  'athena:GetTableMetadata',
] as const;

/** Catalog reads a query of the views needs (the views and the gold tables they read). */
export const QUICKSIGHT_GLUE_READ_ACTIONS = ['glue:GetDatabase', 'glue:GetTable', 'glue:GetTables', 'glue:GetPartition', 'glue:GetPartitions'] as const;

/** Reading the dashboard: QuickSight's viewer permission of a dashboard. */
export const DASHBOARD_VIEWER_ACTIONS = ['quicksight:DescribeDashboard', 'quicksight:ListDashboardVersions', 'quicksight:QueryDashboard'] as const;

/** Working on the analysis: QuickSight's (only) permission level of an analysis, its owner's. */
export const ANALYSIS_AUTHOR_ACTIONS = [
  'quicksight:DescribeAnalysis',
  'quicksight:QueryAnalysis',
  'quicksight:UpdateAnalysis',
  'quicksight:RestoreAnalysis',
  'quicksight:DeleteAnalysis',
  'quicksight:DescribeAnalysisPermissions',
  'quicksight:UpdateAnalysisPermissions',
] as const;

/** Using a dataset in analyses and following its refreshes: QuickSight's viewer permission of a dataset (no update, delete or sharing). */
export const DATASET_USER_ACTIONS = [
  'quicksight:DescribeDataSet',
  'quicksight:DescribeDataSetPermissions',
  'quicksight:PassDataSet',
  'quicksight:DescribeIngestion',
  'quicksight:ListIngestions',
] as const;

/** Making datasets of one's own on the data source: QuickSight's user permission of a data source (no update, delete or sharing). */
export const DATA_SOURCE_USER_ACTIONS = [
  'quicksight:DescribeDataSource',
  'quicksight:DescribeDataSourcePermissions',
  'quicksight:PassDataSource',
] as const;

/** One column of a SPICE dataset as QuickSight types it (`InputColumn`). */
export interface QuickSightColumn {
  readonly name: string;
  readonly type: 'STRING' | 'INTEGER' | 'DECIMAL' | 'DATETIME' | 'BIT';
  readonly subType?: 'FIXED' | 'FLOAT';
}

/** SPICE keeps fixed-point decimals with at most four digits after the point. */
const SPICE_FIXED_SCALE = 4;

/**
 * QuickSight's type of a declared column (the view declarations' Glue types): `string` is
 * STRING, `int` and `bigint` INTEGER, `decimal(p,s)` a fixed DECIMAL (a float one past four
 * digits of scale), `double` a float DECIMAL, `date` and `timestamp` DATETIME, `boolean` BIT.
 *
 * @throws Error naming the column for a type QuickSight has no column type for
 */
export function quickSightColumn(column: ColumnDeclaration): QuickSightColumn {
  const { name, type } = column;
  const decimal = /^decimal\((\d+),\s*(\d+)\)$/.exec(type);
  if (decimal) {
    return { name, type: 'DECIMAL', subType: Number(decimal[2]) <= SPICE_FIXED_SCALE ? 'FIXED' : 'FLOAT' };
  }
  const simple: Record<string, QuickSightColumn['type']> = {
    string: 'STRING',
    int: 'INTEGER',
    bigint: 'INTEGER',
    date: 'DATETIME',
    timestamp: 'DATETIME',
    boolean: 'BIT',
  };
  if (type === 'double') {
    return { name, type: 'DECIMAL', subType: 'FLOAT' };
  }
  if (simple[type] === undefined) {
    throw new Error(`Column ${name} has type "${type}", which has no QuickSight column type; declare it as string, int, bigint, double, decimal(p,s), boolean, date or timestamp.`);
  }
  return { name, type: simple[type] };
}

/** The QuickSight settings the construct needs (`serving.quickSight` of an environment that turns it on). */
export interface QuickSightSettings {
  /** Namespace of the groups. @default 'default' */
  readonly namespace?: string;
  /** Region of the account's QuickSight identities. @default - the stack's region */
  readonly identityRegion?: string;
  /** The authors' QuickSight group (a name in the namespace). */
  readonly authorGroup: string;
  /** The viewers' QuickSight group (a name in the namespace). */
  readonly viewerGroup: string;
  /** `HH:MM` (UTC) of the daily fallback refresh. */
  readonly fallbackRefreshTimeUtc: string;
}

/** Properties of {@link QuickSightDashboards}. */
export interface QuickSightDashboardsProps {
  /** App and environment: every id and name starts with them. */
  readonly names: NameScope;
  readonly settings: QuickSightSettings;
  /** The analysts' workgroup, whose enforced settings (results, encryption, scan cap) QuickSight's queries run under. */
  readonly workgroup: athena.CfnWorkGroup;
  /** The workgroup's results bucket, encrypted with its own customer key. */
  readonly queryResultsBucket: s3.IBucket;
  /** The workgroup's results prefix in that bucket, ending with `/`. */
  readonly resultsPrefix: string;
  /** The gold database of the views. */
  readonly goldDatabase: glue.IDatabase;
  /** The views with their declared columns (`servingViews()`), by name; the dashboard's views among them. */
  readonly views: readonly ServingView[];
  /** The alerts topic, told of failed and missing refreshes. */
  readonly alertsTopic: sns.ITopic;
}

/**
 * The QuickSight data source, datasets, refresh schedules, analysis and dashboard of the
 * dashboard views (module comment above). The Lake Formation grants of {@link role} are the
 * Serving stack's (the same as the analysts').
 */
export class QuickSightDashboards extends Construct {
  /** The role QuickSight assumes for the data source (its `athenaParameters.roleArn`). */
  public readonly role: LeastPrivilegeRole;
  public readonly dataSource: quicksight.CfnDataSource;
  /** One SPICE dataset per dashboard view, by view name. */
  public readonly dataSets: Readonly<Record<DashboardView, quicksight.CfnDataSet>>;
  /** Each dataset's id (a literal: the workflow names the dataset by it), by view name. */
  public readonly dataSetIds = {} as Record<DashboardView, string>;
  /** Each dataset's daily fallback refresh, by view name. */
  public readonly refreshSchedules: Readonly<Record<DashboardView, quicksight.CfnRefreshSchedule>>;
  public readonly analysis: quicksight.CfnAnalysis;
  public readonly dashboard: quicksight.CfnDashboard;
  /** Failed refreshes per dataset, and no refresh at all in a day. */
  public readonly alarms: StageAlarms;
  /** The authors' and viewers' group ARNs. */
  public readonly authorGroupArn: string;
  public readonly viewerGroupArn: string;

  constructor(scope: Construct, id: string, props: QuickSightDashboardsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { names, settings } = props;
    const key = props.queryResultsBucket.encryptionKey;
    if (!key) {
      throw new Error(`QuickSightDashboards ${this.node.path}: the query-results bucket has no customer key; pass the bucket Athena's workgroup encrypts results in.`);
    }
    const namespace = settings.namespace ?? 'default';
    const groupArn = (group: string): string =>
      stack.formatArn({ service: 'quicksight', region: settings.identityRegion ?? stack.region, resource: 'group', resourceName: `${namespace}/${group}` });
    this.authorGroupArn = groupArn(settings.authorGroup);
    this.viewerGroupArn = groupArn(settings.viewerGroup);
    const label = `${names.appName} ${names.envName}`;

    // The role QuickSight runs the data source's queries as: this workgroup, its results, the
    // catalog of gold; Lake Formation decides the tables and columns (the Serving stack grants).
    this.role = new LeastPrivilegeRole(this, 'DataSourceRole', {
      assumedBy: new iam.ServicePrincipal('quicksight.amazonaws.com'),
      description: 'QuickSight queries the serving views through the analysts workgroup (Athena data source role)',
    });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [...QUICKSIGHT_ATHENA_ACTIONS],
        resources: [stack.formatArn({ service: 'athena', resource: 'workgroup', resourceName: props.workgroup.name })],
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [...QUICKSIGHT_ATHENA_CATALOG_ACTIONS],
        resources: [stack.formatArn({ service: 'athena', resource: 'datacatalog', resourceName: ATHENA_DATA_CATALOG })],
      }),
    );
    // Athena writes the results with the caller's rights, and reads them back: no delete.
    grantPrefixRead(this.role, { bucket: props.queryResultsBucket, prefix: props.resultsPrefix });
    grantPrefixWrite(this.role, { bucket: props.queryResultsBucket, prefix: props.resultsPrefix });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['s3:GetBucketLocation'], resources: [props.queryResultsBucket.bucketArn] }),
    );
    const goldTables = stack.formatArn({ service: 'glue', resource: 'table', resourceName: `${props.goldDatabase.databaseName}/*` });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [...QUICKSIGHT_GLUE_READ_ACTIONS],
        resources: [stack.formatArn({ service: 'glue', resource: 'catalog' }), props.goldDatabase.databaseArn, goldTables],
      }),
    );
    acknowledgeWildcardResource(
      this.role,
      goldTables,
      'Catalog reads of the tables of the gold database only (the views and the gold tables they read); Lake Formation grants decide which tables and columns QuickSight sees.',
    );
    // lakeformation:GetDataAccess has no resource-level permission; Lake Formation's grants scope what it vends.
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['lakeformation:GetDataAccess'], resources: ['*'] }));

    this.dataSource = new quicksight.CfnDataSource(this, 'DataSource', {
      awsAccountId: stack.account,
      dataSourceId: resourceName(names, 'gold-athena'),
      name: `${label}: gold views through Athena`,
      type: 'ATHENA',
      dataSourceParameters: { athenaParameters: { workGroup: props.workgroup.ref, roleArn: this.role.roleArn } },
      sslProperties: { disableSsl: false },
      permissions: [{ principal: this.authorGroupArn, actions: [...DATA_SOURCE_USER_ACTIONS] }],
    });
    // QuickSight checks the connection with the role when it creates the data source.
    this.dataSource.node.addDependency(this.role);

    const byName = new Map(props.views.map((view) => [view.name, view]));
    const missing = DASHBOARD_VIEWS.filter((name) => !byName.has(name));
    if (missing.length > 0) {
      throw new Error(`QuickSightDashboards ${this.node.path}: the dashboard reads view ${missing.join(', ')}, which lib/serving/sql/views does not have; add the view or change lib/serving/dashboard-definition.ts.`);
    }
    const dataSets = {} as Record<DashboardView, quicksight.CfnDataSet>;
    const schedules = {} as Record<DashboardView, quicksight.CfnRefreshSchedule>;
    const columns: Record<string, readonly string[]> = {};
    for (const name of DASHBOARD_VIEWS) {
      const view = byName.get(name)!;
      const dataSetId = resourceName(names, name);
      const dataSet = new quicksight.CfnDataSet(this, `${pascal(name)}DataSet`, {
        awsAccountId: stack.account,
        dataSetId,
        name: `${label}: ${name}`,
        importMode: 'SPICE',
        physicalTableMap: {
          view: {
            relationalTable: {
              dataSourceArn: this.dataSource.attrArn,
              catalog: ATHENA_DATA_CATALOG,
              schema: props.goldDatabase.databaseName,
              name,
              inputColumns: view.declaration.columns.map(quickSightColumn),
            },
          },
        },
        // The deploy does not wait for the first import: gold may still be empty (the workflow refreshes).
        ingestionWaitPolicy: { waitForSpiceIngestion: false },
        permissions: [{ principal: this.authorGroupArn, actions: [...DATASET_USER_ACTIONS] }],
      });
      dataSets[name] = dataSet;
      this.dataSetIds[name] = dataSetId;
      columns[name] = view.declaration.columns.map((c) => c.name);
      schedules[name] = new quicksight.CfnRefreshSchedule(this, `${pascal(name)}FallbackRefresh`, {
        awsAccountId: stack.account,
        dataSetId,
        schedule: {
          scheduleId: 'daily-fallback',
          refreshType: 'FULL_REFRESH',
          scheduleFrequency: { interval: 'DAILY', timeOfTheDay: settings.fallbackRefreshTimeUtc, timeZone: 'UTC' },
        },
      });
      schedules[name].node.addDependency(dataSet);
    }
    this.dataSets = dataSets;
    this.refreshSchedules = schedules;

    // One typed definition for the analysis and the dashboard, checked against the datasets' columns.
    const definition = retailDashboardDefinition(
      Object.fromEntries(DASHBOARD_VIEWS.map((name) => [name, dataSets[name].attrArn])) as Record<DashboardView, string>,
    );
    validateDefinition(`The dashboard definition (lib/serving/dashboard-definition.ts)`, definition, columns);
    this.analysis = new quicksight.CfnAnalysis(this, 'Analysis', {
      awsAccountId: stack.account,
      analysisId: resourceName(names, 'retail'),
      name: `${label}: retail performance (analysis)`,
      definition,
      validationStrategy: { mode: 'STRICT' },
      permissions: [{ principal: this.authorGroupArn, actions: [...ANALYSIS_AUTHOR_ACTIONS] }],
    });
    this.dashboard = new quicksight.CfnDashboard(this, 'Dashboard', {
      awsAccountId: stack.account,
      dashboardId: resourceName(names, 'retail'),
      name: `${label}: retail performance`,
      versionDescription: 'Deployed from lib/serving/dashboard-definition.ts',
      definition,
      validationStrategy: { mode: 'STRICT' },
      dashboardPublishOptions: {
        adHocFilteringOption: { availabilityStatus: 'ENABLED' },
        exportToCsvOption: { availabilityStatus: 'ENABLED' },
        sheetControlsOption: { visibilityState: 'EXPANDED' },
      },
      // The dashboard changes only through this code: nobody owns it in QuickSight, both groups read it.
      permissions: [
        { principal: this.authorGroupArn, actions: [...DASHBOARD_VIEWER_ACTIONS] },
        { principal: this.viewerGroupArn, actions: [...DASHBOARD_VIEWER_ACTIONS] },
      ],
    });

    // A failed import leaves the dashboard on its last good data: a warning, not a page.
    this.alarms = new StageAlarms(this, 'Alarms', { topic: props.alertsTopic });
    for (const name of DASHBOARD_VIEWS) {
      this.alarms.addAlarm(`RefreshFailed${pascal(name)}`, {
        metric: ingestionMetric('IngestionErrorCount', this.dataSetIds[name], ALARM_PERIOD),
        threshold: 1,
        severity: 'Warning',
        description: `A SPICE refresh of the QuickSight dataset ${this.dataSetIds[name]} failed: the dashboard shows the data of its last good refresh. QuickSight's dataset page names the error (docs/serving.md#quicksight).`,
      });
    }
    const day = Duration.days(1);
    const refreshes = new cloudwatch.MathExpression({
      expression: DASHBOARD_VIEWS.map((_, i) => `FILL(m${i}, 0)`).join(' + '),
      usingMetrics: Object.fromEntries(DASHBOARD_VIEWS.map((name, i) => [`m${i}`, ingestionMetric('IngestionInvocationCount', this.dataSetIds[name], day)])),
      period: day,
      label: 'SPICE refreshes of the dashboard datasets',
    });
    this.alarms.addAlarm('NoRefreshInADay', {
      metric: refreshes,
      threshold: 1,
      comparison: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      severity: 'Warning',
      description: 'No SPICE refresh of any dashboard dataset in a day, neither from the workflow nor from the fallback schedule: the dashboard is getting stale.',
    });
  }
}

/** A per-dataset SPICE ingestion metric QuickSight publishes (`AWS/QuickSight`, dimension `DatasetId`), summed. */
function ingestionMetric(metricName: 'IngestionErrorCount' | 'IngestionInvocationCount', dataSetId: string, period: Duration): cloudwatch.Metric {
  return new cloudwatch.Metric({ namespace: 'AWS/QuickSight', metricName, dimensionsMap: { DatasetId: dataSetId }, statistic: 'Sum', period });
}
