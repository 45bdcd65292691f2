import { RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { sourceTableDeclarations } from '../lake/datasets';
import { LakeFormationGrants } from '../lake/lake-formation';
import { SOURCE_RAW_PREFIX } from '../lake/layout';
import { grantPrefixReadWrite } from '../shared/grants';
import { StageAlarms } from '../shared/stage-alarms';
import { GlueJobSizing, GlueSparkJob } from '../transform/glue-spark-job';
import { grantSecretRead, SourceAccess, sourceClientSecurityGroup } from './source-access';

/*
 * Batch ingestion: the Glue JDBC connection into the source VPC and the `SourceExtract` job
 * landing every source table in `source/` of the raw zone as Parquet.
 *
 * These are functions, not constructs: every resource is created directly in `scope` (the
 * ingestion stack) under a fixed id, so construct paths and logical ids stay those of the
 * stack (see the note at the top of ingestion-stack.ts).
 */

/** Properties of {@link addSourceExtract}: the source as the read-only extract user reaches it, and where the tables land. */
export interface SourceExtractProps extends SourceAccess {
  /** The source database instance: its endpoint address goes into the JDBC URL. */
  readonly instance: rds.IDatabaseInstance;
  /** The raw zone: tables land under `source/`. */
  readonly rawBucket: s3.IBucket;
  /** Key of the raw zone: the job's output and bookmarks are encrypted with it. */
  readonly rawKey: kms.IKey;
  /**
   * The source tables the job extracts, passed to it comma-separated in this order.
   * @default - every declared source table (`sourceTableDeclarations()`), sorted by name
   */
  readonly tables?: readonly string[];
  /** Worker type, scale, timeout and execution class of the job. */
  readonly sizing: GlueJobSizing;
  /** Key of the job's log groups. */
  readonly logKey: kms.IKey;
  /** Retention of the job's log groups. */
  readonly logRetention: logs.RetentionDays;
  /** What happens to the job's log groups when the stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
  /** The stage's alarms; failed, timed-out and stopped runs notify its topic. */
  readonly alarms: StageAlarms;
}

/** What {@link addSourceExtract} creates. */
export interface SourceExtract {
  /** The security group of the connection (id `ExtractSecurityGroup`, self-referencing for the Glue workers). */
  readonly securityGroup: ec2.SecurityGroup;
  /** The JDBC connection over TLS into the first of the subnets (id `SourceConnection`). */
  readonly connection: glue.Connection;
  /** The extract job (id `SourceExtract`). */
  readonly job: GlueSparkJob;
}

/**
 * A Glue JDBC connection into the source VPC (TLS, the read-only extract user's rotated
 * secret) and the Glue extract job that uses it: every table as Parquet by ingest date under
 * `source/`, incremental tables by bookmark. The job may read and write `source/` and read the
 * credentials, nothing else of the raw zone; its Lake Formation grants are
 * {@link grantSourceExtractLakeAccess}'s.
 *
 * Creates `ExtractSecurityGroup` (with `ExtractSecurityGroupDatabaseIngress` when the
 * database is in another stack), `SourceConnection` and `SourceExtract` as direct children of
 * `scope`.
 */
export function addSourceExtract(scope: Construct, props: SourceExtractProps): SourceExtract {
  const securityGroup = sourceClientSecurityGroup(scope, 'ExtractSecurityGroup', props, 'Glue extract', true);
  const [subnet] = props.vpc.selectSubnets(props.subnets).subnets;
  const connection = new glue.Connection(scope, 'SourceConnection', {
    type: glue.ConnectionType.JDBC,
    description: `JDBC over TLS to the ${props.databaseName} source database`,
    properties: {
      JDBC_CONNECTION_URL: `jdbc:mysql://${props.instance.dbInstanceEndpointAddress}:${props.port}/${props.databaseName}`,
      JDBC_ENFORCE_SSL: 'true',
    },
    secret: props.credentials,
    securityGroups: [securityGroup],
    network: glue.ConnectionNetwork.subnet(subnet),
  });

  const tables = props.tables ?? sourceTableDeclarations().map((t) => t.name);
  const job = new GlueSparkJob(scope, 'SourceExtract', {
    description: 'Source MySQL -> raw zone: every table as Parquet by ingest date; incremental tables by bookmark',
    script: 'jobs/source_extract.py',
    arguments: {
      connection_name: connection.connectionName,
      database: props.databaseName,
      raw_path: props.rawBucket.s3UrlForObject(SOURCE_RAW_PREFIX),
      tables: tables.join(','),
    },
    bookmarks: true,
    connections: [connection],
    sizing: props.sizing,
    dataKey: props.rawKey,
    logKey: props.logKey,
    logRetention: props.logRetention,
    removalPolicy: props.removalPolicy,
    alarms: props.alarms,
  });
  grantPrefixReadWrite(job, { bucket: props.rawBucket, prefix: SOURCE_RAW_PREFIX });
  grantSecretRead(job, props.credentials, props.credentialsKey);
  return { securityGroup, connection, job };
}

/** Properties of {@link grantSourceExtractLakeAccess}. */
export interface SourceExtractLakeAccessProps {
  /** The extract job. */
  readonly job: GlueSparkJob;
  /** The raw zone, a registered Lake Formation location. */
  readonly rawBucket: s3.IBucket;
  /** The raw zone's catalog database. */
  readonly rawDatabase: glue.IDatabase;
}

/** The extract job lands source tables in raw and may catalog them there: data location access and CREATE_TABLE, DESCRIBE on the raw database. */
export function grantSourceExtractLakeAccess(grants: LakeFormationGrants, props: SourceExtractLakeAccessProps): void {
  grants.grant({ principal: props.job.role, location: props.rawBucket, permissions: ['DATA_LOCATION_ACCESS'] });
  grants.grant({ principal: props.job.role, database: props.rawDatabase, permissions: ['CREATE_TABLE', 'DESCRIBE'] });
}
