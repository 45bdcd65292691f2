import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { GlueSparkJob } from '../constructs/glue-spark-job';
import { grantPrefixRead, grantPrefixReadWrite } from '../constructs/grants';
import { StageAlarms } from '../constructs/stage-alarms';
import { CLICKSTREAM_DATASET_PREFIX, CLICKSTREAM_RAW_PREFIX } from '../lake-layout';
import { StageStack, StageStackProps } from './stage-stack';
import { LakeBuckets } from './storage-stack';

/** Properties of the {@link TransformStack}. */
export interface TransformStackProps extends StageStackProps {
  /** The lake zones. */
  readonly buckets: LakeBuckets;
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
  }
}
