import { App, Stage, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks } from 'cdk-nag';
import { EnvironmentConfig } from './config';
import { AccountStack } from './account/account-stack';
import { FoundationStack } from './foundation/foundation-stack';
import { IngestionStack } from './ingestion/ingestion-stack';
import { OrchestrationStack } from './orchestration/orchestration-stack';
import { ServingStack } from './serving/serving-stack';
import { SourceStack } from './source/source-stack';
import { StorageStack } from './lake/storage-stack';
import { TransformStack } from './transform/transform-stack';

/**
 * The deploy order: dependencies first, not the lifecycle's reading order. A test checks
 * that the real stack dependencies respect it and that the README states it.
 */
export const DEPLOY_ORDER = [
  'Foundation',
  'Storage',
  'Source',
  'Ingestion',
  'Transform',
  'Serving',
  'Orchestration',
] as const;

/** Every stack of one environment. */
export interface Platform {
  readonly foundation: FoundationStack;
  readonly storage: StorageStack;
  readonly source: SourceStack;
  readonly ingestion: IngestionStack;
  readonly transform: TransformStack;
  readonly serving: ServingStack;
  readonly orchestration: OrchestrationStack;
}

/**
 * Builds every stack of one environment in deploy order. Stacks share resources only
 * through typed props, so the dependency graph is the props graph.
 */
export function buildPlatform(scope: App | Stage, config: EnvironmentConfig): Platform {
  return buildStages(scope, config, DEPLOY_ORDER.length) as Platform;
}

/**
 * Builds the first `count` stacks of {@link DEPLOY_ORDER}, as {@link buildPlatform} builds them.
 * Since a stack depends only on the stacks before it, a stack's template must not change when
 * the stacks after it are built (the architecture test checks it: no stack writes into another's).
 */
export function buildStages(scope: App | Stage, config: EnvironmentConfig, count: number): Partial<Platform> {
  const built: { -readonly [K in keyof Platform]?: Platform[K] } = {};
  const done = (): boolean => Object.keys(built).length >= count;
  const foundation = (built.foundation = new FoundationStack(scope, { config }));
  if (done()) {
    return built;
  }
  const { keys } = foundation;
  const storage = (built.storage = new StorageStack(scope, {
    config,
    lakeKey: keys.lake,
    queryResultsKey: keys.queryResults,
    accessLogsBucket: foundation.accessLogsBucket,
    vpc: foundation.vpc,
    dataClientSubnets: foundation.dataClientSubnets,
    alertsTopic: foundation.alertsTopic,
    logKey: keys.ops,
  }));
  if (done()) {
    return built;
  }
  const source = (built.source = new SourceStack(scope, {
    config,
    vpc: foundation.vpc,
    dataClientSubnets: foundation.dataClientSubnets,
    alertsTopic: foundation.alertsTopic,
    sourceKey: keys.source,
    logKey: keys.ops,
  }));
  if (done()) {
    return built;
  }
  const ingestion = (built.ingestion = new IngestionStack(scope, {
    config,
    rawBucket: storage.buckets.raw,
    rawDatabase: storage.databases.raw,
    lakeFormation: storage.lakeFormation,
    vpc: foundation.vpc,
    dataClientSubnets: foundation.dataClientSubnets,
    source: {
      instance: source.database,
      extractSecret: source.extractSecret,
      replicationSecret: source.replicationSecret,
      secretKey: keys.source,
      securityGroup: source.securityGroup,
      port: config.source.port,
      databaseName: config.source.databaseName,
    },
    streamKey: keys.stream,
    logKey: keys.ops,
    alertsTopic: foundation.alertsTopic,
  }));
  if (done()) {
    return built;
  }
  const transform = (built.transform = new TransformStack(scope, {
    config,
    buckets: storage.buckets,
    databases: storage.databases,
    lakeFormation: storage.lakeFormation,
    lakeKey: keys.lake,
    logKey: keys.ops,
    alertsTopic: foundation.alertsTopic,
  }));
  if (done()) {
    return built;
  }
  const serving = (built.serving = new ServingStack(scope, {
    config,
    queryResultsBucket: storage.buckets.queryResults,
    goldDatabase: storage.databases.gold,
    goldTables: storage.goldTables,
    lakeFormation: storage.lakeFormation,
    clickStream: ingestion.stream,
    alertsTopic: foundation.alertsTopic,
    logKey: keys.ops,
  }));
  if (done()) {
    return built;
  }
  built.orchestration = new OrchestrationStack(scope, {
    config,
    // Extract; then both curations side by side; then gold from curated.
    stages: [[ingestion.extractJob.job], [transform.sourceJob.job, transform.clickstreamJob.job], [transform.goldJob.job]],
    alertsTopic: foundation.alertsTopic,
    logKey: keys.ops,
    // After gold, the dashboards' SPICE datasets are refreshed (where QuickSight is on).
    dashboards: serving.quickSight,
  });
  return built;
}

/**
 * The account stack (`<app>-account`): what is one per AWS account and region, deployed once
 * with `-c accountBaseline=true` before the first environment (lib/account/account-stack.ts).
 * Built beside an environment's stacks but independent of them: no environment stack
 * references it, and it references none.
 */
export function buildAccountBaseline(scope: App | Stage, config: EnvironmentConfig): AccountStack {
  return new AccountStack(scope, { config });
}

/**
 * The cdk-nag packs every environment must pass: AwsSolutions, NIST 800-53 R5, HIPAA Security,
 * PCI DSS 3.2.1. Acknowledged findings are also written into each resource's template
 * metadata (`cdk_nag.rules_to_suppress`), so a reviewer of the templates sees every
 * exception and its reason next to the resource.
 */
export function addComplianceChecks(scope: App | Stage): void {
  Validations.of(scope).addPlugins(
    new AwsSolutionsChecks(scope, { writeSuppressionsToCloudFormation: true }),
    new NIST80053R5Checks(scope),
    new HIPAASecurityChecks(scope),
    new PCIDSS321Checks(scope),
  );
}
