import { EXAMPLE_ACCOUNT } from '../support/example-account';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { grantPrefixRead } from '../../lib/constructs/grants';
import { LeastPrivilegeRole } from '../../lib/constructs/least-privilege-role';
import { SecureBucket } from '../../lib/constructs/secure-bucket';
import { CDK_CONTEXT } from '../support/platform';

describe('LeastPrivilegeRole', () => {
  let stack: Stack;
  let template: Template;
  let role: LeastPrivilegeRole;
  let key: kms.Key;
  let lake: SecureBucket;
  let topic: sns.Topic;
  let addResult: iam.AddToPrincipalPolicyResult;

  beforeAll(() => {
    stack = new Stack(new App({ context: CDK_CONTEXT, builtinCloudFormationValidation: false }), 'Roles');
    key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const logs = new SecureBucket(stack, 'AccessLogs', { accessLogDestination: true, removalPolicy: RemovalPolicy.RETAIN });
    lake = new SecureBucket(stack, 'Lake', { encryptionKey: key, serverAccessLogsBucket: logs.bucket, removalPolicy: RemovalPolicy.RETAIN });
    topic = new sns.Topic(stack, 'Topic');

    role = new LeastPrivilegeRole(stack, 'Job', {
      assumedBy: new iam.ServicePrincipal('glue.amazonaws.com'),
      description: 'Runs the test job',
    });
    // Every path a grant can take: the helpers, stock L2 grants, addToPolicy and addToPrincipalPolicy.
    grantPrefixRead(role, { bucket: lake.bucket, prefix: 'raw/' });
    lake.bucket.grantPut(role);
    key.grantDecrypt(role);
    topic.grantPublish(role);
    role.addToPolicy(new iam.PolicyStatement({ actions: ['glue:GetTable'], resources: [`arn:aws:glue:eu-west-1:${EXAMPLE_ACCOUNT}:table/db/t`] }));
    addResult = role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['glue:GetDatabase'], resources: [`arn:aws:glue:eu-west-1:${EXAMPLE_ACCOUNT}:database/db`] }),
    );

    // A role that was never granted anything.
    new LeastPrivilegeRole(stack, 'Idle', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description: 'Does nothing' });

    template = Template.fromStack(stack);
  });

  function roleId(r: iam.Role): string {
    return stack.getLogicalId(r.node.defaultChild as iam.CfnRole);
  }

  test('every grant lands in one customer-managed policy attached to the role', () => {
    template.resourceCountIs('AWS::IAM::ManagedPolicy', 1);
    template.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      Description: 'Permissions of Roles/Job',
      Roles: [{ Ref: roleId(role) }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          // grantPrefixRead: the objects under raw/, plus the prefix key and its marker that Glue's s3:// probes.
          Match.objectLike({
            Action: 's3:GetObject',
            Resource: [
              stack.resolve(lake.bucket.arnForObjects('raw')),
              stack.resolve(lake.bucket.arnForObjects('raw/*')),
              stack.resolve(lake.bucket.arnForObjects('raw_$folder$')),
            ],
          }),
          Match.objectLike({ Action: Match.arrayWith(['kms:Decrypt']), Resource: stack.resolve(key.keyArn) }),
          Match.objectLike({ Action: Match.arrayWith(['s3:PutObject']) }),
          Match.objectLike({ Action: 'sns:Publish', Resource: stack.resolve(topic.topicArn) }),
          Match.objectLike({ Action: 'glue:GetTable' }),
          Match.objectLike({ Action: 'glue:GetDatabase' }),
        ]),
      },
    });
  });

  test('addToPrincipalPolicy reports the statement as added, with the managed policy as the dependable', () => {
    expect(addResult.statementAdded).toBe(true);
    expect(addResult.policyDependable).toBe(role.node.findChild('Policy'));
    expect(role.node.findChild('Policy')).toBeInstanceOf(iam.ManagedPolicy);
  });

  test('no inline policy is created, neither as an AWS::IAM::Policy nor on the role', () => {
    template.resourceCountIs('AWS::IAM::Policy', 0);
    template.allResourcesProperties('AWS::IAM::Role', { Policies: Match.absent() });
  });

  test('no managed policy is attached through ManagedPolicyArns (no AWS-managed policy)', () => {
    template.allResourcesProperties('AWS::IAM::Role', { ManagedPolicyArns: Match.absent() });
  });

  test('the role is assumed by the given principal and described by the given description', () => {
    template.hasResourceProperties('AWS::IAM::Role', {
      Description: 'Runs the test job',
      AssumeRolePolicyDocument: {
        Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'glue.amazonaws.com' } }],
      },
    });
  });

  test('a role that was never granted anything has no policy at all', () => {
    const idle = stack.node.findChild('Idle') as LeastPrivilegeRole;
    expect(idle.node.tryFindChild('Policy')).toBeUndefined();
    expect(Object.keys(template.findResources('AWS::IAM::ManagedPolicy', { Properties: { Roles: [{ Ref: roleId(idle) }] } }))).toEqual([]);
  });
});

describe('LeastPrivilegeRole refuses other ways in', () => {
  let stack: Stack;
  let role: LeastPrivilegeRole;

  beforeEach(() => {
    stack = new Stack(new App({ context: CDK_CONTEXT, builtinCloudFormationValidation: false }), 'Roles');
    role = new LeastPrivilegeRole(stack, 'Job', {
      assumedBy: new iam.ServicePrincipal('glue.amazonaws.com'),
      description: 'Runs the test job',
    });
  });

  test('an AWS-managed policy is refused', () => {
    expect(() => role.addManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName('AdministratorAccess'))).toThrow(
      'LeastPrivilegeRole Roles/Job takes no AWS-managed policy',
    );
  });

  test('an inline policy is refused', () => {
    const policy = new iam.Policy(stack, 'Inline', {
      statements: [new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::b/k'] })],
    });
    expect(() => role.attachInlinePolicy(policy)).toThrow('LeastPrivilegeRole Roles/Job takes no inline policy (Roles/Inline)');
  });

  test('a customer-managed policy may still be attached', () => {
    const policy = new iam.ManagedPolicy(stack, 'Extra', {
      statements: [new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::b/k'] })],
    });
    expect(() => role.addManagedPolicy(policy)).not.toThrow();
  });
});
