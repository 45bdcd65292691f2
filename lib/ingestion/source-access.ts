import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { databaseClientSecurityGroup } from '../shared/database-client';
import { grantKeyDecrypt } from '../shared/grants';

/**
 * How one ingestion component (the batch extract, the CDC replication) reaches the source
 * database: where it runs, which port of which group admits it, and the credentials it signs
 * in with. Each component brings its own database user.
 */
export interface SourceAccess {
  /** The VPC of the source database. */
  readonly vpc: ec2.IVpc;
  /** Where the component runs (see FoundationStack.dataClientSubnets). */
  readonly subnets: ec2.SubnetSelection;
  /** The database's security group: a rule of the component's stack admits the component's own group on `port`. */
  readonly databaseSecurityGroup: ec2.ISecurityGroup;
  /** Database port. */
  readonly port: number;
  /** Database (schema) name. */
  readonly databaseName: string;
  /** Credentials of the component's database user (with host and port). */
  readonly credentials: secretsmanager.ISecret;
  /** Key of the credentials. */
  readonly credentialsKey: kms.IKey;
}

/**
 * The component's security group (`id`, a direct child of `scope`): the database port and
 * HTTPS only, and the rule on the database's group that admits it (see
 * {@link databaseClientSecurityGroup}).
 */
export function sourceClientSecurityGroup(
  scope: Construct,
  id: string,
  access: SourceAccess,
  what: string,
  selfReferencing: boolean,
): ec2.SecurityGroup {
  return databaseClientSecurityGroup(scope, id, {
    vpc: access.vpc,
    databaseSecurityGroup: access.databaseSecurityGroup,
    port: access.port,
    what,
    selfReferencing,
  });
}

/** Reading one set of source credentials: the secret value and its key, nothing else. */
export function grantSecretRead(grantee: iam.IGrantable, secret: secretsmanager.ISecret, key: kms.IKey): void {
  grantee.grantPrincipal.addToPrincipalPolicy(
    new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [secret.secretArn] }),
  );
  grantKeyDecrypt(grantee, key);
}
