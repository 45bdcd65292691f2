import * as path from 'path';
import { CustomResource, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { databaseClientSecurityGroup } from '../shared/database-client';
import { grantKeyDecrypt } from '../shared/grants';
import { HANDLER_BUNDLING, HANDLER_RUNTIME } from '../shared/handler-bundling';
import { LeastPrivilegeRole } from '../shared/least-privilege-role';
import { acknowledge, COMPLIANCE_PACKS } from '../shared/nag';
import { migrationsFingerprint } from './migrations';

const HANDLER = path.join(__dirname, 'handler.ts');

/** A least-privilege database user the setup creates and keeps equal to its secret. */
export interface ServiceUser {
  /** Its credentials (`username`, `password`). */
  readonly secret: secretsmanager.ISecret;
  /** `extract`: SELECT on the database. `replication`: SELECT and binlog replication (DMS). */
  readonly role: 'extract' | 'replication';
}

/** Properties of {@link SourceDatabaseSetup}. */
export interface SourceDatabaseSetupProps {
  readonly vpc: ec2.IVpc;
  /** Subnets with a route to Secrets Manager (NAT or endpoint) and to the database. */
  readonly subnets: ec2.SubnetSelection;
  /** The instance whose endpoint the handler connects to. */
  readonly database: rds.IDatabaseInstance;
  readonly databaseSecurityGroup: ec2.ISecurityGroup;
  readonly port: number;
  readonly databaseName: string;
  readonly secret: secretsmanager.ISecret;
  /** Key of the secret. */
  readonly secretKey: kms.IKey;
  readonly binlogRetentionHours: number;
  readonly loadSampleData: boolean;
  /** Service users to create with exactly their grants (their secrets share `secretKey`). */
  readonly serviceUsers: readonly ServiceUser[];
  /** Key and retention of the functions' log groups. */
  readonly logKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * Keeps the source database in the shape the repository declares, on every deploy: applies
 * the versioned migrations (`lib/source/migrations`), sets the binlog retention that CDC
 * needs, creates the service users with exactly their grants, and (dev only) loads generated
 * sample rows into empty tables. It never drops or
 * deletes anything, not even when the stack is deleted.
 *
 * The function runs inside the VPC next to the database, bundled by local esbuild.
 */
export class SourceDatabaseSetup extends Construct {
  public readonly function: nodejs.NodejsFunction;
  public readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: SourceDatabaseSetupProps) {
    super(scope, id);
    const securityGroup = databaseClientSecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      databaseSecurityGroup: props.databaseSecurityGroup,
      port: props.port,
      what: 'Source schema setup function',
    });

    const role = new LeastPrivilegeRole(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Source schema setup: reads the admin and service-user secrets, runs in the VPC, logs',
    });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['secretsmanager:GetSecretValue'],
        resources: [props.secret.secretArn, ...props.serviceUsers.map((u) => u.secret.secretArn)],
      }),
    );
    grantKeyDecrypt(role, props.secretKey);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        // The network-interface actions of AWSLambdaVPCAccessExecutionRole: Lambda checks them
        // on "*" when it attaches the function to the VPC. All are in UNSCOPED_ACTIONS, so the
        // statement lands in the role's unscoped policy, which alone acknowledges the "*".
        actions: [
          'ec2:CreateNetworkInterface',
          'ec2:DescribeNetworkInterfaces',
          'ec2:DeleteNetworkInterface',
          'ec2:AssignPrivateIpAddresses',
          'ec2:UnassignPrivateIpAddresses',
        ],
        resources: ['*'],
      }),
    );

    const logGroup = this.logGroup('FunctionLogs', props);
    // A function with its own role gets no AWSLambdaBasicExecutionRole: grant writing its log group.
    logGroup.grantWrite(role);
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      description: 'Applies the source schema migrations, binlog retention and (dev) sample data',
      entry: HANDLER,
      handler: 'onEvent',
      runtime: HANDLER_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 512,
      timeout: Duration.minutes(10),
      reservedConcurrentExecutions: 1,
      role,
      logGroup,
      vpc: props.vpc,
      vpcSubnets: props.subnets,
      securityGroups: [securityGroup],
      bundling: HANDLER_BUNDLING,
    });
    acknowledge(
      this.function,
      COMPLIANCE_PACKS,
      'LambdaDLQ',
      'The function is invoked synchronously by the CloudFormation custom-resource provider; a failure fails the deployment, so there is no event to park in a dead-letter queue.',
    );

    const providerRole = new LeastPrivilegeRole(this, 'ProviderRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Custom-resource provider of the source schema setup: invokes the setup function',
    });
    const providerLogGroup = this.logGroup('ProviderLogs', props);
    providerLogGroup.grantWrite(providerRole);
    const provider = new cr.Provider(this, 'Provider', {
      onEventHandler: this.function,
      frameworkOnEventRole: providerRole,
      logGroup: providerLogGroup,
    });
    acknowledge(
      providerRole,
      ['AwsSolutions'],
      `IAM5[Resource::<${Stack.of(this).getLogicalId(this.function.node.defaultChild as lambda.CfnFunction)}.Arn>:*]`,
      'The provider may invoke the setup function and its versions (ARN:*), which is how the CDK provider framework addresses it; no other function.',
    );
    const framework = provider.node.findChild('framework-onEvent');
    acknowledge(
      framework,
      COMPLIANCE_PACKS,
      'LambdaInsideVPC',
      'The CDK provider framework function only relays CloudFormation events to the setup function and answers CloudFormation; it reaches no data store, so it runs outside the VPC.',
    );
    acknowledge(
      framework,
      COMPLIANCE_PACKS,
      'LambdaDLQ',
      'The provider framework is invoked synchronously by CloudFormation, which fails the deployment on error; there is no event to park in a dead-letter queue.',
    );
    acknowledge(
      framework,
      COMPLIANCE_PACKS,
      'LambdaConcurrency',
      'The provider framework runs once per deployment of this stack; CloudFormation serializes the calls, so reserved concurrency would only block other functions.',
    );

    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::SourceDatabaseSetup',
      properties: {
        SecretArn: props.secret.secretArn,
        Host: props.database.dbInstanceEndpointAddress,
        Port: String(props.port),
        Database: props.databaseName,
        BinlogRetentionHours: String(props.binlogRetentionHours),
        LoadSampleData: String(props.loadSampleData),
        ServiceUsers: Stack.of(this).toJsonString(
          props.serviceUsers.map((u) => ({ SecretArn: u.secret.secretArn, Role: u.role })),
        ),
        // A new or changed migration changes this, so CloudFormation sends an Update that runs it.
        MigrationsFingerprint: migrationsFingerprint(),
      },
    });
    // The database must admit the function (the ingress rule lives on the database's group)
    // before the setup runs.
    this.resource.node.addDependency(securityGroup, props.databaseSecurityGroup);
  }

  private logGroup(id: string, props: SourceDatabaseSetupProps): logs.LogGroup {
    return new logs.LogGroup(this, id, {
      encryptionKey: props.logKey,
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
  }
}

