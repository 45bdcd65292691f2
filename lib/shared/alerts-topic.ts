import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

/** Properties of an {@link AlertsTopic}. */
export interface AlertsTopicProps {
  /** Customer-managed key that encrypts messages at rest. CloudWatch alarms get use of it. */
  readonly masterKey: kms.IKey;
  /** Addresses subscribed by e-mail (each must confirm the subscription). */
  readonly emails: readonly string[];
}

/**
 * The one SNS topic that every alarm and failure event of the platform notifies.
 *
 * Encrypted with a customer key; its policy denies any publish that is not over TLS.
 * The key policy lets CloudWatch alarms of this account encrypt messages for the topic;
 * EventBridge rules publish with a role of their own (see `StageAlarms.addEventAlert`),
 * and nothing else is granted here.
 */
export class AlertsTopic extends Construct {
  /** The topic. */
  public readonly topic: sns.Topic;

  constructor(scope: Construct, id: string, props: AlertsTopicProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.topic = new sns.Topic(this, 'Resource', {
      displayName: `${stack.stackName} alerts`,
      masterKey: props.masterKey,
      enforceSSL: true,
    });
    for (const email of props.emails) {
      this.topic.addSubscription(new subscriptions.EmailSubscription(email));
    }
    props.masterKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowAlarmDeliveryToAlertsTopic',
        principals: [
          new iam.ServicePrincipal('cloudwatch.amazonaws.com'),
        ],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        // In a key policy, "*" means this key and nothing else.
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
    );
  }
}
