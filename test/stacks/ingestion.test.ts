import * as fs from 'fs';
import * as path from 'path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { sourceTableDeclarations } from '../../lib/lake/datasets';
import { EXAMPLE_ACCOUNT, EXAMPLE_REGION } from '../support/example-account';
import { SynthesizedPlatform, synthPlatform } from '../support/platform';
import {
  acknowledgedRules,
  actionsOf,
  asList,
  JsonObject,
  logicalId,
  ref,
  resourcesOf,
  rolePolicyStatements,
  roleUnscopedPolicyStatements,
  StatementJson,
  statementsWithAction,
  expectGlueOnlyRole,
  asRendered,
} from './template-helpers';

/** The source tables, in the order the job receives them. */
const SOURCE_TABLES = ['customers', 'employees', 'offices', 'order_lines', 'orders', 'payments', 'product_lines', 'products'];

/** Logical id of a direct child of the ingestion stack (or of a path below it). */
function childId(platform: SynthesizedPlatform, ...names: string[]): string {
  let construct = platform.ingestion.node.findChild(names[0]);
  for (const name of names.slice(1)) {
    construct = construct.node.findChild(name);
  }
  return logicalId(construct);
}

/** The properties of every standalone security-group rule of a type on a group. */
function standaloneRules(template: Template, type: 'AWS::EC2::SecurityGroupIngress' | 'AWS::EC2::SecurityGroupEgress', groupId: string): JsonObject[] {
  return Object.values(resourcesOf(template, type))
    .map((r) => r.Properties!)
    .filter((p) => p.GroupId?.['Fn::GetAtt']?.[0] === groupId);
}

/** The CDC assertions that hold whenever cdc.enabled is false. */
function noCdcTests(get: () => { platform: SynthesizedPlatform; template: Template }): void {
  test('with cdc.enabled false there is no AWS::DMS::* resource at all', () => {
    const { platform, template } = get();
    expect(platform.config.cdc.enabled).toBe(false);
    const dms = Object.values(template.toJSON().Resources as Record<string, { Type: string }>).filter((r) =>
      r.Type.startsWith('AWS::DMS::'),
    );
    expect(dms).toEqual([]);
    expect(platform.ingestion.replication).toBeUndefined();
  });

  test('with cdc.enabled false there is no dms-vpc-role, no CDC role and no CDC security group', () => {
    const { platform, template } = get();
    const roles = Object.values(resourcesOf(template, 'AWS::IAM::Role'));
    expect(roles.filter((r) => r.Properties?.RoleName === 'dms-vpc-role')).toEqual([]);
    expect(JSON.stringify(roles)).not.toContain('dms.');
    for (const id of ['DmsVpcRole', 'CdcSecretsRole', 'CdcTargetRole', 'CdcSecurityGroup', 'CdcSecurityGroupDatabaseIngress']) {
      expect(platform.ingestion.node.tryFindChild(id)).toBeUndefined();
    }
  });
}

const KINESIS_READ_ACTIONS = [
  'kinesis:DescribeStream',
  'kinesis:DescribeStreamSummary',
  'kinesis:GetRecords',
  'kinesis:GetShardIterator',
  'kinesis:ListShards',
];

describe.each([
  {
    envName: 'dev' as const,
    streamMode: 'PROVISIONED',
    shardCount: 1,
    retentionHours: 24,
    interval: 300,
    sizeMiB: 64,
    computeGroup: 'Compute',
  },
  {
    envName: 'prod' as const,
    streamMode: 'ON_DEMAND',
    shardCount: undefined,
    retentionHours: 168,
    interval: 60,
    sizeMiB: 128,
    computeGroup: 'Data',
  },
])('IngestionStack in $envName', (expected) => {
  const { envName } = expected;
  let platform: SynthesizedPlatform;
  let template: Template;
  let delivery: JsonObject;
  let destination: JsonObject;
  let policy: StatementJson[];
  let streamArn: unknown;
  let rawBucketArn: unknown;
  /** The ARN of one exact key (or, with a trailing `*`, of a key pattern) of the raw bucket, as this stack imports it. */
  const rawObject = (key: string): unknown => ref(platform.ingestion, platform.storage.buckets.raw.arnForObjects(key));

  beforeAll(() => {
    platform = synthPlatform(envName);
    template = platform.template('ingestion');
    const streams = resourcesOf(template, 'AWS::KinesisFirehose::DeliveryStream');
    expect(Object.keys(streams)).toHaveLength(1);
    delivery = Object.values(streams)[0];
    destination = delivery.Properties.ExtendedS3DestinationConfiguration;
    policy = rolePolicyStatements(template, 'Ingestion/DeliveryRole');
    streamArn = ref(platform.ingestion, platform.ingestion.stream.streamArn);
    rawBucketArn = ref(platform.ingestion, platform.storage.buckets.raw.bucketArn);
  });

  describe('Kinesis stream', () => {
    test('the stream is encrypted with the stream key imported from Foundation', () => {
      template.resourceCountIs('AWS::Kinesis::Stream', 1);
      template.hasResourceProperties('AWS::Kinesis::Stream', {
        StreamEncryption: {
          EncryptionType: 'KMS',
          KeyId: ref(platform.ingestion, platform.foundation.keys.stream.keyArn),
        },
      });
    });

    test(`the capacity mode is ${expected.streamMode} as configured`, () => {
      template.hasResourceProperties('AWS::Kinesis::Stream', {
        StreamModeDetails: { StreamMode: expected.streamMode },
        ShardCount: expected.shardCount ?? Match.absent(),
      });
    });

    test(`records are kept ${expected.retentionHours} hours as configured`, () => {
      expect(platform.config.streaming.retentionHours).toBe(expected.retentionHours);
      template.hasResourceProperties('AWS::Kinesis::Stream', { RetentionPeriodHours: expected.retentionHours });
    });

    // dev too: only -c removeDataOnDestroy=true lets dev delete it (the whole-platform test checks that).
    test('the stream has DeletionPolicy Retain', () => {
      template.hasResource('AWS::Kinesis::Stream', { DeletionPolicy: 'Retain' });
    });
  });

  describe('Firehose delivery', () => {
    test('Firehose reads the Kinesis stream with the delivery role', () => {
      expect(delivery.Properties.DeliveryStreamType).toBe('KinesisStreamAsSource');
      expect(delivery.Properties.KinesisStreamSourceConfiguration).toEqual({
        KinesisStreamARN: streamArn,
        RoleARN: { 'Fn::GetAtt': [logicalId(platform.ingestion.node.findChild('DeliveryRole')), 'Arn'] },
      });
    });

    test('delivery goes to the raw bucket under clickstream/event_date=<from the record>/ingest_date=<arrival date>/', () => {
      expect(destination.BucketARN).toEqual(rawBucketArn);
      expect(destination.Prefix).toBe(
        'clickstream/event_date=!{partitionKeyFromQuery:event_date}/ingest_date=!{timestamp:yyyy-MM-dd}/',
      );
    });

    test('dynamic partitioning is on, retrying a failed partition for five minutes', () => {
      expect(destination.DynamicPartitioningConfiguration).toEqual({ Enabled: true, RetryOptions: { DurationInSeconds: 300 } });
    });

    test('the event_date key is extracted with the EVENT_DATE_QUERY on JQ 1.6, then every record is followed by a newline', () => {
      const query =
        '{event_date: (.event_time | if type == "string" and length >= 10 and .[4:5] == "-" and .[7:8] == "-" and (.[0:10] | contains("/") | not) then .[0:10] else "unknown" end)}';
      expect(destination.ProcessingConfiguration).toEqual({
        Enabled: true,
        Processors: [
          {
            Type: 'MetadataExtraction',
            Parameters: [
              { ParameterName: 'MetadataExtractionQuery', ParameterValue: query },
              { ParameterName: 'JsonParsingEngine', ParameterValue: 'JQ-1.6' },
            ],
          },
          { Type: 'AppendDelimiterToRecord' },
        ],
      });
    });

    test('the EVENT_DATE_QUERY names the event_date key the prefix uses, taken from event_time', () => {
      const query: string = destination.ProcessingConfiguration.Processors[0].Parameters[0].ParameterValue;
      expect(query).toMatch(/^\{event_date: \(\.event_time \| /);
      // The date part when it is shaped like a date, else a fixed key: never a path of its own.
      expect(query).toContain('then .[0:10] else "unknown" end');
      expect(query).toContain('contains("/") | not');
      expect(query).not.toMatch(/\btest\(|\bmatch\(|\bcapture\(/);
      expect(destination.Prefix).toContain('!{partitionKeyFromQuery:event_date}');
    });

    test('failed records go under an error prefix that names the error type, outside the clickstream/ prefix', () => {
      expect(destination.ErrorOutputPrefix).toContain('!{firehose:error-output-type}');
      expect(destination.ErrorOutputPrefix.startsWith('clickstream-errors/')).toBe(true);
      expect(destination.ErrorOutputPrefix.startsWith('clickstream/')).toBe(false);
    });

    test('objects are GZIP-compressed and encrypted with the lake key', () => {
      expect(destination.CompressionFormat).toBe('GZIP');
      expect(destination.EncryptionConfiguration).toEqual({
        KMSEncryptionConfig: { AWSKMSKeyARN: ref(platform.ingestion, platform.foundation.keys.lake.keyArn) },
      });
    });


    test(`buffering is ${expected.interval} seconds or ${expected.sizeMiB} MiB as configured`, () => {
      expect(destination.BufferingHints).toEqual({
        IntervalInSeconds: platform.config.streaming.bufferIntervalSeconds,
        SizeInMBs: platform.config.streaming.bufferSizeMiB,
      });
      expect(destination.BufferingHints).toEqual({ IntervalInSeconds: expected.interval, SizeInMBs: expected.sizeMiB });
    });

    test('the buffer is at least 64 MiB, the minimum of dynamic partitioning', () => {
      expect(destination.BufferingHints.SizeInMBs).toBeGreaterThanOrEqual(64);
    });

    test('delivery errors are logged to a KMS-encrypted log group with the configured retention', () => {
      const groupId = logicalId(platform.ingestion.node.findChild('DeliveryLogs'));
      const group = resourcesOf(template, 'AWS::Logs::LogGroup')[groupId];
      expect(group.Properties).toEqual(
        expect.objectContaining({
          KmsKeyId: ref(platform.ingestion, platform.foundation.keys.ops.keyArn),
          RetentionInDays: platform.config.dataProtection.logRetentionDays,
        }),
      );
      expect(group.Properties?.LogGroupName).toBeUndefined();
      template.resourceCountIs('AWS::Logs::LogStream', 1);
      const [streamId] = Object.keys(resourcesOf(template, 'AWS::Logs::LogStream'));
      expect(destination.CloudWatchLoggingOptions).toEqual({
        Enabled: true,
        LogGroupName: { Ref: groupId },
        LogStreamName: { Ref: streamId },
      });
    });

    test('the delivery stream is created after its role’s policy, so the first delivery is authorized', () => {
      const policyId = logicalId(platform.ingestion.node.findChild('DeliveryRole').node.findChild('Policy'));
      expect(resourcesOf(template, 'AWS::IAM::ManagedPolicy')[policyId].Properties?.Description).toBe(
        'Permissions of Ingestion/DeliveryRole',
      );
      expect(asList(delivery.DependsOn)).toContain(policyId);
    });
  });

  describe('delivery role', () => {
    test('only Firehose of this account can assume the role, and it has no inline or AWS-managed policy', () => {
      const role = resourcesOf(template, 'AWS::IAM::Role')[logicalId(platform.ingestion.node.findChild('DeliveryRole'))];
      expect(role.Properties?.AssumeRolePolicyDocument.Statement).toEqual([
        {
          Effect: 'Allow',
          Action: 'sts:AssumeRole',
          Principal: { Service: 'firehose.amazonaws.com' },
          Condition: { StringEquals: { 'aws:SourceAccount': asRendered(envName, { Ref: 'AWS::AccountId' }) } },
        },
      ]);
      expect(role.Properties?.Policies).toBeUndefined();
      expect(role.Properties?.ManagedPolicyArns).toBeUndefined();
    });

    test('the role may read exactly the click stream with the Kinesis read actions', () => {
      const kinesis = policy.filter((s) => actionsOf(s).some((a) => a.startsWith('kinesis:')));
      expect(kinesis).toEqual([{ Effect: 'Allow', Action: KINESIS_READ_ACTIONS, Resource: streamArn }]);
    });

    test('no statement of the role has an action with "*"', () => {
      for (const statement of policy) {
        for (const action of actionsOf(statement)) {
          expect(action).not.toContain('*');
        }
      }
    });

    test('the role writes objects only under clickstream/ and clickstream-errors/ of the raw bucket (plus each prefix\'s _$folder$ marker), and deletes nothing', () => {
      expect(statementsWithAction(policy, 's3:PutObject')).toEqual([
        { Effect: 'Allow', Action: ['s3:AbortMultipartUpload', 's3:PutObject'], Resource: [rawObject('clickstream-errors/*'), rawObject('clickstream/*')] },
        // The markers only: exact keys, no pattern, and no multipart upload.
        { Effect: 'Allow', Action: 's3:PutObject', Resource: [rawObject('clickstream-errors_$folder$'), rawObject('clickstream_$folder$')] },
      ]);
      expect(statementsWithAction(policy, 's3:AbortMultipartUpload')).toHaveLength(1);
      expect(statementsWithAction(policy, 's3:DeleteObject')).toEqual([]);
      expect(statementsWithAction(policy, 's3:GetObject')).toEqual([]);
    });

    test('the role lists the raw bucket only under its two prefixes', () => {
      const lists = statementsWithAction(policy, 's3:ListBucket');
      expect(lists.map((s) => s.Resource)).toEqual([rawBucketArn, rawBucketArn]);
      expect(lists.map((s) => s.Condition).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))).toEqual([
        { StringLike: { 's3:prefix': ['clickstream-errors/*'] } },
        { StringLike: { 's3:prefix': ['clickstream/*'] } },
      ]);
    });

    test('the role decrypts with the stream key and encrypts with the lake key, and uses no other key', () => {
      const kms = policy.filter((s) => actionsOf(s).some((a) => a.startsWith('kms:')));
      expect(kms).toEqual(
        expect.arrayContaining([
          { Effect: 'Allow', Action: 'kms:Decrypt', Resource: ref(platform.ingestion, platform.foundation.keys.stream.keyArn) },
          {
            Effect: 'Allow',
            Action: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'],
            Resource: ref(platform.ingestion, platform.foundation.keys.lake.keyArn),
          },
        ]),
      );
      expect(kms).toHaveLength(2);
    });

    test('the role writes only its own delivery log stream', () => {
      const logs = policy.filter((s) => actionsOf(s).some((a) => a.startsWith('logs:')));
      expect(logs).toHaveLength(1);
      expect(logs[0].Action).toBe('logs:PutLogEvents');
      const [groupId] = Object.keys(resourcesOf(template, 'AWS::Logs::LogGroup'));
      const [streamId] = Object.keys(resourcesOf(template, 'AWS::Logs::LogStream'));
      expect(JSON.stringify(logs[0].Resource)).toContain(`{"Ref":"${groupId}"},":log-stream:",{"Ref":"${streamId}"}`);
    });

    test('the role’s permissions are exactly the kinesis, kms, s3 and logs statements above', () => {
      const services = new Set(policy.flatMap((s) => actionsOf(s).map((a) => a.split(':')[0])));
      expect([...services].sort()).toEqual(['kinesis', 'kms', 'logs', 's3']);
      expect(policy.every((s) => s.Effect === 'Allow' && s.NotAction === undefined && s.NotResource === undefined)).toBe(true);
    });
  });

  describe('alarms', () => {
    const alarms = [
      { id: 'ClickStreamIteratorAge', namespace: 'AWS/Kinesis', metric: 'GetRecords.IteratorAgeMilliseconds' },
      { id: 'ClickStreamWriteThrottled', namespace: 'AWS/Kinesis', metric: 'WriteProvisionedThroughputExceeded' },
      { id: 'ClickStreamDeliveryFreshness', namespace: 'AWS/Firehose', metric: 'DeliveryToS3.DataFreshness' },
      { id: 'ClickStreamDeliveryFailures', namespace: 'AWS/Firehose', metric: 'DeliveryToS3.Success' },
    ];

    test('the stage has exactly four alarms', () => {
      template.resourceCountIs('AWS::CloudWatch::Alarm', 4);
    });

    test.each(alarms)('the $id alarm watches $metric and notifies the alerts topic on alarm and recovery', ({ id, namespace, metric }) => {
      const topic = ref(platform.ingestion, platform.foundation.alertsTopic.topicArn);
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: Match.stringLikeRegexp(`^Undercurrent-${envName}-Ingestion-(Critical|Warning)-${id}$`),
        Namespace: namespace,
        MetricName: metric,
        AlarmActions: [topic],
        OKActions: [topic],
      });
    });

    test('the delivery-failure alarm fires when fewer than all records reach S3', () => {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'DeliveryToS3.Success',
        Statistic: 'Minimum',
        ComparisonOperator: 'LessThanThreshold',
        Threshold: 1,
        Dimensions: [{ Name: 'DeliveryStreamName', Value: { Ref: Object.keys(resourcesOf(template, 'AWS::KinesisFirehose::DeliveryStream'))[0] } }],
      });
    });
  });
  describe('producer role', () => {
    let roleId: string;

    beforeAll(() => {
      roleId = logicalId(platform.ingestion.producerRole);
    });

    test('principals of this account (and only this account) can assume the producer role', () => {
      const role = resourcesOf(template, 'AWS::IAM::Role')[roleId];
      expect(role.Properties?.AssumeRolePolicyDocument.Statement).toEqual([
        {
          Effect: 'Allow',
          Action: 'sts:AssumeRole',
          Principal: {
            AWS: asRendered(envName, { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':root']] }),
          },
        },
      ]);
      expect(role.Properties?.Policies).toBeUndefined();
      expect(role.Properties?.ManagedPolicyArns).toBeUndefined();
    });

    test('the producer role may put records on exactly the click stream and generate data keys with exactly the stream key, nothing else', () => {
      expect(rolePolicyStatements(template, 'Ingestion/ProducerRole')).toEqual([
        { Effect: 'Allow', Action: ['kinesis:PutRecord', 'kinesis:PutRecords'], Resource: streamArn },
        { Effect: 'Allow', Action: 'kms:GenerateDataKey', Resource: ref(platform.ingestion, platform.foundation.keys.stream.keyArn) },
      ]);
    });
  });

  describe('source connection', () => {
    let connection: JsonObject;
    let extractSgId: string;

    beforeAll(() => {
      const connections = resourcesOf(template, 'AWS::Glue::Connection');
      expect(Object.keys(connections)).toHaveLength(1);
      connection = Object.values(connections)[0].Properties!;
      extractSgId = childId(platform, 'ExtractSecurityGroup');
    });

    test('the Glue connection is JDBC to the source endpoint, port and database, over enforced TLS, with the extract user’s secret', () => {
      expect(connection.CatalogId).toEqual(asRendered(envName, { Ref: 'AWS::AccountId' }));
      expect(connection.ConnectionInput.ConnectionType).toBe('JDBC');
      expect(connection.ConnectionInput.ConnectionProperties).toEqual({
        JDBC_CONNECTION_URL: {
          'Fn::Join': [
            '',
            ['jdbc:mysql://', ref(platform.ingestion, platform.source.database.dbInstanceEndpointAddress), ':3407/classicmodels'],
          ],
        },
        JDBC_ENFORCE_SSL: 'true',
        SECRET_ID: ref(platform.ingestion, platform.source.extractSecret.secretArn),
      });
      expect(JSON.stringify(connection.ConnectionInput.ConnectionProperties)).toContain(
        `:${platform.config.source.port}/${platform.config.source.databaseName}`,
      );
      // Credentials come from the secret only, never from the template.
      expect(connection.ConnectionInput.ConnectionProperties.USERNAME).toBeUndefined();
      expect(connection.ConnectionInput.ConnectionProperties.PASSWORD).toBeUndefined();
    });

    test('the connection’s secret is the read-only extract user’s attached secret, imported from Source; never the admin’s or the replication user’s', () => {
      const secretId = connection.ConnectionInput.ConnectionProperties.SECRET_ID;
      const attachmentId = logicalId(platform.source.node.findChild('ExtractUserSecret').node.findChild('Attachment'));
      expect(secretId).toEqual({
        'Fn::ImportValue': expect.stringMatching(new RegExp(`^Undercurrent-${envName}-Source:ExportsOutputRef${attachmentId}[0-9A-F]{8}$`)),
      });
      expect(JSON.stringify(secretId)).not.toMatch(/MasterUserSecret|ReplicationUserSecret/);
    });

    test(`the connection places Glue in one compute subnet (${expected.computeGroup} in ${envName}) with the extract security group only`, () => {
      const [first] = platform.foundation.vpc.selectSubnets(platform.foundation.dataClientSubnets).subnets;
      expect(platform.foundation.vpc.selectSubnets({ subnetGroupName: expected.computeGroup }).subnets[0]).toBe(first);
      expect(connection.ConnectionInput.PhysicalConnectionRequirements).toEqual({
        SubnetId: ref(platform.ingestion, first.subnetId),
        AvailabilityZone: { 'Fn::Select': [0, { 'Fn::GetAZs': '' }] },
        SecurityGroupIdList: [{ 'Fn::GetAtt': [extractSgId, 'GroupId'] }],
      });
    });

    test('the extract security group admits only itself on all TCP ports, as Glue requires, and no CIDR', () => {
      const group = resourcesOf(template, 'AWS::EC2::SecurityGroup')[extractSgId];
      expect(group.Properties?.SecurityGroupIngress).toBeUndefined();
      expect(standaloneRules(template, 'AWS::EC2::SecurityGroupIngress', extractSgId)).toEqual([
        {
          GroupId: { 'Fn::GetAtt': [extractSgId, 'GroupId'] },
          SourceSecurityGroupId: { 'Fn::GetAtt': [extractSgId, 'GroupId'] },
          IpProtocol: 'tcp',
          FromPort: 0,
          ToPort: 65535,
          Description: 'Workers of the same job',
        },
      ]);
    });

    test('the extract security group sends only HTTPS, the database port to the database group, and all TCP to itself', () => {
      const port = platform.config.source.port;
      const group = resourcesOf(template, 'AWS::EC2::SecurityGroup')[extractSgId];
      expect(group.Properties?.SecurityGroupEgress).toEqual([
        { CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443, Description: expect.any(String) },
      ]);
      const egress = standaloneRules(template, 'AWS::EC2::SecurityGroupEgress', extractSgId);
      expect(egress).toHaveLength(2);
      expect(egress).toEqual(
        expect.arrayContaining([
          {
            GroupId: { 'Fn::GetAtt': [extractSgId, 'GroupId'] },
            DestinationSecurityGroupId: ref(platform.ingestion, platform.source.securityGroup.securityGroupId),
            IpProtocol: 'tcp',
            FromPort: port,
            ToPort: port,
            Description: 'The database',
          },
          {
            GroupId: { 'Fn::GetAtt': [extractSgId, 'GroupId'] },
            DestinationSecurityGroupId: { 'Fn::GetAtt': [extractSgId, 'GroupId'] },
            IpProtocol: 'tcp',
            FromPort: 0,
            ToPort: 65535,
            Description: 'Workers of the same job',
          },
        ]),
      );
    });

    test('this stack admits the extract group into the database group on the database port only', () => {
      const port = platform.config.source.port;
      expect(resourcesOf(template, 'AWS::EC2::SecurityGroupIngress')[childId(platform, 'ExtractSecurityGroupDatabaseIngress')].Properties).toEqual({
        GroupId: ref(platform.ingestion, platform.source.securityGroup.securityGroupId),
        SourceSecurityGroupId: { 'Fn::GetAtt': [extractSgId, 'GroupId'] },
        IpProtocol: 'tcp',
        FromPort: port,
        ToPort: port,
        Description: 'Glue extract reaches the database',
      });
    });
  });

  describe('source extract job', () => {
    let job: JsonObject;
    let jobId: string;
    let connectionId: string;
    let extractPolicy: StatementJson[];
    let extractUnscoped: StatementJson[];

    beforeAll(() => {
      jobId = logicalId(platform.ingestion.extractJob.job);
      const jobs = resourcesOf(template, 'AWS::Glue::Job');
      expect(Object.keys(jobs)).toEqual([jobId]);
      job = jobs[jobId].Properties!;
      connectionId = logicalId(platform.ingestion.sourceConnection);
      extractPolicy = rolePolicyStatements(template, 'Ingestion/SourceExtract/Role');
      extractUnscoped = roleUnscopedPolicyStatements(template, 'Ingestion/SourceExtract/Role');
    });

    test('the job runs glue-scripts/jobs/source_extract.py as PySpark on Glue 5.0', () => {
      expect(job.GlueVersion).toBe('5.0');
      expect(job.Command).toEqual(expect.objectContaining({ Name: 'glueetl', PythonVersion: '3' }));
      const script = platform.ingestion.extractJob.node.findChild('Script') as s3assets.Asset;
      expect(JSON.stringify(job.Command.ScriptLocation)).toContain(`/${script.assetHash}.py"`);
      const staged = fs.readFileSync(path.join(platform.app.outdir, script.assetPath));
      expect(staged.equals(fs.readFileSync(path.join(__dirname, '..', '..', 'glue-scripts', 'jobs', 'source_extract.py')))).toBe(true);
    });

    test('the job uses the source connection', () => {
      expect(job.Connections).toEqual({ Connections: [{ Ref: connectionId }] });
    });

    test('the job arguments name the connection, the database and the source/ prefix of the raw bucket', () => {
      expect(job.DefaultArguments).toEqual(
        expect.objectContaining({
          '--connection_name': { Ref: connectionId },
          '--database': 'classicmodels',
          '--raw_path': ref(platform.ingestion, platform.storage.buckets.raw.s3UrlForObject('source/')),
        }),
      );
      expect(job.DefaultArguments['--raw_path']).toEqual({
        'Fn::Join': ['', ['s3://', { 'Fn::ImportValue': expect.stringMatching(/-Storage:ExportsOutputRefRawZone/) }, '/source/']],
      });
    });

    test('the tables argument lists the eight declared source tables, comma-separated', () => {
      expect(job.DefaultArguments['--tables']).toBe(SOURCE_TABLES.join(','));
      expect(sourceTableDeclarations().map((t) => t.name)).toEqual(SOURCE_TABLES);
    });

    test('job bookmarks are on, so incremental tables read only new rows', () => {
      expect(job.DefaultArguments['--job-bookmark-option']).toBe('job-bookmark-enable');
    });

    test('the job is sized by the transform config, is never retried by Glue, runs once at a time, with the stack security configuration', () => {
      const { transform } = platform.config;
      expect(job).toEqual(
        expect.objectContaining({
          WorkerType: transform.workerType,
          NumberOfWorkers: transform.maxWorkers,
          Timeout: transform.timeoutMinutes,
          // Never retried by Glue: the workflow retries the run it follows.
          MaxRetries: 0,
          ExecutionProperty: { MaxConcurrentRuns: 1 },
          SecurityConfiguration: { Ref: logicalId(platform.ingestion.node.findChild('GlueSecurityConfiguration')) },
        }),
      );
      template.resourceCountIs('AWS::Glue::SecurityConfiguration', 1);
    });

    test('the job logs into its own KMS-encrypted log groups with the configured retention, named as Glue names them under the stack\'s security configuration', () => {
      const prefix = `/aws-glue/Undercurrent-${envName}-Ingestion/SourceExtract`;
      expect(job.DefaultArguments['--custom-logGroup-prefix']).toBe(prefix);
      const config = resourcesOf(template, 'AWS::Glue::SecurityConfiguration')[job.SecurityConfiguration.Ref];
      expect(config.Properties?.Name).toBe(`Undercurrent-${envName}-Ingestion-glue`);
      expect(config.Properties?.EncryptionConfiguration.CloudWatchEncryption.CloudWatchEncryptionMode).toBe('SSE-KMS');
      const roleId = logicalId(platform.ingestion.extractJob.role);
      expect(job.Role).toEqual({ 'Fn::GetAtt': [roleId, 'Arn'] });
      const groups = resourcesOf(template, 'AWS::Logs::LogGroup');
      // <--custom-logGroup-prefix>/<security configuration name>-role/<job role name>/error|output
      expect(platform.ingestion.extractJob.logGroups.map((g) => groups[logicalId(g)].Properties)).toEqual(
        ['error', 'output'].map((kind) =>
          expect.objectContaining({
            LogGroupName: { 'Fn::Join': ['', [`${prefix}/${config.Properties?.Name}-role/`, { Ref: roleId }, `/${kind}`]] },
            KmsKeyId: ref(platform.ingestion, platform.foundation.keys.ops.keyArn),
            RetentionInDays: platform.config.dataProtection.logRetentionDays,
          }),
        ),
      );
      template.resourceCountIs('AWS::Logs::LogGroup', 3);
    });

    test('the role creates, keys and writes logs only to the job’s two log groups', () => {
      const groupIds = platform.ingestion.extractJob.logGroups.map((g) => logicalId(g));
      const bare = (id: string) =>
        asRendered(envName, {
          'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':logs:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':log-group:', { Ref: id }]],
        });
      // The groups themselves (group-level actions) and their streams (`Arn` is `...:log-group:<name>:*`).
      const named = [...groupIds.map(bare), ...groupIds.map((id) => ({ 'Fn::GetAtt': [id, 'Arn'] }))];
      const logs = [...extractPolicy, ...extractUnscoped].filter((st) => actionsOf(st).some((a) => a.startsWith('logs:')));
      expect(logs).toEqual([
        {
          Effect: 'Allow',
          Action: ['logs:AssociateKmsKey', 'logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
          Resource: expect.arrayContaining(named),
        },
      ]);
      expect(asList(logs[0].Resource)).toHaveLength(named.length);
    });

    test('a FAILED, TIMEOUT or STOPPED run of the job notifies the alerts topic', () => {
      template.resourceCountIs('AWS::Events::Rule', 1);
      template.hasResourceProperties('AWS::Events::Rule', {
        State: 'ENABLED',
        EventPattern: {
          source: ['aws.glue'],
          'detail-type': ['Glue Job State Change'],
          detail: { jobName: [{ Ref: jobId }], state: ['FAILED', 'TIMEOUT', 'STOPPED'] },
        },
        Targets: [
          Match.objectLike({
            Arn: ref(platform.ingestion, platform.foundation.alertsTopic.topicArn),
            RoleArn: { 'Fn::GetAtt': [childId(platform, 'Alarms', 'EventsRole'), 'Arn'] },
            InputTransformer: Match.objectLike({
              InputTemplate: Match.stringLikeRegexp(`Undercurrent-${envName}-Ingestion-Critical-SourceExtractRunFailed`),
            }),
          }),
        ],
      });
    });

    test('only Glue can assume the job role, which has no inline or AWS-managed policy', () => {
      const roleId = logicalId(platform.ingestion.extractJob.role);
      expect(job.Role).toEqual({ 'Fn::GetAtt': [roleId, 'Arn'] });
      expectGlueOnlyRole(template, roleId);
    });

    test('the role reads lake data only under source/ of the raw bucket (plus the prefix key and its _$folder$ marker that Glue\'s s3:// probes, and its own script and package)', () => {
      const reads = statementsWithAction(extractPolicy, 's3:GetObject');
      expect(reads).toHaveLength(1);
      expect(reads[0].Action).toBe('s3:GetObject');
      const resources = asList(reads[0].Resource);
      const lake = resources.filter((r) => JSON.stringify(r).includes('Fn::ImportValue'));
      const assets = resources.filter((r) => !JSON.stringify(r).includes('Fn::ImportValue'));
      expect(lake).toEqual([rawObject('source'), rawObject('source/*'), rawObject('source_$folder$')]);
      expect(assets).toHaveLength(2);
      for (const asset of assets) {
        expect(JSON.stringify(asset)).toMatch(/cdk-hnb659fds-assets-.*\/[0-9a-f]{64}\.(py|zip)"/);
      }
    });

    test('the role writes and deletes only under source/ of the raw bucket (plus writing its _$folder$ marker), and lists only that prefix', () => {
      const writes = statementsWithAction(extractPolicy, 's3:PutObject');
      const objectWrites = { Effect: 'Allow', Action: ['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:PutObject'], Resource: rawObject('source/*') };
      expect(writes).toEqual([objectWrites, { Effect: 'Allow', Action: 's3:PutObject', Resource: rawObject('source_$folder$') }]);
      expect(statementsWithAction(extractPolicy, 's3:DeleteObject')).toEqual([objectWrites]);
      expect(statementsWithAction(extractPolicy, 's3:ListBucket')).toEqual([
        { Effect: 'Allow', Action: 's3:ListBucket', Resource: rawBucketArn, Condition: { StringLike: { 's3:prefix': ['source/*'] } } },
      ]);
      const s3Actions = extractPolicy.flatMap((st) => actionsOf(st)).filter((a) => a.startsWith('s3:'));
      expect([...new Set(s3Actions)].sort()).toEqual(['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:GetObject', 's3:ListBucket', 's3:PutObject']);
    });

    test('the role reads only the extract user’s secret, and decrypts it with the source key', () => {
      expect(extractPolicy.filter((st) => actionsOf(st).some((a) => a.startsWith('secretsmanager:')))).toEqual([
        { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: ref(platform.ingestion, platform.source.extractSecret.secretArn) },
      ]);
      expect(JSON.stringify(extractPolicy)).not.toMatch(/MasterUserSecret|ReplicationUserSecret/);
      const sourceKey = ref(platform.ingestion, platform.foundation.keys.source.keyArn);
      const withSourceKey = extractPolicy.filter((st) => JSON.stringify(asList(st.Resource)).includes(JSON.stringify(sourceKey)));
      expect(withSourceKey.map((st) => st.Action)).toEqual(['kms:Decrypt']);
    });

    test('the role uses only the lake, ops and source keys', () => {
      const keys = new Set(
        extractPolicy.filter((st) => actionsOf(st).some((a) => a.startsWith('kms:'))).flatMap((st) => asList(st.Resource).map((r) => JSON.stringify(r))),
      );
      expect([...keys].sort()).toEqual(
        [platform.foundation.keys.lake, platform.foundation.keys.ops, platform.foundation.keys.source]
          .map((k) => JSON.stringify(ref(platform.ingestion, k.keyArn)))
          .sort(),
      );
    });

    test('the role may get only the catalog and the source connection, and no other Glue action', () => {
      const glueStatements = extractPolicy.filter((st) => actionsOf(st).some((a) => a.startsWith('glue:')));
      const glueArn = (resource: string, ...rest: unknown[]): unknown =>
        asRendered(envName, {
          'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':glue:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, resource, ...rest]],
        });
      expect(glueStatements).toEqual([
        { Effect: 'Allow', Action: 'glue:GetConnection', Resource: [glueArn(':catalog'), glueArn(':connection/', { Ref: connectionId })] },
      ]);
    });

    test('no statement of the role\'s main policy is on "*"', () => {
      expect(extractPolicy.filter((st) => asList(st.Resource).includes('*'))).toEqual([]);
    });

    test('the only "*" resources are the Glue VPC network-interface and Describe actions and PutMetricData held to the Glue namespace, all in the role\'s unscoped policy', () => {
      const role = platform.ingestion.extractJob.role;
      const unscoped = role.node.findChild('UnscopedPolicy');
      expect(resourcesOf(template, 'AWS::IAM::ManagedPolicy')[logicalId(unscoped)].Properties?.Roles).toEqual([{ Ref: logicalId(role) }]);
      expect(extractUnscoped).toEqual([
        { Effect: 'Allow', Action: 'cloudwatch:PutMetricData', Resource: '*', Condition: { StringEquals: { 'cloudwatch:namespace': 'Glue' } } },
        {
          Effect: 'Allow',
          Action: [
            'ec2:CreateNetworkInterface',
            'ec2:DeleteNetworkInterface',
            'ec2:DescribeNetworkInterfaces',
            'ec2:DescribeRouteTables',
            'ec2:DescribeSecurityGroups',
            'ec2:DescribeSubnets',
            'ec2:DescribeVpcAttribute',
            'ec2:DescribeVpcEndpoints',
          ],
          Resource: '*',
        },
      ]);
      // The tag actions are not among them: they are scoped (next test).
    });

    test('the "*" is acknowledged on the unscoped policy alone, naming exactly its actions; the role acknowledges nothing about "*"', () => {
      const role = platform.ingestion.extractJob.role;
      const held = [...new Set(extractUnscoped.flatMap((st) => actionsOf(st)))].sort();
      expect(held).toEqual([
        'cloudwatch:PutMetricData',
        'ec2:CreateNetworkInterface',
        'ec2:DeleteNetworkInterface',
        'ec2:DescribeNetworkInterfaces',
        'ec2:DescribeRouteTables',
        'ec2:DescribeSecurityGroups',
        'ec2:DescribeSubnets',
        'ec2:DescribeVpcAttribute',
        'ec2:DescribeVpcEndpoints',
      ]);
      expect(acknowledgedRules(role.node.findChild('UnscopedPolicy'))).toEqual({
        'AwsSolutions-IAM5[Resource::*]': expect.stringMatching(new RegExp(`: ${held.join(', ')}\\.$`)),
      });
      expect(acknowledgedRules(role)['AwsSolutions-IAM5[Resource::*]']).toBeUndefined();
    });

    test('ec2:CreateTags and ec2:DeleteTags are scoped as AWSGlueServiceRole scopes them: Glue\'s tag key only, on network interfaces, security groups and instances of this account and region', () => {
      const ec2Arn = (type: string): unknown =>
        asRendered(envName, {
          'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ec2:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:${type}/*`]],
        });
      const tagging = [...extractPolicy, ...extractUnscoped].filter((st) => actionsOf(st).some((a) => a === 'ec2:CreateTags' || a === 'ec2:DeleteTags'));
      expect(tagging).toEqual([
        {
          Effect: 'Allow',
          Action: ['ec2:CreateTags', 'ec2:DeleteTags'],
          // CDK sorts the resources of a statement.
          Resource: ['instance', 'network-interface', 'security-group'].map(ec2Arn),
          Condition: { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['aws-glue-service-resource'] } },
        },
      ]);
      // Each of the three patterns is acknowledged on the role, and no other EC2 resource is.
      const arn = (type: string) =>
        envName === 'dev' ? `arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:${type}/*` : `arn:aws:ec2:${EXAMPLE_REGION}:${EXAMPLE_ACCOUNT}:${type}/*`;
      const ec2Acks = Object.keys(acknowledgedRules(platform.ingestion.extractJob.role)).filter((r) => r.includes(':ec2:'));
      expect(ec2Acks.sort()).toEqual(['instance', 'network-interface', 'security-group'].map((type) => `AwsSolutions-IAM5[Resource::${arn(type)}]`));
    });

    test('the role’s permissions span exactly these services: EC2 in the main policy only for the scoped tagging, metrics only on "*"', () => {
      const services = (statements: StatementJson[]) => [...new Set(statements.flatMap((st) => actionsOf(st).map((a) => a.split(':')[0])))].sort();
      expect(services(extractPolicy)).toEqual(['ec2', 'glue', 'kms', 'logs', 's3', 'secretsmanager']);
      expect(extractPolicy.flatMap((st) => actionsOf(st)).filter((a) => a.startsWith('ec2:'))).toEqual(['ec2:CreateTags', 'ec2:DeleteTags']);
      expect(services(extractUnscoped)).toEqual(['cloudwatch', 'ec2']);
      for (const statement of [...extractPolicy, ...extractUnscoped]) {
        expect(statement.Effect === 'Allow' && statement.NotAction === undefined && statement.NotResource === undefined).toBe(true);
      }
    });
  });

  describe('roles', () => {
    test("the stack's roles are exactly the producer, delivery, extract and alert roles", () => {
      const expectedRoles = [
        childId(platform, 'Alarms', 'EventsRole'),
        childId(platform, 'ProducerRole'),
        childId(platform, 'DeliveryRole'),
        childId(platform, 'SourceExtract', 'Role'),
      ];
      expect(Object.keys(resourcesOf(template, 'AWS::IAM::Role')).sort()).toEqual(expectedRoles.sort());
    });
  });

  describe('change data capture', () => {
    noCdcTests(() => ({ platform, template }));
  });
});

/**
 * CDC is off in every shipped environment (nothing reads `cdc/` until the curate job applies
 * it), but the switch stays: prod with `cdc.enabled` still builds the whole DMS replication.
 */
describe('IngestionStack in prod with cdc.enabled switched on', () => {
  const envName = 'prod';
  let platform: SynthesizedPlatform;
  let template: Template;
  let rawBucketArn: unknown;
  const rawObject = (key: string): unknown => ref(platform.ingestion, platform.storage.buckets.raw.arnForObjects(key));

  beforeAll(() => {
    platform = synthPlatform(envName, { patch: { cdc: { enabled: true, createDmsVpcRole: true } } });
    template = platform.template('ingestion');
    rawBucketArn = ref(platform.ingestion, platform.storage.buckets.raw.bucketArn);
  });

  test("the stack's roles are the producer, delivery, extract and alert roles, and the two CDC roles (never the account's dms-vpc-role)", () => {
    const expectedRoles = [
      childId(platform, 'Alarms', 'EventsRole'),
      childId(platform, 'ProducerRole'),
      childId(platform, 'DeliveryRole'),
      childId(platform, 'SourceExtract', 'Role'),
      childId(platform, 'CdcSecretsRole'),
      childId(platform, 'CdcTargetRole'),
    ];
    expect(Object.keys(resourcesOf(template, 'AWS::IAM::Role')).sort()).toEqual(expectedRoles.sort());
  });

  describe('change data capture', () => {
    let replication: JsonObject;
    let cdcSgId: string;
    let secret: unknown;
    let lakeKey: unknown;

    beforeAll(() => {
      const configs = resourcesOf(template, 'AWS::DMS::ReplicationConfig');
      expect(Object.keys(configs)).toEqual([logicalId(platform.ingestion.replication!)]);
      replication = Object.values(configs)[0].Properties!;
      cdcSgId = childId(platform, 'CdcSecurityGroup');
      secret = ref(platform.ingestion, platform.source.replicationSecret!.secretArn);
      lakeKey = ref(platform.ingestion, platform.foundation.keys.lake.keyArn);
    });

    test('there is exactly one replication config, one subnet group and two endpoints, and no replication instance', () => {
      const types = Object.values(template.toJSON().Resources as Record<string, { Type: string }>)
        .map((r) => r.Type)
        .filter((t) => t.startsWith('AWS::DMS::'))
        .sort();
      expect(types).toEqual(['AWS::DMS::Endpoint', 'AWS::DMS::Endpoint', 'AWS::DMS::ReplicationConfig', 'AWS::DMS::ReplicationSubnetGroup']);
    });

    test('the replication is serverless full-load-and-cdc of every table of the source database', () => {
      expect(replication.ReplicationType).toBe('full-load-and-cdc');
      expect(replication.ReplicationConfigIdentifier).toBe(`undercurrent-${envName}-cdc`);
      expect(replication.SourceEndpointArn).toEqual({ Ref: childId(platform, 'CdcSourceEndpoint') });
      expect(replication.TargetEndpointArn).toEqual({ Ref: childId(platform, 'CdcTargetEndpoint') });
      expect(replication.TableMappings).toEqual({
        rules: [
          {
            'rule-type': 'selection',
            'rule-id': '1',
            'rule-name': 'every-source-table',
            'object-locator': { 'schema-name': 'classicmodels', 'table-name': '%' },
            'rule-action': 'include',
          },
        ],
      });
    });

    test('the replication scales to the configured 16 capacity units, in the compute subnets with the CDC group, encrypted with the lake key, Multi-AZ as the source', () => {
      expect(platform.config.cdc.maxCapacityUnits).toBe(16);
      expect(replication.ComputeConfig).toEqual({
        MaxCapacityUnits: platform.config.cdc.maxCapacityUnits,
        ReplicationSubnetGroupId: { Ref: childId(platform, 'CdcSubnetGroup') },
        VpcSecurityGroupIds: [{ 'Fn::GetAtt': [cdcSgId, 'GroupId'] }],
        KmsKeyId: lakeKey,
        MultiAZ: platform.config.source.multiAz,
      });
      expect(replication.ComputeConfig.MultiAZ).toBe(true);
    });

    test('the replication subnet group holds exactly the compute subnets', () => {
      const group = resourcesOf(template, 'AWS::DMS::ReplicationSubnetGroup')[childId(platform, 'CdcSubnetGroup')];
      const compute = platform.foundation.vpc
        .selectSubnets(platform.foundation.dataClientSubnets)
        .subnets.map((s) => ref(platform.ingestion, s.subnetId));
      expect(compute).toHaveLength(platform.config.network.maxAzs);
      expect(group.Properties?.SubnetIds).toEqual(compute);
    });

    test('the replication is created after its roles and their policies', () => {
      const [resource] = Object.values(resourcesOf(template, 'AWS::DMS::ReplicationConfig'));
      expect(asList(resource.DependsOn).sort()).toEqual(
        [
          childId(platform, 'CdcSecretsRole'),
          childId(platform, 'CdcSecretsRole', 'Policy'),
          childId(platform, 'CdcTargetRole'),
          childId(platform, 'CdcTargetRole', 'Policy'),
        ].sort(),
      );
    });

    test('the source endpoint is MySQL over required TLS, with the replication user’s credentials through the secrets role', () => {
      const endpoint = resourcesOf(template, 'AWS::DMS::Endpoint')[childId(platform, 'CdcSourceEndpoint')];
      expect(endpoint.Properties).toEqual({
        EndpointType: 'source',
        EngineName: 'mysql',
        DatabaseName: 'classicmodels',
        SslMode: 'require',
        KmsKeyId: ref(platform.ingestion, platform.foundation.keys.source.keyArn),
        MySqlSettings: {
          SecretsManagerSecretId: secret,
          SecretsManagerAccessRoleArn: { 'Fn::GetAtt': [childId(platform, 'CdcSecretsRole'), 'Arn'] },
        },
        Tags: expect.any(Array),
      });
    });

    test('the source endpoint’s secret is the replication user’s attached secret, imported from Source; never the admin’s or the extract user’s', () => {
      const endpoint = resourcesOf(template, 'AWS::DMS::Endpoint')[childId(platform, 'CdcSourceEndpoint')];
      const secretId = endpoint.Properties?.MySqlSettings.SecretsManagerSecretId;
      const attachmentId = logicalId(platform.source.node.findChild('ReplicationUserSecret').node.findChild('Attachment'));
      expect(secretId).toEqual({
        'Fn::ImportValue': expect.stringMatching(new RegExp(`^Undercurrent-${envName}-Source:ExportsOutputRef${attachmentId}[0-9A-F]{8}$`)),
      });
      expect(secretId).not.toEqual(ref(platform.ingestion, platform.source.extractSecret.secretArn));
      expect(JSON.stringify(endpoint.Properties)).not.toMatch(/MasterUserSecret|ExtractUserSecret/);
      // DMS takes host, port, user and password from the secret, never from the template.
      for (const key of ['ServerName', 'Port', 'Username', 'Password']) {
        expect(endpoint.Properties?.[key]).toBeUndefined();
      }
    });

    test('the target endpoint writes Parquet to cdc/ of the raw bucket, SSE-KMS with the lake key, partitioned by date', () => {
      const endpoint = resourcesOf(template, 'AWS::DMS::Endpoint')[childId(platform, 'CdcTargetEndpoint')];
      expect(endpoint.Properties).toEqual({
        EndpointType: 'target',
        EngineName: 's3',
        S3Settings: {
          BucketName: ref(platform.ingestion, platform.storage.buckets.raw.bucketName),
          BucketFolder: 'cdc',
          ServiceAccessRoleArn: { 'Fn::GetAtt': [childId(platform, 'CdcTargetRole'), 'Arn'] },
          DataFormat: 'parquet',
          ParquetTimestampInMillisecond: true,
          EncryptionMode: 'SSE_KMS',
          ServerSideEncryptionKmsKeyId: lakeKey,
          DatePartitionEnabled: true,
          DatePartitionSequence: 'YYYYMMDD',
          DatePartitionDelimiter: 'SLASH',
          TimestampColumnName: '_cdc_timestamp',
          IncludeOpForFullLoad: true,
        },
        Tags: expect.any(Array),
      });
      expect(endpoint.Properties?.S3Settings.BucketFolder).toBe('cdc');
    });

    test('only DMS assumes the target role, which reads, writes and tags objects only under cdc/ of the raw bucket with the lake key (plus the prefix key and its _$folder$ marker)', () => {
      const role = resourcesOf(template, 'AWS::IAM::Role')[childId(platform, 'CdcTargetRole')];
      expect(role.Properties?.AssumeRolePolicyDocument.Statement).toEqual([
        { Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { Service: 'dms.amazonaws.com' } },
      ]);
      expect(role.Properties?.ManagedPolicyArns).toBeUndefined();
      expect(rolePolicyStatements(template, 'Ingestion/CdcTargetRole')).toEqual([
        { Effect: 'Allow', Action: 's3:GetObject', Resource: [rawObject('cdc'), rawObject('cdc/*'), rawObject('cdc_$folder$')] },
        { Effect: 'Allow', Action: 's3:ListBucket', Resource: rawBucketArn, Condition: { StringLike: { 's3:prefix': ['cdc/*'] } } },
        { Effect: 'Allow', Action: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'], Resource: lakeKey },
        {
          Effect: 'Allow',
          Action: ['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:PutObject', 's3:PutObjectTagging'],
          Resource: rawObject('cdc/*'),
        },
        { Effect: 'Allow', Action: 's3:PutObject', Resource: rawObject('cdc_$folder$') },
      ]);
    });

    test('only regional DMS assumes the secrets role, which reads only the replication user’s secret and decrypts only with the source key', () => {
      const role = resourcesOf(template, 'AWS::IAM::Role')[childId(platform, 'CdcSecretsRole')];
      expect(role.Properties?.AssumeRolePolicyDocument.Statement).toEqual([
        {
          Effect: 'Allow',
          Action: 'sts:AssumeRole',
          Principal: { Service: asRendered(envName, { 'Fn::Join': ['', ['dms.', { Ref: 'AWS::Region' }, '.amazonaws.com']] }) },
        },
      ]);
      expect(role.Properties?.ManagedPolicyArns).toBeUndefined();
      expect(rolePolicyStatements(template, 'Ingestion/CdcSecretsRole')).toEqual([
        { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: secret },
        { Effect: 'Allow', Action: 'kms:Decrypt', Resource: ref(platform.ingestion, platform.foundation.keys.source.keyArn) },
      ]);
    });

    test('even with createDmsVpcRole the stack holds no dms-vpc-role (the account stack does, with -c accountBaseline=true), no named role, no AWS-managed policy, and the subnet group waits for nothing', () => {
      expect(platform.config.cdc.createDmsVpcRole).toBe(true);
      // The account stack is built only when the context asks for it (test/stacks/account.test.ts).
      expect(platform.account).toBeUndefined();
      expect(platform.ingestion.node.tryFindChild('DmsVpcRole')).toBeUndefined();
      const roles = Object.values(resourcesOf(template, 'AWS::IAM::Role'));
      expect(roles.filter((r) => r.Properties?.RoleName !== undefined)).toEqual([]);
      expect(roles.filter((r) => r.Properties?.ManagedPolicyArns !== undefined)).toEqual([]);
      expect(JSON.stringify(template.toJSON())).not.toContain('AmazonDMSVPCManagementRole');
      const subnetGroup = resourcesOf(template, 'AWS::DMS::ReplicationSubnetGroup')[childId(platform, 'CdcSubnetGroup')];
      expect(subnetGroup.DependsOn).toBeUndefined();
    });

    test('createDmsVpcRole does not change the Ingestion stack at all: its template equals the one built with createDmsVpcRole false', () => {
      const without = synthPlatform(envName, { patch: { cdc: { enabled: true, createDmsVpcRole: false } } });
      expect(without.config.cdc.createDmsVpcRole).toBe(false);
      expect(template.toJSON()).toEqual(without.template('ingestion').toJSON());
    });

    test('the CDC security group admits nothing and sends only HTTPS and the database port to the database group', () => {
      const port = platform.config.source.port;
      const group = resourcesOf(template, 'AWS::EC2::SecurityGroup')[cdcSgId];
      expect(group.Properties?.SecurityGroupIngress).toBeUndefined();
      expect(standaloneRules(template, 'AWS::EC2::SecurityGroupIngress', cdcSgId)).toEqual([]);
      expect(group.Properties?.SecurityGroupEgress).toEqual([
        { CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443, Description: expect.any(String) },
      ]);
      expect(standaloneRules(template, 'AWS::EC2::SecurityGroupEgress', cdcSgId)).toEqual([
        {
          GroupId: { 'Fn::GetAtt': [cdcSgId, 'GroupId'] },
          DestinationSecurityGroupId: ref(platform.ingestion, platform.source.securityGroup.securityGroupId),
          IpProtocol: 'tcp',
          FromPort: port,
          ToPort: port,
          Description: 'The database',
        },
      ]);
    });

    test('this stack admits the CDC group into the database group on the database port only', () => {
      const port = platform.config.source.port;
      expect(resourcesOf(template, 'AWS::EC2::SecurityGroupIngress')[childId(platform, 'CdcSecurityGroupDatabaseIngress')].Properties).toEqual({
        GroupId: ref(platform.ingestion, platform.source.securityGroup.securityGroupId),
        SourceSecurityGroupId: { 'Fn::GetAtt': [cdcSgId, 'GroupId'] },
        IpProtocol: 'tcp',
        FromPort: port,
        ToPort: port,
        Description: 'DMS replication reaches the database',
      });
    });
  });
});

describe('IngestionStack in staging', () => {
  let platform: SynthesizedPlatform;
  let template: Template;

  beforeAll(() => {
    platform = synthPlatform('staging');
    template = platform.template('ingestion');
  });

  noCdcTests(() => ({ platform, template }));
});

describe('IngestionStack in prod with cdc.enabled where the account already has a dms-vpc-role (createDmsVpcRole false)', () => {
  let platform: SynthesizedPlatform;
  let template: Template;

  beforeAll(() => {
    platform = synthPlatform('prod', { patch: { cdc: { enabled: true, createDmsVpcRole: false } } });
    template = platform.template('ingestion');
  });

  test('the replication is still built', () => {
    template.resourceCountIs('AWS::DMS::ReplicationConfig', 1);
  });

  test('no dms-vpc-role and no AWS-managed policy is created, and the subnet group waits for nothing', () => {
    expect(platform.ingestion.node.tryFindChild('DmsVpcRole')).toBeUndefined();
    const roles = Object.values(resourcesOf(template, 'AWS::IAM::Role'));
    expect(roles.filter((r) => r.Properties?.RoleName !== undefined)).toEqual([]);
    expect(roles.filter((r) => r.Properties?.ManagedPolicyArns !== undefined)).toEqual([]);
    const [subnetGroup] = Object.values(resourcesOf(template, 'AWS::DMS::ReplicationSubnetGroup'));
    expect(subnetGroup.DependsOn).toBeUndefined();
  });
});
