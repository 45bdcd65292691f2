import { Match, Template } from 'aws-cdk-lib/assertions';
import { LakeBuckets } from '../../lib/lake/storage-stack';
import { SynthesizedPlatform, synthPlatform } from '../support/platform';
import { asList, asRendered, logicalId, ref, resourcesOf } from './template-helpers';

/** Each lake bucket and the prefix of its server access logs in the access-log bucket. */
const BUCKETS: readonly { key: keyof LakeBuckets; logPrefix: string }[] = [
  { key: 'raw', logPrefix: 'rawzone/' },
  { key: 'curated', logPrefix: 'curatedzone/' },
  { key: 'gold', logPrefix: 'goldzone/' },
  { key: 'quarantine', logPrefix: 'quarantinezone/' },
  { key: 'queryResults', logPrefix: 'queryresults/' },
];

const ZONES = ['raw', 'curated', 'gold', 'quarantine'] as const;

const NONCURRENT = (days: number) => ({
  Id: 'NoncurrentVersionsAndStaleUploads',
  Status: 'Enabled',
  NoncurrentVersionExpiration: { NoncurrentDays: days },
  AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
});
const TO_STANDARD_IA = (days: number, id = 'RawToInfrequentAccess') => ({
  Id: id,
  Status: 'Enabled',
  Transitions: [{ StorageClass: 'STANDARD_IA', TransitionInDays: days }],
});
const EXPIRE = (id: string, days: number) => ({ Id: id, Status: 'Enabled', ExpirationInDays: days });

/**
 * The lifecycle rules of each zone bucket, written out for the shipped `storage` config of
 * dev (cheap: raw expires after 90 days) and prod (raw kept forever, raw and quarantine in
 * Standard-IA after 30 days).
 */
const LIFECYCLE: Record<'dev' | 'prod', Record<keyof LakeBuckets, unknown[]>> = {
  dev: {
    raw: [NONCURRENT(7), TO_STANDARD_IA(30), EXPIRE('ExpireRaw', 90)],
    curated: [NONCURRENT(7)],
    gold: [NONCURRENT(7)],
    quarantine: [NONCURRENT(7), EXPIRE('ExpireQuarantine', 14)],
    queryResults: [NONCURRENT(7), EXPIRE('ExpireQueryResults', 3)],
  },
  prod: {
    raw: [NONCURRENT(90), TO_STANDARD_IA(30)],
    curated: [NONCURRENT(90)],
    gold: [NONCURRENT(90)],
    quarantine: [NONCURRENT(90), TO_STANDARD_IA(30, 'QuarantineToInfrequentAccess'), EXPIRE('ExpireQuarantine', 365)],
    queryResults: [NONCURRENT(90), EXPIRE('ExpireQueryResults', 7)],
  },
};

describe.each([
  // Without the second key (-c removeDataOnDestroy=true) dev retains its data as prod does.
  { label: 'dev', envName: 'dev' as const, context: {}, deletionPolicy: 'Retain', autoDelete: false, noncurrentDays: 7 },
  {
    label: 'dev with -c removeDataOnDestroy=true',
    envName: 'dev' as const,
    context: { removeDataOnDestroy: 'true' },
    deletionPolicy: 'Delete',
    autoDelete: true,
    noncurrentDays: 7,
  },
  { label: 'prod', envName: 'prod' as const, context: {}, deletionPolicy: 'Retain', autoDelete: false, noncurrentDays: 90 },
])('StorageStack in $label', ({ envName, context, deletionPolicy, autoDelete, noncurrentDays }) => {
  let platform: SynthesizedPlatform;
  let template: Template;
  let bucketIds: Record<keyof LakeBuckets, string>;

  beforeAll(() => {
    platform = synthPlatform(envName, { context });
    template = platform.template('storage');
    bucketIds = Object.fromEntries(
      BUCKETS.map(({ key }) => [key, logicalId(platform.storage.buckets[key])]),
    ) as Record<keyof LakeBuckets, string>;
  });

  test('there are exactly five buckets: raw, curated, gold, quarantine and query results', () => {
    template.resourceCountIs('AWS::S3::Bucket', 5);
    expect(Object.keys(resourcesOf(template, 'AWS::S3::Bucket')).sort()).toEqual(Object.values(bucketIds).sort());
  });

  test('the lake key is imported from the Foundation stack, not created here', () => {
    template.resourceCountIs('AWS::KMS::Key', 0);
    expect(ref(platform.storage, platform.foundation.keys.lake.keyArn)).toEqual({
      'Fn::ImportValue': expect.stringMatching(new RegExp(`^Undercurrent-${envName}-Foundation:`)),
    });
  });

  test.each(BUCKETS.map((b) => b.key))(
    'the %s bucket uses SSE-KMS with a bucket key: the lake key for the zones, its own key for query results',
    (key) => {
      const bucket = resourcesOf(template, 'AWS::S3::Bucket')[bucketIds[key]];
      const keyArn = key === 'queryResults' ? platform.foundation.keys.queryResults.keyArn : platform.foundation.keys.lake.keyArn;
      expect(bucket.Properties?.BucketEncryption).toEqual({
        ServerSideEncryptionConfiguration: [
          {
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: ref(platform.storage, keyArn) },
          },
        ],
      });
    },
  );

  test.each(BUCKETS.map((b) => b.key))('the %s bucket sends its object events to EventBridge exactly when it is a data zone', (key) => {
    const bucket = resourcesOf(template, 'AWS::S3::Bucket')[bucketIds[key]];
    expect(bucket.Properties?.NotificationConfiguration).toEqual(
      key === 'queryResults' ? undefined : { EventBridgeConfiguration: { EventBridgeEnabled: true } },
    );
  });

  test.each(BUCKETS.map((b) => b.key))('the %s bucket blocks all public access and enforces bucket-owner ownership', (key) => {
    const bucket = resourcesOf(template, 'AWS::S3::Bucket')[bucketIds[key]];
    expect(bucket.Properties).toEqual(
      expect.objectContaining({
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      }),
    );
  });

  test.each(BUCKETS.map((b) => b.key))(
    `the %s bucket is versioned and expires noncurrent versions after ${noncurrentDays} days and stale multipart uploads`,
    (key) => {
      const bucket = resourcesOf(template, 'AWS::S3::Bucket')[bucketIds[key]];
      expect(bucket.Properties?.VersioningConfiguration).toEqual({ Status: 'Enabled' });
      expect(bucket.Properties?.LifecycleConfiguration.Rules).toContainEqual(NONCURRENT(noncurrentDays));
    },
  );

  test.each(BUCKETS.map((b) => b.key))('the %s bucket policy denies requests without TLS or below TLS 1.2', (key) => {
    const id = bucketIds[key];
    const bucketAndObjects = [
      { 'Fn::GetAtt': [id, 'Arn'] },
      { 'Fn::Join': ['', [{ 'Fn::GetAtt': [id, 'Arn'] }, '/*']] },
    ];
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: id },
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 's3:*',
            Resource: bucketAndObjects,
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          },
          {
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 's3:*',
            Resource: bucketAndObjects,
            Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } },
          },
        ]),
      },
    });
  });

  test.each(BUCKETS)('the $key bucket logs its access to the Foundation access-log bucket under $logPrefix', ({ key, logPrefix }) => {
    const bucket = resourcesOf(template, 'AWS::S3::Bucket')[bucketIds[key]];
    expect(bucket.Properties?.LoggingConfiguration).toEqual({
      DestinationBucketName: ref(platform.storage, platform.foundation.accessLogsBucket.bucketName),
      LogFilePrefix: logPrefix,
    });
    expect(bucket.Properties?.LoggingConfiguration.DestinationBucketName).toEqual({
      'Fn::ImportValue': expect.stringMatching(new RegExp(`^Undercurrent-${envName}-Foundation:`)),
    });
  });

  test.each(BUCKETS.map((b) => b.key))(`the %s bucket has exactly the lifecycle rules of ${envName}'s storage config`, (key) => {
    const bucket = resourcesOf(template, 'AWS::S3::Bucket')[bucketIds[key]];
    expect(bucket.Properties?.LifecycleConfiguration.Rules).toEqual(LIFECYCLE[envName][key]);
  });

  test.each(['curated', 'gold'] as const)('current objects of the %s zone never expire and stay in S3 Standard', (zone) => {
    const rules = asList<Record<string, unknown>>(
      resourcesOf(template, 'AWS::S3::Bucket')[bucketIds[zone]].Properties?.LifecycleConfiguration.Rules,
    );
    for (const rule of rules) {
      expect(rule.ExpirationInDays).toBeUndefined();
      expect(rule.ExpirationDate).toBeUndefined();
      expect(rule.Transitions).toBeUndefined();
    }
  });

  test(`every bucket has DeletionPolicy ${deletionPolicy}`, () => {
    for (const bucket of Object.values(resourcesOf(template, 'AWS::S3::Bucket'))) {
      expect(bucket.DeletionPolicy).toBe(deletionPolicy);
      expect(bucket.UpdateReplacePolicy).toBe(deletionPolicy);
    }
  });

  if (autoDelete) {
    test('every bucket is emptied on deletion by the auto-delete custom resource', () => {
      template.resourceCountIs('Custom::S3AutoDeleteObjects', 5);
      for (const id of Object.values(bucketIds)) {
        template.hasResourceProperties('Custom::S3AutoDeleteObjects', { BucketName: { Ref: id } });
      }
    });
  } else {
    test('no bucket is emptied on deletion: no auto-delete custom resource, function or tag', () => {
      template.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
      // prod's one function is the warehouse's default-role call (asserted in warehouse.test.ts).
      const functions = Object.keys(template.findResources('AWS::Lambda::Function'));
      expect(functions).toHaveLength(envName === 'prod' ? 1 : 0);
      for (const id of functions) {
        expect(id).toMatch(/^AWS[0-9a-fA-F]+$/);
      }
      expect(JSON.stringify(template.toJSON())).not.toContain('aws-cdk:auto-delete-objects');
    });
  }

  test("there are four Glue databases, one per data zone, plus the raw drift crawler's own database", () => {
    template.resourceCountIs('AWS::Glue::Database', 5);
  });

  test.each(ZONES)(`the %s database is named undercurrent_<env>_<zone> and located at its zone bucket`, (zone) => {
    template.hasResource('AWS::Glue::Database', {
      DeletionPolicy: deletionPolicy,
      Properties: {
        CatalogId: asRendered(envName, { Ref: 'AWS::AccountId' }),
        DatabaseInput: Match.objectLike({
          Name: `undercurrent_${envName}_${zone}`,
          LocationUri: { 'Fn::Join': ['', ['s3://', { Ref: bucketIds[zone] }]] },
        }),
      },
    });
  });
});

describe('StorageStack lifecycle follows the storage config', () => {
  let template: Template;
  let platform: SynthesizedPlatform;

  beforeAll(() => {
    platform = synthPlatform('staging', {
      patch: {
        storage: {
          rawTransitionDays: 45,
          rawExpirationDays: 400,
          quarantineExpirationDays: 60,
          noncurrentVersionExpirationDays: 21,
          queryResultsExpirationDays: 2,
        },
      },
    });
    template = platform.template('storage');
  });

  test('every rule takes its days from config', () => {
    const rules = (key: keyof LakeBuckets) =>
      resourcesOf(template, 'AWS::S3::Bucket')[logicalId(platform.storage.buckets[key])].Properties?.LifecycleConfiguration
        .Rules;
    expect(rules('raw')).toEqual([NONCURRENT(21), TO_STANDARD_IA(45), EXPIRE('ExpireRaw', 400)]);
    expect(rules('curated')).toEqual([NONCURRENT(21)]);
    expect(rules('gold')).toEqual([NONCURRENT(21)]);
    expect(rules('quarantine')).toEqual([NONCURRENT(21), EXPIRE('ExpireQuarantine', 60)]);
    expect(rules('queryResults')).toEqual([NONCURRENT(21), EXPIRE('ExpireQueryResults', 2)]);
  });
});

describe('StorageStack in prod with removalPolicy snapshot', () => {
  let template: Template;

  beforeAll(() => {
    template = synthPlatform('prod', { patch: { dataProtection: { removalPolicy: 'snapshot' } } }).template('storage');
  });

  test('buckets and databases, which cannot be snapshotted, are retained', () => {
    for (const type of ['AWS::S3::Bucket', 'AWS::Glue::Database']) {
      for (const resource of Object.values(resourcesOf(template, type))) {
        expect(resource.DeletionPolicy).toBe('Retain');
      }
    }
    template.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
  });
});
