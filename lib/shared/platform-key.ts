import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { deploymentRoleArn } from './deployment-role';

/** The `Sid` of the key-policy statement that limits `kms:CreateGrant` to grants for AWS services. */
export const KEY_GRANTS_FOR_AWS_SERVICES_ONLY = 'GrantsOnlyForAwsServicesExceptKeyAdministrators';

/** Properties of {@link platformKey}. */
export interface PlatformKeyProps {
  /** Alias, starting with `alias/`. */
  readonly alias: string;
  readonly description: string;
  /** What happens to the key when its stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
  /** Waiting period before a deleted key is gone. */
  readonly pendingWindow: Duration;
}

/**
 * A customer key with yearly rotation. Its policy keeps CDK's default (the account administers
 * the key through IAM) and adds one limit: grants, which hand a key's use to another principal
 * outside IAM, may only be created for AWS services acting for a caller
 * (`kms:GrantIsForAWSResource`, as RDS, Redshift, Secrets Manager and Kinesis do), by every
 * principal but the deployment role, which administers the keys.
 */
export function platformKey(scope: Construct, id: string, props: PlatformKeyProps): kms.Key {
  const key = new kms.Key(scope, id, { ...props, enableKeyRotation: true });
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: KEY_GRANTS_FOR_AWS_SERVICES_ONLY,
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['kms:CreateGrant'],
      // In a key policy, "*" means this key and nothing else.
      resources: ['*'],
      conditions: {
        Bool: { 'kms:GrantIsForAWSResource': 'false' },
        ArnNotEquals: { 'aws:PrincipalArn': deploymentRoleArn(key) },
      },
    }),
  );
  return key;
}

/** Lets CloudWatch Logs use the key for the log groups of its account and region, and no other. */
export function allowCloudWatchLogs(key: kms.IKey): void {
  const stack = Stack.of(key);
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'AllowCloudWatchLogsOfThisAccount',
      principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
      actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:GenerateDataKey', 'kms:DescribeKey'],
      // In a key policy, "*" means this key and nothing else.
      resources: ['*'],
      conditions: {
        ArnLike: {
          'kms:EncryptionContext:aws:logs:arn': `arn:${stack.partition}:logs:${stack.region}:${stack.account}:log-group:*`,
        },
      },
    }),
  );
}

/**
 * A key of another stack as a reference by ARN, for the constructs of `scope`'s stack: grants
 * through it go to the grantee's identity policy only (the key's policy already lets the
 * account's IAM policies decide), so the key's stack, and its template, are not changed by
 * the stacks that use it. A key of the same stack is returned as it is.
 */
export function keyReference(scope: Construct, id: string, key: kms.IKey): kms.IKey {
  return Stack.of(key) === Stack.of(scope) ? key : kms.Key.fromKeyArn(scope, id, key.keyArn);
}
