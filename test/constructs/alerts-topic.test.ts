import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import { AlertsTopic } from '../../lib/shared/alerts-topic';
import { testApp } from '../support/platform';

function newStack(id: string): Stack {
  return new Stack(testApp(), id);
}

interface KeyPolicyStatement {
  readonly Sid?: string;
  readonly Action: string | string[];
  readonly Principal: { Service?: string | string[]; AWS?: unknown };
  readonly Condition?: unknown;
  readonly Resource: unknown;
}

describe('AlertsTopic', () => {
  let stack: Stack;
  let template: Template;
  let key: kms.Key;
  let alerts: AlertsTopic;

  beforeAll(() => {
    stack = newStack('Foundation');
    key = new kms.Key(stack, 'AlertsKey', { enableKeyRotation: true });
    alerts = new AlertsTopic(stack, 'Alerts', { masterKey: key, emails: ['oncall@example.com', 'data-team@example.com'] });
    template = Template.fromStack(stack);
  });

  test('the topic is encrypted with the given customer key', () => {
    template.resourceCountIs('AWS::SNS::Topic', 1);
    template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: stack.resolve(key.keyArn),
      DisplayName: 'Foundation alerts',
    });
  });

  test('the topic policy denies every publish that is not over TLS', () => {
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [stack.resolve(alerts.topic.topicArn)],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Principal: '*',
            Action: 'sns:Publish',
            Resource: stack.resolve(alerts.topic.topicArn),
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  test('the topic policy allows nothing by itself', () => {
    const policies = Object.values(template.findResources('AWS::SNS::TopicPolicy'));
    expect(policies).toHaveLength(1);
    const allows = (policies[0].Properties.PolicyDocument.Statement as Array<{ Effect: string }>).filter((s) => s.Effect === 'Allow');
    expect(allows).toEqual([]);
  });

  test('each e-mail address gets one e-mail subscription to the topic', () => {
    template.resourceCountIs('AWS::SNS::Subscription', 2);
    for (const email of ['oncall@example.com', 'data-team@example.com']) {
      template.hasResourceProperties('AWS::SNS::Subscription', {
        Protocol: 'email',
        Endpoint: email,
        TopicArn: stack.resolve(alerts.topic.topicArn),
      });
    }
  });

  test('the key policy gives CloudWatch alarms only kms:Decrypt and kms:GenerateDataKey, limited to this account', () => {
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          {
            Sid: 'AllowAlarmDeliveryToAlertsTopic',
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
            Resource: '*',
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          },
        ]),
      },
    });
  });

  test('no other service principal is granted use of the key', () => {
    const keyId = stack.getLogicalId(key.node.defaultChild as kms.CfnKey);
    const statements: KeyPolicyStatement[] = template.findResources('AWS::KMS::Key')[keyId].Properties.KeyPolicy.Statement;
    const toServices = statements.filter((s) => s.Principal.Service !== undefined);
    expect(toServices.map((s) => s.Sid)).toEqual(['AllowAlarmDeliveryToAlertsTopic']);
  });
});

describe('AlertsTopic without e-mail addresses', () => {
  test('no subscription is created when the address list is empty', () => {
    const stack = newStack('Foundation');
    new AlertsTopic(stack, 'Alerts', { masterKey: new kms.Key(stack, 'Key'), emails: [] });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::SNS::Topic', 1);
    template.resourceCountIs('AWS::SNS::Subscription', 0);
  });
});
