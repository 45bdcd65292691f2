import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { EnvironmentConfig } from '../config';
import { sourceTableName } from '../lake/catalog';
import { GlueSparkJob } from './glue-spark-job';
import { grantPrefixRead, grantPrefixReadWrite } from '../shared/grants';
import { ALL_TABLES, LakeFormationGrants, LakeFormationSettings, LakePermission } from '../lake/lake-formation';
import { AlarmSeverity, ALARM_PERIOD, StageAlarms } from '../shared/stage-alarms';
import { DatasetDeclaration, goldTableDeclarations, sourceTableDeclarations } from '../lake/datasets';
import { CLICKSTREAM_DATASET_PREFIX, CLICKSTREAM_RAW_PREFIX, datasetPrefix, SOURCE_RAW_PREFIX } from '../lake/layout';
import { loadQualityRules, QualityLayer, QualityRule, renderDqdl, splitBySeverity } from './quality';
import { PlatformStack, PlatformStackProps } from '../shared/platform-stack';
import { DataZone, LakeBuckets } from '../lake/storage-stack';
import { catalogName, pascal } from '../shared/naming';

/** Properties of the {@link TransformStack}. */
export interface TransformStackProps extends PlatformStackProps {
  /** The lake zones. */
  readonly buckets: LakeBuckets;
  /** The catalog database of each data zone. */
  readonly databases: Record<DataZone, glue.IDatabase>;
  /** The Lake Formation settings the stage's grants depend on. */
  readonly lakeFormation: LakeFormationSettings;
  /** Key of the lake (job output and bookmarks). */
  readonly lakeKey: kms.IKey;
  /** Key of the job log groups. */
  readonly logKey: kms.IKey;
  /** Topic of the stage's alarms. */
  readonly alertsTopic: sns.ITopic;
}

/** The CloudWatch namespace of the transform jobs' own metrics: `<app>/<env>/Transform`. */
export function transformMetricsNamespace(config: EnvironmentConfig): string {
  return `${config.appName}/${config.envName}/Transform`;
}

/** The Glue catalog actions of an Iceberg writer through Iceberg's GlueCatalog on existing tables. */
export const ICEBERG_CATALOG_ACTIONS = ['glue:GetDatabase', 'glue:GetTable', 'glue:GetTables', 'glue:UpdateTable'] as const;

/** Lake Formation permissions of the gold writer on each gold table (Iceberg commits alter the table). */
export const GOLD_WRITER_TABLE_PERMISSIONS: readonly LakePermission[] = ['ALTER', 'DELETE', 'DESCRIBE', 'INSERT', 'SELECT'];

/** Lake Formation permissions of a writer on each table it replaces (curated, quarantine). */
const WRITER_TABLE_PERMISSIONS: readonly LakePermission[] = ['ALTER', 'DESCRIBE', 'INSERT'];
/** Lake Formation permissions of a reader on each table it reads. */
const READER_TABLE_PERMISSIONS: readonly LakePermission[] = ['DESCRIBE', 'SELECT'];

/** The `Dataset` dimension of the clickstream job's counts (`METRICS_DATASET` in its script). */
export const CLICKSTREAM_METRICS_DATASET = 'clickstream_events';

/** One metric alarm per dataset of a job: the metric (published with dimensions Job and Dataset) and what a breach means. */
interface DatasetAlarm {
  readonly metricName: string;
  readonly severity: AlarmSeverity;
  readonly description: (job: string, dataset: string) => string;
}

const SCHEMA_DRIFT_ALARM: DatasetAlarm = {
  metricName: 'SchemaDrift',
  severity: 'Critical',
  description: (job, dataset) =>
    `${job}: the raw ${dataset} no longer matches its declaration (a declared column disappeared or changed type); the table was not curated this run. Fix the source or the declaration, then rerun.`,
};
const DATA_QUALITY_FAILURES_ALARM: DatasetAlarm = {
  metricName: 'DataQualityFailures',
  severity: 'Critical',
  description: (job, dataset) =>
    `${job}: a blocking data-quality rule of ${dataset} failed; the run fails and ${dataset} was not replaced. The run's log names the rule and the measured value.`,
};
const DATA_QUALITY_WARNINGS_ALARM: DatasetAlarm = {
  metricName: 'DataQualityWarnings',
  severity: 'Warning',
  description: (job, dataset) =>
    `${job}: a warning data-quality rule of ${dataset} failed; the data was written. The run's log names the rule and the measured value.`,
};
const ROWS_QUARANTINED_ALARM: DatasetAlarm = {
  metricName: 'RowsQuarantined',
  severity: 'Warning',
  description: (job, dataset) =>
    `${job}: rows of ${dataset} failed a quarantine rule and were moved to the quarantine table ${dataset} (column rule names the rule).`,
};

/**
 * Stage 4, transformation: Glue PySpark jobs from `glue-scripts`.
 *
 * - `ClickstreamToCurated`: raw click events (GZIP JSON lines) -> typed, deduplicated Parquet
 *   in curated; rows that break a rule to quarantine.
 * - `SourceToCurated`: the raw source tables -> each table's current state in curated (one row
 *   per primary key), conformed to its declaration (drift guard); rows that fail a quarantine
 *   rule to quarantine; blocking rules stop the table.
 * - `CuratedToGold`: curated -> the gold Iceberg tables (star schema and clickstream aggregates).
 *
 * Each job role gets exactly its inputs and outputs; the data-quality rules of every curated
 * source table and gold table are also Glue Data Quality rulesets, for ad-hoc runs only (the
 * jobs enforce the rules; the pipeline never evaluates the rulesets); the jobs' own metrics
 * (schema drift, data quality, quarantined rows) alarm per dataset.
 */
export class TransformStack extends PlatformStack {
  public readonly clickstreamJob: GlueSparkJob;
  /** Raw source tables -> curated source tables and their quarantine. */
  public readonly sourceJob: GlueSparkJob;
  /** Curated -> gold Iceberg tables. */
  public readonly goldJob: GlueSparkJob;
  public readonly alarms: StageAlarms;
  /** The stage's Lake Formation grants. */
  public readonly lakeGrants: LakeFormationGrants;
  /**
   * Glue Data Quality rulesets by `<zone>/<table>/<blocking|warning>`, e.g. `curated/orders/blocking`:
   * a runnable copy of the declared rules for ad-hoc runs; the jobs enforce the rules, nothing evaluates these.
   */
  public readonly rulesets: Record<string, glue.DataQualityRuleset> = {};
  /** The namespace of the jobs' own metrics. */
  public readonly metricsNamespace: string;

  constructor(scope: Construct, props: TransformStackProps) {
    super(scope, 'Transform', props);
    const { raw, curated, quarantine, gold } = props.buckets;
    const { databases } = props;
    const sources = sourceTableDeclarations();
    const golds = goldTableDeclarations();
    this.metricsNamespace = transformMetricsNamespace(this.config);
    this.alarms = new StageAlarms(this, 'Alarms', { topic: props.alertsTopic });
    this.lakeGrants = new LakeFormationGrants(this, 'LakeGrants', { settings: props.lakeFormation });
    const common = {
      sizing: this.config.transform,
      dataKey: props.lakeKey,
      logKey: props.logKey,
      logRetention: this.logRetention,
      removalPolicy: this.dataRemovalPolicy,
      alarms: this.alarms,
    };
    const root = (bucket: s3.IBucket): string => `${bucket.s3UrlForObject()}/`;

    // --- ClickstreamToCurated -------------------------------------------------------------
    this.clickstreamJob = new GlueSparkJob(this, 'ClickstreamToCurated', {
      ...common,
      description: 'Click events raw -> curated: parse, validate, clean, deduplicate; bad rows to quarantine',
      script: 'jobs/clickstream_raw_to_curated.py',
      arguments: {
        raw_path: raw.s3UrlForObject(CLICKSTREAM_RAW_PREFIX),
        curated_path: curated.s3UrlForObject(CLICKSTREAM_DATASET_PREFIX),
        quarantine_path: quarantine.s3UrlForObject(CLICKSTREAM_DATASET_PREFIX),
      },
      // The job selects its input by ingest date and overwrites exactly those partitions.
      bookmarks: false,
      metricsNamespace: this.metricsNamespace,
    });
    grantPrefixRead(this.clickstreamJob, { bucket: raw, prefix: CLICKSTREAM_RAW_PREFIX });
    // Dynamic partition overwrite stages, lists, copies and deletes within its outputs.
    grantPrefixReadWrite(this.clickstreamJob, { bucket: curated, prefix: CLICKSTREAM_DATASET_PREFIX });
    grantPrefixReadWrite(this.clickstreamJob, { bucket: quarantine, prefix: CLICKSTREAM_DATASET_PREFIX });

    // Lake Formation: read every raw table; create and write tables over curated and quarantine.
    const clickstreamRole = this.clickstreamJob.role;
    this.lakeGrants.grant({ principal: clickstreamRole, database: databases.raw, table: ALL_TABLES, permissions: ['DESCRIBE', 'SELECT'] });
    for (const zone of ['curated', 'quarantine'] as const) {
      this.lakeGrants.grant({ principal: clickstreamRole, location: props.buckets[zone], permissions: ['DATA_LOCATION_ACCESS'] });
      this.lakeGrants.grant({ principal: clickstreamRole, database: databases[zone], permissions: ['CREATE_TABLE', 'ALTER', 'DESCRIBE'] });
      this.lakeGrants.grant({
        principal: clickstreamRole,
        database: databases[zone],
        table: ALL_TABLES,
        permissions: ['ALTER', 'DESCRIBE', 'INSERT'],
      });
    }

    // --- SourceToCurated ------------------------------------------------------------------
    this.sourceJob = new GlueSparkJob(this, 'SourceToCurated', {
      ...common,
      description:
        'Source tables raw -> curated: conform to the declaration (drift guard), keep the latest version per key, check the data-quality rules; failing rows to quarantine',
      script: 'jobs/source_raw_to_curated.py',
      arguments: {
        raw_path: raw.s3UrlForObject(SOURCE_RAW_PREFIX),
        curated_path: root(curated),
        quarantine_path: root(quarantine),
      },
      // Each run rebuilds every table's current state from the whole raw history, partition by
      // partition, and replaces it: a bookmark would hide the history the rebuild needs.
      bookmarks: false,
      metricsNamespace: this.metricsNamespace,
    });
    grantPrefixRead(this.sourceJob, { bucket: raw, prefix: SOURCE_RAW_PREFIX });
    for (const declaration of sources) {
      // Overwrite (curated) and dynamic partition overwrite (quarantine) list, read, write and delete their outputs.
      grantPrefixReadWrite(this.sourceJob, { bucket: curated, prefix: datasetPrefix(declaration.name) });
      grantPrefixReadWrite(this.sourceJob, { bucket: quarantine, prefix: datasetPrefix(declaration.name) });
    }
    const sourceRole = this.sourceJob.role;
    for (const zone of ['curated', 'quarantine'] as const) {
      this.lakeGrants.grant({ principal: sourceRole, location: props.buckets[zone], permissions: ['DATA_LOCATION_ACCESS'] });
    }
    for (const declaration of sources) {
      this.lakeGrants.grant({
        principal: sourceRole,
        database: databases.raw,
        table: sourceTableName(declaration.name),
        permissions: READER_TABLE_PERMISSIONS,
      });
      for (const zone of ['curated', 'quarantine'] as const) {
        this.lakeGrants.grant({ principal: sourceRole, database: databases[zone], table: declaration.name, permissions: WRITER_TABLE_PERMISSIONS });
      }
    }

    // --- CuratedToGold --------------------------------------------------------------------
    this.goldJob = new GlueSparkJob(this, 'CuratedToGold', {
      ...common,
      description: 'Curated -> gold: the star schema (customer SCD2, products, employees, dates, order lines) and the clickstream aggregates as Iceberg tables',
      script: 'jobs/curated_to_gold.py',
      arguments: {
        curated_path: root(curated),
        clickstream_path: curated.s3UrlForObject(CLICKSTREAM_DATASET_PREFIX),
        gold_database: databases.gold.databaseName,
        gold_path: root(gold),
      },
      // Each run rebuilds every gold table from the whole curated state and replaces it.
      bookmarks: false,
      icebergWarehouse: gold,
      metricsNamespace: this.metricsNamespace,
    });
    for (const declaration of sources) {
      grantPrefixRead(this.goldJob, { bucket: curated, prefix: datasetPrefix(declaration.name) });
    }
    grantPrefixRead(this.goldJob, { bucket: curated, prefix: CLICKSTREAM_DATASET_PREFIX });
    for (const declaration of golds) {
      // Iceberg writes data/ and metadata/ under the table's location and removes old metadata files.
      grantPrefixReadWrite(this.goldJob, { bucket: gold, prefix: datasetPrefix(declaration.name) });
    }
    // Iceberg's GlueCatalog reads the database and tables and commits by updating the table's
    // metadata location; CloudFormation creates the tables (lib/lake/catalog.ts), so no CreateTable.
    this.goldJob.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [...ICEBERG_CATALOG_ACTIONS],
        resources: [
          this.formatArn({ service: 'glue', resource: 'catalog' }),
          this.formatArn({ service: 'glue', resource: 'database', resourceName: databases.gold.databaseName }),
          ...golds.map((d) => this.formatArn({ service: 'glue', resource: 'table', resourceName: `${databases.gold.databaseName}/${d.name}` })),
        ],
      }),
    );
    const goldRole = this.goldJob.role;
    for (const table of [...sources.map((d) => d.name), 'clickstream_events']) {
      this.lakeGrants.grant({ principal: goldRole, database: databases.curated, table, permissions: READER_TABLE_PERMISSIONS });
    }
    this.lakeGrants.grant({ principal: goldRole, location: gold, permissions: ['DATA_LOCATION_ACCESS'] });
    this.lakeGrants.grant({ principal: goldRole, database: databases.gold, permissions: ['DESCRIBE'] });
    for (const declaration of golds) {
      this.lakeGrants.grant({ principal: goldRole, database: databases.gold, table: declaration.name, permissions: GOLD_WRITER_TABLE_PERMISSIONS });
    }

    // --- Data quality: the declared rules as Glue Data Quality rulesets, not evaluated by the pipeline
    const quality = new Construct(this, 'DataQuality');
    this.addRulesets(quality, 'curated', 'source', databases.curated, sources, 'SourceToCurated', this.sourceJob);
    this.addRulesets(quality, 'gold', 'gold', databases.gold, golds, 'CuratedToGold', this.goldJob);

    // --- Alarms on the jobs' own metrics, one per job and dataset ---------------------------
    this.addDatasetAlarm('ClickstreamToCurated', this.clickstreamJob, CLICKSTREAM_METRICS_DATASET, ROWS_QUARANTINED_ALARM);
    for (const declaration of sources) {
      for (const alarm of [SCHEMA_DRIFT_ALARM, DATA_QUALITY_FAILURES_ALARM, DATA_QUALITY_WARNINGS_ALARM, ROWS_QUARANTINED_ALARM]) {
        this.addDatasetAlarm('SourceToCurated', this.sourceJob, declaration.name, alarm);
      }
    }
    for (const declaration of golds) {
      for (const alarm of [DATA_QUALITY_FAILURES_ALARM, DATA_QUALITY_WARNINGS_ALARM]) {
        this.addDatasetAlarm('CuratedToGold', this.goldJob, declaration.name, alarm);
      }
    }
  }

  /**
   * The declared rules of each dataset as Glue Data Quality rulesets: one of the rules whose
   * failure the job treats as blocking, and one of its warning rules where it has any.
   *
   * They are not enforcement, and their names, descriptions and tags say so: nothing in the
   * pipeline evaluates them (an evaluation run costs DPU time per run, and the job already
   * enforces the same rules on every run, on real Spark, with tests). They are the reviewable,
   * runnable copy of the rules for ad-hoc Glue Data Quality runs. The construct ids keep the
   * severity (`CuratedOrdersBlocking`) so that the resources are updated in place.
   */
  private addRulesets(
    scope: Construct,
    zone: 'curated' | 'gold',
    layer: QualityLayer,
    database: glue.IDatabase,
    declarations: readonly DatasetDeclaration[],
    jobId: string,
    job: GlueSparkJob,
  ): void {

    for (const declaration of declarations) {
      const { blocking, warning } = splitBySeverity(loadQualityRules(declaration, layer));
      const severities = [
        {
          severity: 'blocking',
          rules: blocking,
          // Every dataset has blocking rules (its implicit ones): this is its `_rules` ruleset.
          suffix: 'rules',
          what: `the rules of ${zone} ${declaration.name} whose failure ${jobId} treats as blocking (${
            layer === 'source' ? 'action block, and quarantine: after quarantine the curated rows must satisfy them' : 'action block; gold has no quarantine'
          })`,
        },
        {
          severity: 'warning',
          rules: warning,
          suffix: 'warning_rules',
          what: `the rules of ${zone} ${declaration.name} whose failure ${jobId} only reports (action warn)`,
        },
      ] as const;
      for (const { severity, rules, suffix, what } of severities) {
        if (rules.length === 0) {
          continue;
        }
        const ruleset = new glue.DataQualityRuleset(scope, `${pascal(zone)}${pascal(declaration.name)}${pascal(severity)}`, {
          rulesetName: catalogName(this.config, zone, declaration.name, suffix),
          description: rulesetDescription(what, jobId, referencedDatasets(rules)),
          dqdl: glue.Dqdl.fromString(renderDqdl(declaration, rules)),
          targetTable: glue.DataQualityTargetTable.fromTableName(database, declaration.name),
          tags: { severity, 'enforced-by': job.job.jobName },
        });
        this.rulesets[`${zone}/${declaration.name}/${severity}`] = ruleset;
      }
    }
  }

  /** One alarm on a job's metric of one dataset (dimensions Job and Dataset, summed over 5 minutes). */
  private addDatasetAlarm(jobId: string, job: GlueSparkJob, dataset: string, alarm: DatasetAlarm): cloudwatch.Alarm {
    return this.alarms.addAlarm(`${jobId}${pascal(dataset)}${alarm.metricName}`, {
      metric: new cloudwatch.Metric({
        namespace: this.metricsNamespace,
        metricName: alarm.metricName,
        dimensionsMap: { Job: job.job.jobName, Dataset: dataset },
        statistic: 'Sum',
        period: ALARM_PERIOD,
      }),
      threshold: 1,
      severity: alarm.severity,
      description: alarm.description(jobId, dataset),
    });
  }
}

/** The datasets the `references` rules of a ruleset read, in order of first use. */
function referencedDatasets(rules: readonly QualityRule[]): string[] {
  return [...new Set(rules.flatMap((rule) => (rule.kind === 'references' ? [rule.dataset] : [])))];
}

/**
 * The description of a ruleset: what it holds, that the pipeline does not evaluate it and which
 * job enforces the same rules, and what a Glue Data Quality run of it needs.
 */
function rulesetDescription(what: string, jobId: string, references: readonly string[]): string {
  const run =
    references.length === 0
      ? 'It has no referential rules: a Glue Data Quality run needs only the target table.'
      : `A Glue Data Quality run of its ReferentialIntegrity rules needs the referenced datasets as additional data sources, aliased ${references.join(', ')} (the tables of those names in the same database).`;
  return `Reference copy of ${what}, from the dataset declaration. The pipeline does not evaluate this ruleset: job ${jobId} enforces the same rules on every run. ${run}`;
}
