import { App, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { grantKeyDecrypt, grantKeyEncryptDecrypt, grantPrefixRead, grantPrefixWrite, grantPublish } from '../../lib/shared/grants';
import { LeastPrivilegeRole } from '../../lib/shared/least-privilege-role';
import { SecureBucket } from '../../lib/shared/secure-bucket';
import { testApp } from '../support/platform';

function newRole(scope: Stack, id: string): LeastPrivilegeRole {
  return new LeastPrivilegeRole(scope, id, {
    assumedBy: new iam.ServicePrincipal('glue.amazonaws.com'),
    description: `Test role ${id}`,
  });
}

/** A KMS-encrypted data bucket and its access-log destination. */
function dataBucket(stack: Stack, key: kms.IKey): SecureBucket {
  const logs = new SecureBucket(stack, 'AccessLogs', { accessLogDestination: true, removalPolicy: RemovalPolicy.RETAIN });
  return new SecureBucket(stack, 'Lake', { encryptionKey: key, serverAccessLogsBucket: logs.bucket, removalPolicy: RemovalPolicy.RETAIN });
}

/** The statements of the managed policy of a LeastPrivilegeRole. */
function statementsOf(template: Template, role: LeastPrivilegeRole): Array<Record<string, unknown>> {
  const roleId = Stack.of(role).getLogicalId(role.node.defaultChild as iam.CfnRole);
  const policies = Object.values(template.findResources('AWS::IAM::ManagedPolicy', { Properties: { Roles: [{ Ref: roleId }] } }));
  expect(policies).toHaveLength(1);
  return policies[0].Properties.PolicyDocument.Statement;
}

/** The message of the error `app.synth()` throws, or undefined. */
function synthError(app: App): string | undefined {
  try {
    app.synth();
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

describe('grant helpers', () => {
  let stack: Stack;
  let template: Template;
  let key: kms.Key;
  let topicKey: kms.Key;
  let lake: SecureBucket;
  let topic: sns.Topic;
  let reader: LeastPrivilegeRole;
  let wholeBucketReader: LeastPrivilegeRole;
  let appender: LeastPrivilegeRole;
  let overwriter: LeastPrivilegeRole;
  let publisher: LeastPrivilegeRole;
  let keyUser: LeastPrivilegeRole;

  beforeAll(() => {
    stack = new Stack(testApp(), 'Grants');
    key = new kms.Key(stack, 'LakeKey', { enableKeyRotation: true });
    topicKey = new kms.Key(stack, 'TopicKey', { enableKeyRotation: true });
    lake = dataBucket(stack, key);
    topic = new sns.Topic(stack, 'Alerts', { masterKey: topicKey });

    reader = newRole(stack, 'Reader');
    grantPrefixRead(reader, { bucket: lake.bucket, prefix: 'raw/clickstream/' });
    wholeBucketReader = newRole(stack, 'WholeBucketReader');
    grantPrefixRead(wholeBucketReader, { bucket: lake.bucket });
    appender = newRole(stack, 'Appender');
    grantPrefixWrite(appender, { bucket: lake.bucket, prefix: 'curated/' });
    overwriter = newRole(stack, 'Overwriter');
    grantPrefixWrite(overwriter, { bucket: lake.bucket, prefix: 'curated/' }, true);
    publisher = newRole(stack, 'Publisher');
    grantPublish(publisher, topic);
    keyUser = newRole(stack, 'KeyUser');
    grantKeyEncryptDecrypt(keyUser, key);
    grantKeyDecrypt(keyUser, topicKey);

    template = Template.fromStack(stack);
  });

  test('grantPrefixRead gives exactly s3:GetObject on the prefix objects, the prefix key and its folder marker, a prefix-bound s3:ListBucket and kms:Decrypt on the bucket key', () => {
    expect(statementsOf(template, reader)).toEqual([
      {
        Effect: 'Allow',
        Action: 's3:GetObject',
        // Glue's s3:// file system probes the prefix's own key and its _$folder$ marker (docs/twin.md).
        Resource: [
          stack.resolve(lake.bucket.arnForObjects('raw/clickstream')),
          stack.resolve(lake.bucket.arnForObjects('raw/clickstream/*')),
          stack.resolve(lake.bucket.arnForObjects('raw/clickstream_$folder$')),
        ],
      },
      {
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: stack.resolve(lake.bucket.bucketArn),
        Condition: { StringLike: { 's3:prefix': ['raw/clickstream/*'] } },
      },
      {
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: stack.resolve(key.keyArn),
      },
    ]);
  });

  test('grantPrefixRead without a prefix covers the whole bucket, and lists it without a condition', () => {
    expect(statementsOf(template, wholeBucketReader)).toEqual([
      { Effect: 'Allow', Action: 's3:GetObject', Resource: stack.resolve(lake.bucket.arnForObjects('*')) },
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: stack.resolve(lake.bucket.bucketArn) },
      { Effect: 'Allow', Action: 'kms:Decrypt', Resource: stack.resolve(key.keyArn) },
    ]);
  });

  test('grantPrefixWrite gives s3:PutObject and s3:AbortMultipartUpload but not s3:DeleteObject, with kms:Encrypt, GenerateDataKey and Decrypt', () => {
    expect(statementsOf(template, appender)).toEqual([
      {
        Effect: 'Allow',
        Action: ['s3:AbortMultipartUpload', 's3:PutObject'],
        Resource: stack.resolve(lake.bucket.arnForObjects('curated/*')),
      },
      { Effect: 'Allow', Action: 's3:PutObject', Resource: stack.resolve(lake.bucket.arnForObjects('curated_$folder$')) },
      {
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: stack.resolve(lake.bucket.bucketArn),
        Condition: { StringLike: { 's3:prefix': ['curated/*'] } },
      },
      {
        Effect: 'Allow',
        Action: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'],
        Resource: stack.resolve(key.keyArn),
      },
    ]);
  });

  test('grantPrefixWrite with overwrite adds s3:DeleteObject on the same prefix', () => {
    expect(statementsOf(template, overwriter)).toEqual([
      {
        Effect: 'Allow',
        Action: ['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:PutObject'],
        Resource: stack.resolve(lake.bucket.arnForObjects('curated/*')),
      },
      { Effect: 'Allow', Action: 's3:PutObject', Resource: stack.resolve(lake.bucket.arnForObjects('curated_$folder$')) },
      {
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: stack.resolve(lake.bucket.bucketArn),
        Condition: { StringLike: { 's3:prefix': ['curated/*'] } },
      },
      {
        Effect: 'Allow',
        Action: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'],
        Resource: stack.resolve(key.keyArn),
      },
    ]);
  });

  test('grantPublish gives sns:Publish on the topic and kms:GenerateDataKey and kms:Decrypt on its key', () => {
    expect(statementsOf(template, publisher)).toEqual([
      { Effect: 'Allow', Action: 'sns:Publish', Resource: stack.resolve(topic.topicArn) },
      { Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: stack.resolve(topicKey.keyArn) },
    ]);
  });

  test('grantKeyEncryptDecrypt and grantKeyDecrypt give their exact KMS actions on one key each', () => {
    expect(statementsOf(template, keyUser)).toEqual([
      { Effect: 'Allow', Action: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'], Resource: stack.resolve(key.keyArn) },
      { Effect: 'Allow', Action: 'kms:Decrypt', Resource: stack.resolve(topicKey.keyArn) },
    ]);
  });

  test('no action granted by any helper contains a wildcard', () => {
    const actions = Object.values(template.findResources('AWS::IAM::ManagedPolicy')).flatMap((policy) =>
      (policy.Properties.PolicyDocument.Statement as Array<{ Action: string | string[] }>).flatMap((s) => [s.Action].flat()),
    );
    expect(actions.length).toBeGreaterThan(0);
    expect(actions.filter((action) => action.includes('*'))).toEqual([]);
  });

  test('the helpers never grant anything through an inline policy', () => {
    template.resourceCountIs('AWS::IAM::Policy', 0);
  });

  test.each(['/x/', 'x', 'a/*/', 'raw/*', '*'])('the prefix "%s" is rejected by the read and write helpers', (prefix) => {
    const scratch = new Stack(testApp(), 'Scratch');
    const bucket = dataBucket(scratch, new kms.Key(scratch, 'Key')).bucket;
    const role = newRole(scratch, 'Role');
    const message = `Invalid S3 prefix "${prefix}": use a key prefix without "*" that ends with "/", such as "clickstream/".`;
    expect(() => grantPrefixRead(role, { bucket, prefix })).toThrow(message);
    expect(() => grantPrefixWrite(role, { bucket, prefix })).toThrow(message);
    expect(() => grantPrefixWrite(role, { bucket, prefix }, true)).toThrow(message);
  });
});

describe('grant helpers and the AwsSolutions-IAM5 acknowledgement', () => {
  /** An app with AwsSolutions checks, a lake bucket and a role; `grant` gives the role its permissions. */
  function appWithRole(grant: (role: LeastPrivilegeRole, lake: SecureBucket) => void): App {
    const app = testApp();
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    const stack = new Stack(app, 'Lake');
    const lake = dataBucket(stack, new kms.Key(stack, 'LakeKey', { enableKeyRotation: true }));
    grant(newRole(stack, 'Job'), lake);
    return app;
  }

  test('a role that reads and writes prefixes through the helpers passes the AwsSolutions checks', () => {
    const app = appWithRole((role, lake) => {
      grantPrefixRead(role, { bucket: lake.bucket, prefix: 'x/' });
      grantPrefixWrite(role, { bucket: lake.bucket, prefix: 'y/' }, true);
    });
    expect(synthError(app)).toBeUndefined();
  });

  test('the same object pattern granted by hand, without the helper, fails synth with AwsSolutions-IAM5', () => {
    const app = appWithRole((role, lake) => {
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [lake.bucket.arnForObjects('x/*')] }));
    });
    expect(() => app.synth()).toThrow('AwsSolutions-IAM5');
  });

  test('the acknowledgement covers only the object pattern the helper granted, not another wildcard on the same role', () => {
    const app = appWithRole((role, lake) => {
      grantPrefixRead(role, { bucket: lake.bucket, prefix: 'x/' });
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [lake.bucket.arnForObjects('y/*')] }));
    });
    const message = synthError(app);
    expect(message).toMatch(/AwsSolutions-IAM5\[Resource::<Lake[0-9A-F]{8}\.Arn>\/y\/\*\]/);
    expect(message).not.toMatch(/\/x\/\*\]/);
  });

  test('the acknowledgement also matches when the bucket lives in another stack than the role', () => {
    const app = testApp();
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    const storage = new Stack(app, 'Storage');
    const lake = dataBucket(storage, new kms.Key(storage, 'LakeKey', { enableKeyRotation: true }));
    const consumer = new Stack(app, 'Consumer');
    const role = newRole(consumer, 'Job');
    grantPrefixRead(role, { bucket: lake.bucket, prefix: 'x/' });
    grantPrefixWrite(role, { bucket: lake.bucket, prefix: 'y/' });
    expect(synthError(app)).toBeUndefined();
    Template.fromStack(consumer).hasResourceProperties('AWS::IAM::ManagedPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 's3:GetObject',
            Resource: Match.arrayWith([{ 'Fn::Join': ['', [{ 'Fn::ImportValue': Match.anyValue() }, '/x/*']] }]),
          }),
        ]),
      },
    });
  });
});
