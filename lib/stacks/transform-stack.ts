import * as glue from 'aws-cdk-lib/aws-glue';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { GlueSparkJob } from '../constructs/glue-spark-job';
import { grantPrefixRead, grantPrefixReadWrite } from '../constructs/grants';
import { ALL_TABLES, LakeFormationGrants, LakeFormationSettings } from '../constructs/lake-formation';
import { StageAlarms } from '../constructs/stage-alarms';
import { CLICKSTREAM_DATASET_PREFIX, CLICKSTREAM_RAW_PREFIX } from '../lake-layout';
import { StageStack, StageStackProps } from './stage-stack';
import { DataZone, LakeBuckets } from './storage-stack';

/** Properties of the {@link TransformStack}. */
export interface TransformStackProps extends StageStackProps {
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

/**
 * Stage 4, transformation: Glue PySpark jobs from `glue-scripts`. The clickstream job
 * turns the raw GZIP JSON lines into typed, deduplicated Parquet in the curated zone and
 * quarantines every row that breaks a rule.
 */
export class TransformStack extends StageStack {
  public readonly clickstreamJob: GlueSparkJob;
  public readonly alarms: StageAlarms;
  /** The stage's Lake Formation grants. */
  public readonly lakeGrants: LakeFormationGrants;

  constructor(scope: Construct, props: TransformStackProps) {
    super(scope, 'Transform', props);
    const { raw, curated, quarantine } = props.buckets;
    this.alarms = new StageAlarms(this, 'Alarms', { topic: props.alertsTopic });

    this.clickstreamJob = new GlueSparkJob(this, 'ClickstreamToCurated', {
      description: 'Click events raw -> curated: parse, validate, clean, deduplicate; bad rows to quarantine',
      script: 'jobs/clickstream_raw_to_curated.py',
      arguments: {
        raw_path: raw.s3UrlForObject(CLICKSTREAM_RAW_PREFIX),
        curated_path: curated.s3UrlForObject(CLICKSTREAM_DATASET_PREFIX),
        quarantine_path: quarantine.s3UrlForObject(CLICKSTREAM_DATASET_PREFIX),
      },
      // The job selects its input by ingest date and overwrites exactly those partitions.
      bookmarks: false,
      sizing: this.config.transform,
      dataKey: props.lakeKey,
      logKey: props.logKey,
      logRetention: this.logRetention,
      removalPolicy: this.dataRemovalPolicy,
      alarms: this.alarms,
    });
    grantPrefixRead(this.clickstreamJob, { bucket: raw, prefix: CLICKSTREAM_RAW_PREFIX });
    // Dynamic partition overwrite stages, lists, copies and deletes within its outputs.
    grantPrefixReadWrite(this.clickstreamJob, { bucket: curated, prefix: CLICKSTREAM_DATASET_PREFIX });
    grantPrefixReadWrite(this.clickstreamJob, { bucket: quarantine, prefix: CLICKSTREAM_DATASET_PREFIX });

    // Lake Formation: read every raw table; create and write tables over curated and quarantine.
    const role = this.clickstreamJob.role;
    this.lakeGrants = new LakeFormationGrants(this, 'LakeGrants', { settings: props.lakeFormation });
    this.lakeGrants.grant({ principal: role, database: props.databases.raw, table: ALL_TABLES, permissions: ['DESCRIBE', 'SELECT'] });
    for (const zone of ['curated', 'quarantine'] as const) {
      this.lakeGrants.grant({ principal: role, location: props.buckets[zone], permissions: ['DATA_LOCATION_ACCESS'] });
      this.lakeGrants.grant({ principal: role, database: props.databases[zone], permissions: ['CREATE_TABLE', 'ALTER', 'DESCRIBE'] });
      this.lakeGrants.grant({
        principal: role,
        database: props.databases[zone],
        table: ALL_TABLES,
        permissions: ['ALTER', 'DESCRIBE', 'INSERT'],
      });
    }
  }
}
