import { Match, Template } from 'aws-cdk-lib/assertions';
import { CLICKSTREAM_ERROR_PREFIX, CLICKSTREAM_RAW_PREFIX } from '../../lib/stacks/ingestion-stack';
import { SynthesizedPlatform, synthPlatform } from '../support/platform';
import { actionsOf, asList, JsonObject, logicalId, ref, resourcesOf, rolePolicyStatements, StatementJson, statementsWithAction } from './template-helpers';

const KINESIS_READ_ACTIONS = [
  'kinesis:DescribeStream',
  'kinesis:DescribeStreamSummary',
  'kinesis:GetRecords',
  'kinesis:GetShardIterator',
  'kinesis:ListShards',
];

describe.each([
  { envName: 'dev' as const, streamMode: 'PROVISIONED', shardCount: 1, retentionHours: 24, interval: 300, sizeMiB: 64 },
  { envName: 'prod' as const, streamMode: 'ON_DEMAND', shardCount: undefined, retentionHours: 168, interval: 60, sizeMiB: 128 },
])('IngestionStack in $envName', (expected) => {
  const { envName } = expected;
  let platform: SynthesizedPlatform;
  let template: Template;
  let delivery: JsonObject;
  let destination: JsonObject;
  let policy: StatementJson[];
  let streamArn: unknown;
  let rawBucketArn: unknown;

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

    test(`the stream has DeletionPolicy ${envName === 'prod' ? 'Retain' : 'Delete'}`, () => {
      template.hasResource('AWS::Kinesis::Stream', { DeletionPolicy: envName === 'prod' ? 'Retain' : 'Delete' });
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

    test('delivery goes to the raw bucket under clickstream/ingest_date=!{timestamp:yyyy-MM-dd}/', () => {
      expect(destination.BucketARN).toEqual(rawBucketArn);
      expect(destination.Prefix).toBe('clickstream/ingest_date=!{timestamp:yyyy-MM-dd}/');
    });

    test('failed records go under an error prefix that names the error type, outside the clickstream/ prefix', () => {
      expect(destination.ErrorOutputPrefix).toContain('!{firehose:error-output-type}');
      expect(destination.ErrorOutputPrefix.startsWith(CLICKSTREAM_ERROR_PREFIX)).toBe(true);
      expect(destination.ErrorOutputPrefix.startsWith(CLICKSTREAM_RAW_PREFIX)).toBe(false);
    });

    test('objects are GZIP-compressed and encrypted with the lake key', () => {
      expect(destination.CompressionFormat).toBe('GZIP');
      expect(destination.EncryptionConfiguration).toEqual({
        KMSEncryptionConfig: { AWSKMSKeyARN: ref(platform.ingestion, platform.foundation.keys.lake.keyArn) },
      });
    });

    test('every record is followed by a newline (AppendDelimiterToRecord)', () => {
      expect(destination.ProcessingConfiguration).toEqual({
        Enabled: true,
        Processors: [{ Type: 'AppendDelimiterToRecord' }],
      });
    });

    test(`buffering is ${expected.interval} seconds or ${expected.sizeMiB} MiB as configured`, () => {
      expect(destination.BufferingHints).toEqual({
        IntervalInSeconds: platform.config.streaming.bufferIntervalSeconds,
        SizeInMBs: platform.config.streaming.bufferSizeMiB,
      });
      expect(destination.BufferingHints).toEqual({ IntervalInSeconds: expected.interval, SizeInMBs: expected.sizeMiB });
    });

    test('delivery errors are logged to a KMS-encrypted log group with the configured retention', () => {
      const groups = resourcesOf(template, 'AWS::Logs::LogGroup');
      expect(Object.keys(groups)).toHaveLength(1);
      const [groupId, group] = Object.entries(groups)[0];
      expect(group.Properties).toEqual(
        expect.objectContaining({
          KmsKeyId: ref(platform.ingestion, platform.foundation.keys.ops.keyArn),
          RetentionInDays: platform.config.dataProtection.logRetentionDays,
        }),
      );
      const [streamId] = Object.keys(resourcesOf(template, 'AWS::Logs::LogStream'));
      expect(destination.CloudWatchLoggingOptions).toEqual({
        Enabled: true,
        LogGroupName: { Ref: groupId },
        LogStreamName: { Ref: streamId },
      });
    });

    test('the delivery stream is created after its role’s policy, so the first delivery is authorized', () => {
      const policyId = Object.keys(resourcesOf(template, 'AWS::IAM::ManagedPolicy'))[0];
      expect(asList(delivery.DependsOn)).toContain(policyId);
    });
  });

  describe('delivery role', () => {
    test('only Firehose of this account can assume the role, and it has no inline or AWS-managed policy', () => {
      template.resourceCountIs('AWS::IAM::Role', 1);
      template.hasResourceProperties('AWS::IAM::Role', {
        AssumeRolePolicyDocument: {
          Statement: [
            {
              Effect: 'Allow',
              Action: 'sts:AssumeRole',
              Principal: { Service: 'firehose.amazonaws.com' },
              Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
            },
          ],
        },
        Policies: Match.absent(),
        ManagedPolicyArns: Match.absent(),
      });
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

    test('the role writes objects only under clickstream/ and clickstream-errors/ of the raw bucket, and deletes nothing', () => {
      const puts = statementsWithAction(policy, 's3:PutObject');
      expect(puts).toHaveLength(1);
      expect(actionsOf(puts[0])).toEqual(['s3:AbortMultipartUpload', 's3:PutObject']);
      const objectsUnder = (prefix: string): unknown => ref(platform.ingestion, platform.storage.buckets.raw.arnForObjects(`${prefix}*`));
      expect(asList(puts[0].Resource)).toEqual(
        expect.arrayContaining([objectsUnder(CLICKSTREAM_RAW_PREFIX), objectsUnder(CLICKSTREAM_ERROR_PREFIX)]),
      );
      expect(asList(puts[0].Resource)).toHaveLength(2);
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
});
