import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks } from 'cdk-nag';
import { SecureBucket } from '../../lib/shared/secure-bucket';
import { testApp } from '../support/platform';

/** The logical id of the bucket of a SecureBucket. */
function logicalId(secure: SecureBucket): string {
  return Stack.of(secure).getLogicalId(secure.bucket.node.defaultChild as s3.CfnBucket);
}

/** The default lifecycle rule, as rendered. */
function defaultRule(noncurrentDays: number): Record<string, unknown> {
  return {
    Id: 'NoncurrentVersionsAndStaleUploads',
    Status: 'Enabled',
    NoncurrentVersionExpiration: { NoncurrentDays: noncurrentDays },
    AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
  };
}

describe('SecureBucket', () => {
  let template: Template;
  let key: kms.Key;
  let stack: Stack;
  let logs: SecureBucket;
  let data: SecureBucket;
  let zone: SecureBucket;

  beforeAll(() => {
    const app = testApp();
    stack = new Stack(app, 'Storage');
    key = new kms.Key(stack, 'LakeKey', { enableKeyRotation: true });
    logs = new SecureBucket(stack, 'AccessLogs', { accessLogDestination: true, removalPolicy: RemovalPolicy.RETAIN });
    data = new SecureBucket(stack, 'Raw', {
      encryptionKey: key,
      serverAccessLogsBucket: logs.bucket,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    zone = new SecureBucket(stack, 'Curated', {
      encryptionKey: key,
      serverAccessLogsBucket: logs.bucket,
      removalPolicy: RemovalPolicy.RETAIN,
      noncurrentVersionExpiration: Duration.days(30),
      lifecycleRules: [
        {
          id: 'ToInfrequentAccess',
          transitions: [{ storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(60) }],
        },
      ],
    });
    template = Template.fromStack(stack);
  });

  test('a data bucket is encrypted with SSE-KMS under the given customer key, with an S3 bucket key', () => {
    expect(template.findResources('AWS::S3::Bucket')[logicalId(data)].Properties.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [
        {
          BucketKeyEnabled: true,
          ServerSideEncryptionByDefault: {
            SSEAlgorithm: 'aws:kms',
            KMSMasterKeyID: stack.resolve(key.keyArn),
          },
        },
      ],
    });
  });

  test('every bucket blocks all four kinds of public access', () => {
    template.allResourcesProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    });
  });

  test('every bucket enforces bucket-owner ownership, which disables ACLs', () => {
    template.allResourcesProperties('AWS::S3::Bucket', {
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    });
  });

  test('every bucket is versioned', () => {
    template.allResourcesProperties('AWS::S3::Bucket', { VersioningConfiguration: { Status: 'Enabled' } });
  });

  test('the bucket policy denies every request that is not over TLS, on the bucket and its objects', () => {
    for (const secure of [logs, data, zone]) {
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: logicalId(secure) },
        PolicyDocument: {
          Statement: Match.arrayWith([
            {
              Effect: 'Deny',
              Principal: { AWS: '*' },
              Action: 's3:*',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
              Resource: [
                stack.resolve(secure.bucket.bucketArn),
                stack.resolve(secure.bucket.arnForObjects('*')),
              ],
            },
          ]),
        },
      });
    }
  });

  test('the bucket policy denies every request made with a TLS version below 1.2', () => {
    for (const secure of [logs, data, zone]) {
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: logicalId(secure) },
        PolicyDocument: {
          Statement: Match.arrayWith([
            {
              Effect: 'Deny',
              Principal: { AWS: '*' },
              Action: 's3:*',
              Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } },
              Resource: [
                stack.resolve(secure.bucket.bucketArn),
                stack.resolve(secure.bucket.arnForObjects('*')),
              ],
            },
          ]),
        },
      });
    }
  });

  test('a data bucket logs its access to the given bucket under a prefix named after its id', () => {
    const buckets = template.findResources('AWS::S3::Bucket');
    expect(buckets[logicalId(data)].Properties.LoggingConfiguration).toEqual({
      DestinationBucketName: { Ref: logicalId(logs) },
      LogFilePrefix: 'raw/',
    });
    expect(buckets[logicalId(zone)].Properties.LoggingConfiguration).toEqual({
      DestinationBucketName: { Ref: logicalId(logs) },
      LogFilePrefix: 'curated/',
    });
  });

  test('the access-log destination lets S3 log delivery write a bucket\'s logs only under its prefix, for that bucket and this account', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: logicalId(logs) },
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Effect: 'Allow',
            Principal: { Service: 'logging.s3.amazonaws.com' },
            Action: 's3:PutObject',
            Resource: stack.resolve(logs.bucket.arnForObjects('raw/*')),
            Condition: {
              ArnLike: { 'aws:SourceArn': stack.resolve(data.bucket.bucketArn) },
              StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
            },
          },
        ]),
      },
    });
  });

  test('the default lifecycle rule expires noncurrent versions after 90 days and aborts multipart uploads after 7 days', () => {
    expect(template.findResources('AWS::S3::Bucket')[logicalId(data)].Properties.LifecycleConfiguration).toEqual({
      Rules: [defaultRule(90)],
    });
  });

  test('the noncurrent-version expiration is configurable, and extra lifecycle rules come after the default rule', () => {
    expect(template.findResources('AWS::S3::Bucket')[logicalId(zone)].Properties.LifecycleConfiguration).toEqual({
      Rules: [
        defaultRule(30),
        {
          Id: 'ToInfrequentAccess',
          Status: 'Enabled',
          Transitions: [{ StorageClass: 'STANDARD_IA', TransitionInDays: 60 }],
        },
      ],
    });
  });

  test('RemovalPolicy.RETAIN keeps the bucket on stack deletion and on replacement', () => {
    template.hasResource('AWS::S3::Bucket', {
      Properties: Match.objectLike({ LoggingConfiguration: Match.objectLike({ LogFilePrefix: 'raw/' }) }),
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  test('no bucket is emptied on deletion unless autoDeleteObjects is asked for', () => {
    template.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
    template.allResources('AWS::S3::Bucket', {
      Properties: Match.objectLike({ Tags: Match.absent() }),
    });
  });

  test('the access-log destination is encrypted with SSE-S3 (AES256) and has no key of its own', () => {
    expect(template.findResources('AWS::S3::Bucket')[logicalId(logs)].Properties.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
    });
  });

  test('the access-log destination does not log its own access', () => {
    expect(template.findResources('AWS::S3::Bucket')[logicalId(logs)].Properties.LoggingConfiguration).toBeUndefined();
  });

  test('the access-log destination admits log delivery for the buckets of its account only, in its own policy', () => {
    const logsId = stack.getLogicalId(logs.bucket.node.defaultChild as s3.CfnBucket);
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: logsId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Sid: 'AllowLogDeliveryForThisAccount',
            Effect: 'Allow',
            Principal: { Service: 'logging.s3.amazonaws.com' },
            Action: 's3:PutObject',
            Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [logsId, 'Arn'] }, '/*']] },
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          },
        ]),
      },
    });
  });

  test('the access-log destination keeps the default lifecycle rule', () => {
    expect(template.findResources('AWS::S3::Bucket')[logicalId(logs)].Properties.LifecycleConfiguration).toEqual({
      Rules: [defaultRule(90)],
    });
  });
});

describe('SecureBucket with autoDeleteObjects', () => {
  let template: Template;
  let scratch: SecureBucket;

  beforeAll(() => {
    const app = testApp();
    const stack = new Stack(app, 'Scratch');
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const logs = new SecureBucket(stack, 'AccessLogs', { accessLogDestination: true, removalPolicy: RemovalPolicy.RETAIN });
    scratch = new SecureBucket(stack, 'Scratch', {
      encryptionKey: key,
      serverAccessLogsBucket: logs.bucket,
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
    });
    template = Template.fromStack(stack);
  });

  test('autoDeleteObjects with RemovalPolicy.DESTROY creates one auto-delete custom resource, for that bucket only', () => {
    template.resourceCountIs('Custom::S3AutoDeleteObjects', 1);
    template.hasResourceProperties('Custom::S3AutoDeleteObjects', {
      BucketName: { Ref: logicalId(scratch) },
    });
  });

  test('RemovalPolicy.DESTROY deletes the bucket with the stack', () => {
    template.hasResource('AWS::S3::Bucket', {
      Properties: Match.objectLike({ LoggingConfiguration: Match.objectLike({ LogFilePrefix: 'scratch/' }) }),
      DeletionPolicy: 'Delete',
      UpdateReplacePolicy: 'Delete',
    });
  });
});

describe('SecureBucket and cdk-nag', () => {
  test('a data bucket and its access-log destination pass the AwsSolutions, NIST 800-53 R5, HIPAA and PCI DSS checks', () => {
    const app = testApp();
    Validations.of(app).addPlugins(
      new AwsSolutionsChecks(app),
      new NIST80053R5Checks(app),
      new HIPAASecurityChecks(app),
      new PCIDSS321Checks(app),
    );
    const stack = new Stack(app, 'Storage');
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const logs = new SecureBucket(stack, 'AccessLogs', { accessLogDestination: true, removalPolicy: RemovalPolicy.RETAIN });
    new SecureBucket(stack, 'Raw', { encryptionKey: key, serverAccessLogsBucket: logs.bucket, removalPolicy: RemovalPolicy.RETAIN });
    expect(() => app.synth()).not.toThrow();
  });
});

describe('SecureBucket validation', () => {
  let stack: Stack;
  let key: kms.Key;
  let logs: s3.IBucket;

  beforeEach(() => {
    stack = new Stack(testApp(), 'Storage');
    key = new kms.Key(stack, 'Key');
    logs = s3.Bucket.fromBucketName(stack, 'Logs', 'access-logs');
  });

  test('a data bucket without an encryptionKey is rejected', () => {
    expect(
      () => new SecureBucket(stack, 'Raw', { serverAccessLogsBucket: logs, removalPolicy: RemovalPolicy.RETAIN }),
    ).toThrow('SecureBucket Storage/Raw needs an encryptionKey: data buckets use SSE-KMS with a customer key.');
  });

  test('a data bucket without a serverAccessLogsBucket is rejected', () => {
    expect(() => new SecureBucket(stack, 'Raw', { encryptionKey: key, removalPolicy: RemovalPolicy.RETAIN })).toThrow(
      'SecureBucket Storage/Raw needs a serverAccessLogsBucket: every data bucket logs its access.',
    );
  });

  test('an access-log destination that would log its own access is rejected', () => {
    expect(
      () =>
        new SecureBucket(stack, 'AccessLogs', {
          accessLogDestination: true,
          serverAccessLogsBucket: logs,
          removalPolicy: RemovalPolicy.RETAIN,
        }),
    ).toThrow(
      'SecureBucket Storage/AccessLogs is an access-log destination: it does not log its own access, so do not give it a serverAccessLogsBucket.',
    );
  });

  test('an access-log destination with an encryptionKey is rejected', () => {
    expect(
      () =>
        new SecureBucket(stack, 'AccessLogs', {
          accessLogDestination: true,
          encryptionKey: key,
          removalPolicy: RemovalPolicy.RETAIN,
        }),
    ).toThrow(
      'SecureBucket Storage/AccessLogs is an access-log destination: S3 delivers server access logs only to SSE-S3 buckets, so do not give it an encryptionKey.',
    );
  });

  test.each([RemovalPolicy.RETAIN, RemovalPolicy.SNAPSHOT, RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE])(
    'autoDeleteObjects with RemovalPolicy %s instead of DESTROY is rejected',
    (removalPolicy) => {
      expect(
        () =>
          new SecureBucket(stack, 'Raw', {
            encryptionKey: key,
            serverAccessLogsBucket: logs,
            removalPolicy,
            autoDeleteObjects: true,
          }),
      ).toThrow('SecureBucket Storage/Raw: autoDeleteObjects needs RemovalPolicy.DESTROY.');
    },
  );
});

describe('SecureBucket across stacks and with EventBridge', () => {
  let logsStack: Stack;
  let dataStack: Stack;
  let logs: SecureBucket;
  let data: SecureBucket;
  let plain: SecureBucket;

  beforeAll(() => {
    const app = testApp();
    logsStack = new Stack(app, 'Foundation');
    dataStack = new Stack(app, 'Storage');
    logs = new SecureBucket(logsStack, 'AccessLogs', { accessLogDestination: true, removalPolicy: RemovalPolicy.RETAIN });
    const key = new kms.Key(dataStack, 'LakeKey', { enableKeyRotation: true });
    data = new SecureBucket(dataStack, 'Raw', {
      encryptionKey: key,
      serverAccessLogsBucket: logs.bucket,
      removalPolicy: RemovalPolicy.RETAIN,
      eventBridge: true,
    });
    plain = new SecureBucket(dataStack, 'Results', { encryptionKey: key, serverAccessLogsBucket: logs.bucket, removalPolicy: RemovalPolicy.RETAIN });
    app.synth();
  });

  test("a data bucket logging to another stack's destination adds nothing to that stack's bucket policy", () => {
    const statements = Object.values(Template.fromStack(logsStack).findResources('AWS::S3::BucketPolicy')).flatMap(
      (p) => p.Properties.PolicyDocument.Statement,
    );
    expect(statements.map((st: { Sid?: string; Effect: string }) => st.Sid ?? st.Effect)).toEqual(['Deny', 'Deny', 'AllowLogDeliveryForThisAccount']);
    expect(JSON.stringify(Template.fromStack(logsStack).toJSON())).not.toContain('Raw');
  });

  test('and still logs there, under its own prefix, with the CDK warning acknowledged for a reason', () => {
    Template.fromStack(dataStack).hasResourceProperties('AWS::S3::Bucket', {
      LoggingConfiguration: { DestinationBucketName: Match.objectLike({ 'Fn::ImportValue': Match.anyValue() }), LogFilePrefix: 'raw/' },
    });
    const warnings = dataStack.node.findAll().flatMap((c) => c.node.metadata.filter((m) => m.type === 'aws:cdk:warning'));
    expect(warnings).toEqual([]);
  });

  test('eventBridge sends the object events to EventBridge on the bucket itself, without a notifications function', () => {
    const buckets = Template.fromStack(dataStack).findResources('AWS::S3::Bucket');
    expect(buckets[logicalId(data)].Properties.NotificationConfiguration).toEqual({ EventBridgeConfiguration: { EventBridgeEnabled: true } });
    expect(buckets[logicalId(plain)].Properties.NotificationConfiguration).toBeUndefined();
    Template.fromStack(dataStack).resourceCountIs('Custom::S3BucketNotifications', 0);
    Template.fromStack(dataStack).resourceCountIs('AWS::Lambda::Function', 0);
  });
});
