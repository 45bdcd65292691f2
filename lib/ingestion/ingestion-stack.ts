/*
 * How this stack is split, and why its templates do not change.
 *
 * The stack composes three parts, each in its own file beside it: the click stream and its
 * Firehose delivery (clickstream-delivery.ts), the batch source extract (source-extract.ts) and
 * change data capture (change-data-capture.ts), with what the two source parts share in
 * source-access.ts.
 *
 * The parts are plain functions (`addClickStream(this, ...)`, ...), not constructs. CDK derives
 * a resource's logical id from its construct path: wrapping a part in a new Construct would
 * put a level into every path below it (`ClickStream` -> `Clickstream/ClickStream`), rename
 * every logical id and so make CloudFormation replace the stream, the job, the roles and the
 * rest on the next deploy. A function that creates its resources with the scope it is given
 * (this stack) and the ids they always had keeps every path, and so every logical id. The
 * stack calls the parts in the order it always created their resources, so the templates keep
 * their resource and statement order too: they are identical to those before the split (the
 * snapshots under test/snapshots are the check).
 */
import { Duration } from 'aws-cdk-lib';
import * as dms from 'aws-cdk-lib/aws-dms';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { LakeFormationGrants, LakeFormationSettings } from '../lake/lake-formation';
import { LeastPrivilegeRole } from '../shared/least-privilege-role';
import { resourceName } from '../shared/naming';
import { PlatformStack, PlatformStackProps } from '../shared/platform-stack';
import { StageAlarms } from '../shared/stage-alarms';
import { GlueSparkJob } from '../transform/glue-spark-job';
import { addChangeDataCapture } from './change-data-capture';
import { addClickStream, addClickstreamDelivery } from './clickstream-delivery';
import { SourceAccess } from './source-access';
import { addSourceExtract, grantSourceExtractLakeAccess } from './source-extract';

export { EVENT_DATE_QUERY } from './clickstream-delivery';

/** The source database as the ingestion stage sees it. */
export interface SourceDatabase {
  /** The instance (endpoint address and port). */
  readonly instance: rds.IDatabaseInstance;
  /** Credentials of the read-only extract user (with host and port). */
  readonly extractSecret: secretsmanager.ISecret;
  /**
   * Credentials of the replication user, required when cdc.enabled.
   * @default - none; the stack fails to build with cdc.enabled
   */
  readonly replicationSecret?: secretsmanager.ISecret;
  /** Key of the credentials. */
  readonly secretKey: kms.IKey;
  /** Its security group; each ingestion component is admitted on the port by a rule of this stack. */
  readonly securityGroup: ec2.ISecurityGroup;
  /** Database port. */
  readonly port: number;
  /** Database (schema) name. */
  readonly databaseName: string;
}

/** Properties of the {@link IngestionStack}. */
export interface IngestionStackProps extends PlatformStackProps {
  /** The raw zone (with its customer key, the lake key). */
  readonly rawBucket: s3.IBucket;
  /** The raw zone's catalog database. */
  readonly rawDatabase: glue.IDatabase;
  /** The Lake Formation settings the stage's grants depend on. */
  readonly lakeFormation: LakeFormationSettings;
  /** The VPC of the source database. */
  readonly vpc: ec2.IVpc;
  /** Where the extract job and the replication run (see FoundationStack.dataClientSubnets). */
  readonly dataClientSubnets: ec2.SubnetSelection;
  /** The source database. */
  readonly source: SourceDatabase;
  /** Key of the click stream. */
  readonly streamKey: kms.IKey;
  /** Key of the log groups. */
  readonly logKey: kms.IKey;
  /** Topic of the stage's alarms. */
  readonly alertsTopic: sns.ITopic;
}

/**
 * Stage 2, ingestion.
 *
 * Streaming: click events arrive in a KMS-encrypted Kinesis stream (producers use the
 * producer role); Firehose delivers them to the raw zone as GZIP JSON lines under
 * `clickstream/event_date=YYYY-MM-DD/ingest_date=YYYY-MM-DD/`, and anything it cannot
 * parse or deliver under `clickstream-errors/`, so nothing is dropped silently.
 *
 * Batch: a Glue JDBC connection into the source VPC (TLS, the read-only extract user's
 * rotated secret) and the Glue extract job landing every source table in `source/` as Parquet.
 *
 * Change data capture (cdc.enabled): DMS Serverless from the source binlog to `cdc/`.
 */
export class IngestionStack extends PlatformStack {
  public readonly stream: kinesis.Stream;
  public readonly deliveryStream: firehose.CfnDeliveryStream;
  /** Role click-event producers assume: PutRecord/PutRecords on the stream and its key only. */
  public readonly producerRole: LeastPrivilegeRole;
  public readonly sourceConnection: glue.Connection;
  public readonly extractJob: GlueSparkJob;
  /** The DMS replication, when cdc.enabled. */
  public readonly replication?: dms.CfnReplicationConfig;
  public readonly alarms: StageAlarms;
  /** The stage's Lake Formation grants. */
  public readonly lakeGrants: LakeFormationGrants;

  constructor(scope: Construct, props: IngestionStackProps) {
    super(scope, 'Ingestion', props);
    const { streaming, cdc } = this.config;
    const { rawBucket, source } = props;
    const rawKey = rawBucket.encryptionKey;
    if (!rawKey) {
      throw new Error('IngestionStack: the raw bucket needs its customer key (the lake key): Firehose, the extract job and DMS encrypt with it.');
    }
    this.alarms = new StageAlarms(this, 'Alarms', { topic: props.alertsTopic });

    // Streaming. Every part below creates its resources in this stack, under their own ids.
    const clickStream = addClickStream(this, {
      streamKey: props.streamKey,
      shardCount: streaming.capacityMode === 'provisioned' ? streaming.shardCount : undefined,
      retention: Duration.hours(streaming.retentionHours),
      removalPolicy: this.dataRemovalPolicy,
    });
    this.stream = clickStream.stream;
    this.producerRole = clickStream.producerRole;
    this.deliveryStream = addClickstreamDelivery(this, {
      stream: this.stream,
      streamKey: props.streamKey,
      rawBucket,
      rawKey,
      bufferInterval: Duration.seconds(streaming.bufferIntervalSeconds),
      bufferSizeMiB: streaming.bufferSizeMiB,
      logKey: props.logKey,
      logRetention: this.logRetention,
      removalPolicy: this.dataRemovalPolicy,
      alarms: this.alarms,
    }).deliveryStream;

    // Batch.
    const extract = addSourceExtract(this, {
      ...this.sourceAccess(props, source.extractSecret),
      instance: source.instance,
      rawBucket,
      rawKey,
      sizing: this.config.transform,
      logKey: props.logKey,
      logRetention: this.logRetention,
      removalPolicy: this.dataRemovalPolicy,
      alarms: this.alarms,
    });
    this.sourceConnection = extract.connection;
    this.extractJob = extract.job;
    this.lakeGrants = new LakeFormationGrants(this, 'LakeGrants', { settings: props.lakeFormation });
    grantSourceExtractLakeAccess(this.lakeGrants, { job: this.extractJob, rawBucket, rawDatabase: props.rawDatabase });

    // Change data capture.
    if (cdc.enabled) {
      if (!source.replicationSecret) {
        throw new Error('cdc.enabled needs the source database replication user secret (SourceStack.replicationSecret).');
      }
      this.replication = addChangeDataCapture(this, {
        ...this.sourceAccess(props, source.replicationSecret),
        rawBucket,
        rawKey,
        replicationIdentifier: resourceName(this.config, 'cdc'),
        maxCapacityUnits: cdc.maxCapacityUnits,
        multiAz: this.config.source.multiAz,
      }).replication;
    }
  }

  /** The source database as one of its users reaches it from the data-client subnets. */
  private sourceAccess(props: IngestionStackProps, credentials: secretsmanager.ISecret): SourceAccess {
    return {
      vpc: props.vpc,
      subnets: props.dataClientSubnets,
      databaseSecurityGroup: props.source.securityGroup,
      port: props.source.port,
      databaseName: props.source.databaseName,
      credentials,
      credentialsKey: props.source.secretKey,
    };
  }
}
