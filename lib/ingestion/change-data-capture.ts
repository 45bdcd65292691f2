import { Stack } from 'aws-cdk-lib';
import * as dms from 'aws-cdk-lib/aws-dms';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { CDC_RAW_PREFIX } from '../lake/layout';
import { grantKeyEncryptDecrypt, grantPrefixReadWrite } from '../shared/grants';
import { LeastPrivilegeRole } from '../shared/least-privilege-role';
import { grantSecretRead, SourceAccess, sourceClientSecurityGroup } from './source-access';

/*
 * Change data capture: DMS Serverless from the source binlog to `cdc/` of the raw zone.
 *
 * A function, not a construct: every resource is created directly in `scope` (the ingestion
 * stack) under a fixed id, so construct paths and logical ids stay those of the stack (see the
 * note at the top of ingestion-stack.ts).
 */

/** Properties of {@link addChangeDataCapture}: the source as the replication user reaches it, and where changes land. */
export interface ChangeDataCaptureProps extends SourceAccess {
  /** The raw zone: changes land under `cdc/`. */
  readonly rawBucket: s3.IBucket;
  /** Key of the raw zone: the Parquet files and the replication's storage are encrypted with it. */
  readonly rawKey: kms.IKey;
  /** Name of the replication configuration (`ReplicationConfigIdentifier`). */
  readonly replicationIdentifier: string;
  /** Upper bound of DMS capacity units (1, 2, 4, 8, 16, 32, 64, 128, 192, 256 or 384). */
  readonly maxCapacityUnits: number;
  /**
   * Run the replication in two Availability Zones.
   * @default false
   */
  readonly multiAz?: boolean;
}

/** What {@link addChangeDataCapture} creates. */
export interface ChangeDataCapture {
  /** The serverless replication (id `CdcReplication`); it does not start by itself (`aws dms start-replication`). */
  readonly replication: dms.CfnReplicationConfig;
  /** Its security group (id `CdcSecurityGroup`). */
  readonly securityGroup: ec2.SecurityGroup;
  /** The role DMS reads the source credentials with (id `CdcSecretsRole`). */
  readonly secretsRole: LeastPrivilegeRole;
  /** The role DMS writes `cdc/` with (id `CdcTargetRole`). */
  readonly targetRole: LeastPrivilegeRole;
}

/**
 * DMS Serverless: full load, then the binlog, of every table of the source database into
 * `cdc/` as Parquet, SSE-KMS with the raw zone's key, partitioned by date.
 *
 * DMS places the replication in the VPC with the account's `dms-vpc-role`: the account stack
 * creates it (cdc.createDmsVpcRole), or it already exists; never an environment's stack.
 *
 * Creates `CdcSubnetGroup`, `CdcSecurityGroup` (with `CdcSecurityGroupDatabaseIngress` when
 * the database is in another stack), `CdcSecretsRole`, `CdcTargetRole`, `CdcSourceEndpoint`,
 * `CdcTargetEndpoint` and `CdcReplication` as direct children of `scope`.
 */
export function addChangeDataCapture(scope: Construct, props: ChangeDataCaptureProps): ChangeDataCapture {
  const { rawBucket, rawKey } = props;
  const subnetGroup = new dms.CfnReplicationSubnetGroup(scope, 'CdcSubnetGroup', {
    replicationSubnetGroupDescription: 'Subnets of the CDC replication',
    subnetIds: props.vpc.selectSubnets(props.subnets).subnetIds,
  });
  const securityGroup = sourceClientSecurityGroup(scope, 'CdcSecurityGroup', props, 'DMS replication', false);

  const secretsRole = new LeastPrivilegeRole(scope, 'CdcSecretsRole', {
    assumedBy: new iam.ServicePrincipal(`dms.${Stack.of(scope).region}.amazonaws.com`),
    description: 'DMS reads the source credentials',
  });
  grantSecretRead(secretsRole, props.credentials, props.credentialsKey);
  const targetRole = new LeastPrivilegeRole(scope, 'CdcTargetRole', {
    assumedBy: new iam.ServicePrincipal('dms.amazonaws.com'),
    description: 'DMS writes change data to the raw zone',
  });
  grantPrefixReadWrite(targetRole, { bucket: rawBucket, prefix: CDC_RAW_PREFIX });
  targetRole.addToPrincipalPolicy(
    new iam.PolicyStatement({ actions: ['s3:PutObjectTagging'], resources: [rawBucket.arnForObjects(`${CDC_RAW_PREFIX}*`)] }),
  );

  const sourceEndpoint = new dms.CfnEndpoint(scope, 'CdcSourceEndpoint', {
    endpointType: 'source',
    engineName: 'mysql',
    databaseName: props.databaseName,
    sslMode: 'require',
    kmsKeyId: props.credentialsKey.keyArn,
    mySqlSettings: {
      secretsManagerSecretId: props.credentials.secretArn,
      secretsManagerAccessRoleArn: secretsRole.roleArn,
    },
  });
  const targetEndpoint = new dms.CfnEndpoint(scope, 'CdcTargetEndpoint', {
    endpointType: 'target',
    engineName: 's3',
    s3Settings: {
      bucketName: rawBucket.bucketName,
      bucketFolder: CDC_RAW_PREFIX.replace(/\/$/, ''),
      serviceAccessRoleArn: targetRole.roleArn,
      dataFormat: 'parquet',
      parquetTimestampInMillisecond: true,
      encryptionMode: 'SSE_KMS',
      serverSideEncryptionKmsKeyId: rawKey.keyArn,
      datePartitionEnabled: true,
      datePartitionSequence: 'YYYYMMDD',
      datePartitionDelimiter: 'SLASH',
      timestampColumnName: '_cdc_timestamp',
      includeOpForFullLoad: true,
    },
  });
  grantKeyEncryptDecrypt(targetRole, rawKey);

  const replication = new dms.CfnReplicationConfig(scope, 'CdcReplication', {
    replicationConfigIdentifier: props.replicationIdentifier,
    replicationType: 'full-load-and-cdc',
    sourceEndpointArn: sourceEndpoint.ref,
    targetEndpointArn: targetEndpoint.ref,
    computeConfig: {
      maxCapacityUnits: props.maxCapacityUnits,
      replicationSubnetGroupId: subnetGroup.ref,
      vpcSecurityGroupIds: [securityGroup.securityGroupId],
      multiAz: props.multiAz ?? false,
      kmsKeyId: rawKey.keyArn,
    },
    tableMappings: {
      rules: [
        {
          'rule-type': 'selection',
          'rule-id': '1',
          'rule-name': 'every-source-table',
          'object-locator': { 'schema-name': props.databaseName, 'table-name': '%' },
          'rule-action': 'include',
        },
      ],
    },
    replicationSettings: { Logging: { EnableLogging: true } },
  });
  replication.node.addDependency(secretsRole, targetRole);
  return { replication, securityGroup, secretsRole, targetRole };
}
