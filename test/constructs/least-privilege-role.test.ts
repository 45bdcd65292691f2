import { EXAMPLE_ACCOUNT } from '../support/example-account';
import { App, CfnElement, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { IConstruct } from 'constructs';
import { grantPrefixRead } from '../../lib/shared/grants';
import { isUnscopedAction, LeastPrivilegeRole, UNSCOPED_ACTIONS } from '../../lib/shared/least-privilege-role';
import { SecureBucket } from '../../lib/shared/secure-bucket';
import { testApp } from '../support/platform';
import { acknowledgedRules } from '../stacks/template-helpers';

describe('LeastPrivilegeRole', () => {
  let stack: Stack;
  let template: Template;
  let role: LeastPrivilegeRole;
  let key: kms.Key;
  let lake: SecureBucket;
  let topic: sns.Topic;
  let addResult: iam.AddToPrincipalPolicyResult;

  beforeAll(() => {
    stack = new Stack(testApp(), 'Roles');
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
    stack = new Stack(testApp(), 'Roles');
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

describe('LeastPrivilegeRole on Resource "*"', () => {
  /** The AwsSolutions findings of an app, after synthesis (so that aspects have run). */
  function awsSolutionsFindings(app: App): { ruleName: string; severity: string; paths: string[] }[] {
    app.synth();
    return new AwsSolutionsChecks().validateScope(app).violations.map((v) => ({
      ruleName: v.ruleName,
      severity: v.severity ?? '',
      paths: v.violatingResources.map((r) => r.constructPath ?? ''),
    }));
  }

  function newRole(): { app: App; stack: Stack; role: LeastPrivilegeRole } {
    const app = testApp();
    const stack = new Stack(app, 'Roles');
    const role = new LeastPrivilegeRole(stack, 'Job', { assumedBy: new iam.ServicePrincipal('glue.amazonaws.com'), description: 'Runs the test job' });
    // A scoped statement, so that the role has its main policy too.
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['glue:GetTable'], resources: [`arn:aws:glue:eu-west-1:${EXAMPLE_ACCOUNT}:table/db/t`] }));
    return { app, stack, role };
  }

  const policyOf = (template: Template, stack: Stack, policy: IConstruct) =>
    template.toJSON().Resources[stack.getLogicalId(policy.node.defaultChild as CfnElement)];

  test('every action of the allowlist says why it cannot be scoped, and no allowlisted action contains "*"', () => {
    expect(Object.keys(UNSCOPED_ACTIONS).length).toBeGreaterThan(0);
    for (const [action, reason] of Object.entries(UNSCOPED_ACTIONS)) {
      expect(action).toMatch(/^[a-z0-9-]+:[A-Za-z0-9]+$/);
      expect(reason.length).toBeGreaterThanOrEqual(30);
    }
  });

  test('the statements Step Functions logging and tracing add to a state machine role are all allowlisted', () => {
    const { stack } = newRole();
    const role = new LeastPrivilegeRole(stack, 'Workflow', { assumedBy: new iam.ServicePrincipal('states.amazonaws.com'), description: 'Runs a workflow' });
    new sfn.StateMachine(stack, 'Machine', {
      definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, 'Start')),
      role,
      tracingEnabled: true,
      logs: { destination: new logs.LogGroup(stack, 'Logs'), level: sfn.LogLevel.ALL },
    });
    // Everything CDK added lands in the unscoped policy; there is no main policy at all.
    expect(role.node.tryFindChild('Policy')).toBeUndefined();
    expect(role.unscopedActionNames.length).toBeGreaterThanOrEqual(12);
    expect(role.unscopedActionNames.filter((a) => !isUnscopedAction(a))).toEqual([]);
  });

  describe('a "*" statement whose actions are all allowlisted', () => {
    let app: App;
    let stack: Stack;
    let role: LeastPrivilegeRole;
    let template: Template;
    let findings: ReturnType<typeof awsSolutionsFindings>;
    const statement = () =>
      new iam.PolicyStatement({
        actions: ['cloudwatch:PutMetricData', 'xray:PutTraceSegments'],
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': 'Glue' } },
      });
    let added: iam.AddToPrincipalPolicyResult;

    beforeAll(() => {
      ({ app, stack, role } = newRole());
      // Registered before synthesis, as bin/app.ts does: writes the acknowledgements into the template.
      new AwsSolutionsChecks(app, { writeSuppressionsToCloudFormation: true });
      added = role.addToPrincipalPolicy(statement());
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['ec2:DescribeSubnets'], resources: ['*'] }));
      findings = awsSolutionsFindings(app);
      template = Template.fromStack(stack);
    });

    test('lands in <role>/UnscopedPolicy, a second managed policy attached to the role, not in <role>/Policy', () => {
      const unscoped = role.node.findChild('UnscopedPolicy');
      expect(unscoped).toBeInstanceOf(iam.ManagedPolicy);
      expect(role.unscopedPermissions).toBe(unscoped);
      expect(added).toEqual({ statementAdded: true, policyDependable: unscoped });
      const resource = policyOf(template, stack, unscoped);
      expect(resource.Properties.Roles).toEqual([{ Ref: stack.getLogicalId(role.node.defaultChild as CfnElement) }]);
      expect(resource.Properties.PolicyDocument.Statement).toEqual([
        { Effect: 'Allow', Action: ['cloudwatch:PutMetricData', 'xray:PutTraceSegments'], Resource: '*', Condition: { StringEquals: { 'cloudwatch:namespace': 'Glue' } } },
        { Effect: 'Allow', Action: 'ec2:DescribeSubnets', Resource: '*' },
      ]);
      const main = policyOf(template, stack, role.node.findChild('Policy'));
      expect(JSON.stringify(main.Properties.PolicyDocument)).not.toContain('"*"');
    });

    test('cdk-nag (AwsSolutions) reports nothing', () => {
      expect(findings).toEqual([]);
    });

    test('the acknowledgement of IAM5[Resource::*] is on the unscoped policy alone and names exactly its actions', () => {
      const unscoped = role.node.findChild('UnscopedPolicy');
      const reason = acknowledgedRules(unscoped)['AwsSolutions-IAM5[Resource::*]'];
      expect(reason).toContain('cloudwatch:PutMetricData, ec2:DescribeSubnets, xray:PutTraceSegments.');
      expect(Object.keys(acknowledgedRules(role))).toEqual([]);
      expect(Object.keys(acknowledgedRules(role.node.findChild('Policy')))).toEqual([]);
    });

    test('the template records the acknowledgement on the unscoped policy (Metadata.cdk_nag), never on the role', () => {
      const suppressed = (resource: { Metadata?: { cdk_nag?: { rules_to_suppress: { id: string }[] } } }) =>
        (resource.Metadata?.cdk_nag?.rules_to_suppress ?? []).map((r) => r.id);
      expect(suppressed(policyOf(template, stack, role.node.findChild('UnscopedPolicy')))).toEqual(['AwsSolutions-IAM5[Resource::*]']);
      expect(suppressed(template.toJSON().Resources[stack.getLogicalId(role.node.defaultChild as CfnElement)])).toEqual([]);
      expect(suppressed(policyOf(template, stack, role.node.findChild('Policy')))).toEqual([]);
    });
  });

  describe.each([
    ['an action outside the allowlist', new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['*'] })],
    ['allowlisted actions mixed with one outside it', new iam.PolicyStatement({ actions: ['cloudwatch:PutMetricData', 's3:GetObject'], resources: ['*'] })],
  ])('a "*" statement with %s', (_label, statement) => {
    let role: LeastPrivilegeRole;
    let findings: ReturnType<typeof awsSolutionsFindings>;
    let template: Template;
    let stack: Stack;

    beforeAll(() => {
      let app: App;
      ({ app, stack, role } = newRole());
      role.addToPrincipalPolicy(statement);
      findings = awsSolutionsFindings(app);
      template = Template.fromStack(stack);
    });

    test('stays in the main policy <role>/Policy; no unscoped policy is created', () => {
      expect(role.node.tryFindChild('UnscopedPolicy')).toBeUndefined();
      const main = policyOf(template, stack, role.node.findChild('Policy'));
      expect(main.Properties.PolicyDocument.Statement).toEqual(
        expect.arrayContaining([expect.objectContaining({ Action: statement.actions.length === 1 ? statement.actions[0] : [...statement.actions].sort(), Resource: '*' })]),
      );
    });

    test('cdk-nag reports AwsSolutions-IAM5[Resource::*] as an error on that policy, unacknowledged', () => {
      expect(findings).toEqual([
        { ruleName: 'AwsSolutions-IAM5[Resource::*]', severity: 'error', paths: [`${role.node.path}/Policy/Resource`] },
      ]);
    });
  });

  test("a role's own unscopedActions go to its unscoped policy; on every other role the same action still fails the packs", () => {
    const app = testApp();
    const stack = new Stack(app, 'Roles');
    const guard = new LeastPrivilegeRole(stack, 'Guard', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Guards the lake',
      unscopedActions: { 'lakeformation:ListPermissions': 'Lists grants; Lake Formation offers no resource-level permission.' },
    });
    const other = new LeastPrivilegeRole(stack, 'Other', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description: 'Any other role' });
    for (const role of [guard, other]) {
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['lakeformation:ListPermissions'], resources: ['*'] }));
    }
    expect([guard.unscopedActionNames, other.unscopedActionNames]).toEqual([['lakeformation:ListPermissions'], []]);
    expect(awsSolutionsFindings(app)).toEqual([
      { ruleName: 'AwsSolutions-IAM5[Resource::*]', severity: 'error', paths: ['Roles/Other/Policy/Resource'] },
    ]);
  });

  test('unscopedActions take exact actions with a reason', () => {
    const stack = new Stack(testApp(), 'Roles');
    const role = (actions: Record<string, string>) => () =>
      new LeastPrivilegeRole(stack, `R${Object.keys(actions).length}${Math.random()}`.replace('.', ''), {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: 'x',
        unscopedActions: actions,
      });
    expect(role({ 'lakeformation:*': 'Everything of Lake Formation, which is never allowed.' })).toThrow(/needs an exact action name and a reason/);
    expect(role({ 'lakeformation:ListPermissions': 'short' })).toThrow(/needs an exact action name and a reason/);
  });

  test('a Deny on "*" stays in the main policy (it grants nothing, and cdk-nag does not report it)', () => {
    const { app, role } = newRole();
    role.addToPrincipalPolicy(new iam.PolicyStatement({ effect: iam.Effect.DENY, actions: ['cloudwatch:PutMetricData'], resources: ['*'] }));
    expect(role.node.tryFindChild('UnscopedPolicy')).toBeUndefined();
    expect(awsSolutionsFindings(app)).toEqual([]);
  });
});
