import * as path from 'path';
import { CustomResource, Duration, RemovalPolicy, Stack, StackProps, Tags } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { EnvironmentConfig } from '../config';
import { acknowledgeWildcardResource } from '../shared/grants';
import { LakeFormationAdmins, lakeFormationGuardFunctionName, projectDatabasePrefix } from '../lake/lake-formation';
import { HANDLER_BUNDLING, HANDLER_RUNTIME } from '../shared/handler-bundling';
import { LeastPrivilegeRole } from '../shared/least-privilege-role';
import { acknowledge, COMPLIANCE_PACKS } from '../shared/nag';
import { allowCloudWatchLogs, platformKey } from '../shared/platform-key';

const GUARD_HANDLER = path.join(__dirname, 'lake-formation-guard-handler.ts');

/**
 * What the guard function calls in Lake Formation. None has a resource-level permission, and two
 * manage permissions: they are allowed on "*" for the guard's role only, never app-wide.
 */
const GUARD_UNSCOPED: Readonly<Record<string, string>> = {
  'lakeformation:GetDataLakeSettings': 'Reads the account-wide data lake settings, which have no resource ARN.',
  'lakeformation:PutDataLakeSettings': 'Writes the account-wide data lake settings (the defaults, only when asked for), which have no resource ARN.',
  'lakeformation:ListPermissions': 'Lists grants; Lake Formation offers no resource-level permission for it (the handler filters to the app databases).',
  'lakeformation:BatchRevokePermissions': 'Revokes IAM_ALLOWED_PRINCIPALS grants; no resource-level permission exists (the handler refuses databases outside the app prefix).',
};
export const GUARD_LAKE_FORMATION_ACTIONS = Object.keys(GUARD_UNSCOPED);

/** What the guard function calls in Glue, on the app's databases only. */
export const GUARD_GLUE_ACTIONS = ['glue:GetDatabase', 'glue:UpdateDatabase'] as const;

/** The name of the account stack: one per app, account and region, whatever the environment. */
export function accountStackName(config: EnvironmentConfig): string {
  return `${config.appName}-account`;
}

/** Properties of the {@link AccountStack}. */
export interface AccountStackProps extends StackProps {
  /** The config of the environment it is synthesized with (account, region, governance, cdc, logs). */
  readonly config: EnvironmentConfig;
}

/**
 * What is one per AWS account and region, deployed once (`-c accountBaseline=true`) before the
 * first environment, never by an environment's stacks:
 *
 * - the Lake Formation administrators the environments need: the deployment role (which creates
 *   the grants) and `governance.lakeAdminArns`, added with `MutationType: APPEND` (every
 *   administrator the account already has stays one) and retained on deletion;
 * - the guard function, a Lake Formation administrator that serves the environments'
 *   `Custom::LakeFormationOnly` (revokes `IAM_ALLOWED_PRINCIPALS` on the app's own databases
 *   and tables, and refuses every other database);
 * - with `governance.lakeFormationOnlyByDefault`, the account's defaults for new databases and
 *   tables switched to Lake Formation only (read, changed, written back with every
 *   administrator kept; left as they are when the stack is deleted);
 * - with `cdc.createDmsVpcRole`, the `dms-vpc-role` DMS needs by that exact name.
 */
export class AccountStack extends Stack {
  /** The administrators this stack adds to the account's Lake Formation settings. */
  public readonly lakeFormationAdmins: LakeFormationAdmins;
  /** The guard function (name: {@link lakeFormationGuardFunctionName}). */
  public readonly guard: nodejs.NodejsFunction;
  /** The account's defaults change, with `governance.lakeFormationOnlyByDefault`. */
  public readonly accountDefaults?: CustomResource;
  /** `dms-vpc-role`, with `cdc.createDmsVpcRole`. */
  public readonly dmsVpcRole?: iam.Role;

  constructor(scope: Construct, props: AccountStackProps) {
    const { config, ...stackProps } = props;
    super(scope, 'Account', {
      stackName: accountStackName(config),
      description: `${config.appName}: what is one per AWS account and region (Lake Formation administrators and guard, account defaults, dms-vpc-role)`,
      env: { account: config.account, region: config.region },
      terminationProtection: true,
      ...stackProps,
    });
    Tags.of(this).add('app', config.appName);
    Tags.of(this).add('stage', 'Account');

    const key = platformKey(this, 'LogKey', {
      alias: `alias/${config.appName.toLowerCase()}-account/logs`,
      description: `${this.stackName}: the guard function's CloudWatch logs`,
      removalPolicy: RemovalPolicy.RETAIN,
      pendingWindow: Duration.days(30),
    });
    allowCloudWatchLogs(key);
    const logGroup = new logs.LogGroup(this, 'GuardLogs', {
      encryptionKey: key,
      retention: config.dataProtection.logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const role = new LeastPrivilegeRole(this, 'GuardRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Lake Formation guard of ${config.appName}: revokes IAM_ALLOWED_PRINCIPALS on the app's own databases and tables, and sets the account's defaults when asked`,
      unscopedActions: GUARD_UNSCOPED,
    });
    // No resource-level permissions exist for these; the function itself refuses every database
    // outside the app's prefix, and the Glue statement below can only reach those.
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: [...GUARD_LAKE_FORMATION_ACTIONS], resources: ['*'] }));
    const prefix = projectDatabasePrefix(config.appName);
    const databases = this.formatArn({ service: 'glue', resource: 'database', resourceName: `${prefix}*` });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [...GUARD_GLUE_ACTIONS],
        resources: [this.formatArn({ service: 'glue', resource: 'catalog' }), databases],
      }),
    );
    acknowledgeWildcardResource(
      role,
      databases,
      `The databases of ${config.appName} in every environment of the account, by their common name prefix "${prefix}": the guard serves each environment's stacks.`,
    );
    logGroup.grantWrite(role);

    this.guard = new nodejs.NodejsFunction(this, 'Guard', {
      functionName: lakeFormationGuardFunctionName(config.appName),
      description: `Lake Formation guard of ${config.appName} (custom resources Custom::LakeFormationOnly and Custom::LakeFormationAccountDefaults)`,
      entry: GUARD_HANDLER,
      handler: 'onEvent',
      runtime: HANDLER_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.minutes(5),
      // One change at a time: Lake Formation rejects concurrent changes of its permissions.
      reservedConcurrentExecutions: 1,
      environment: { DATABASE_PREFIX: prefix },
      role,
      logGroup,
      bundling: HANDLER_BUNDLING,
    });
    this.guard.node.addDependency(role);
    acknowledge(
      this.guard,
      COMPLIANCE_PACKS,
      'LambdaInsideVPC',
      'The function calls only the Lake Formation and Glue control-plane APIs during deployments and reaches no data store; the account stack has no VPC, and those APIs need none.',
    );
    acknowledge(
      this.guard,
      COMPLIANCE_PACKS,
      'LambdaDLQ',
      'The function serves CloudFormation custom resources: CloudFormation waits for its response and fails the deployment on an error, so there is no event to park in a dead-letter queue.',
    );

    this.lakeFormationAdmins = new LakeFormationAdmins(this, 'LakeFormationAdmins', {
      admins: [role.roleArn, ...config.governance.lakeAdminArns],
    });

    if (config.governance.lakeFormationOnlyByDefault) {
      this.accountDefaults = new CustomResource(this, 'LakeFormationAccountDefaults', {
        resourceType: 'Custom::LakeFormationAccountDefaults',
        serviceToken: this.guard.functionArn,
        properties: { CatalogId: this.account },
      });
      // The guard writes the settings only once it is an administrator.
      this.accountDefaults.node.addDependency(this.lakeFormationAdmins);
    }

    if (config.cdc.createDmsVpcRole) {
      // DMS looks this role up by its fixed name to manage the network interfaces of replications.
      this.dmsVpcRole = new iam.Role(this, 'DmsVpcRole', {
        roleName: 'dms-vpc-role',
        assumedBy: new iam.ServicePrincipal('dms.amazonaws.com'),
        description: 'Account-wide role DMS uses to place replications in a VPC',
        managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonDMSVPCManagementRole')],
      });
      acknowledge(
        this.dmsVpcRole,
        ['AwsSolutions'],
        'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonDMSVPCManagementRole]',
        'dms-vpc-role must carry the AWS-managed AmazonDMSVPCManagementRole: DMS itself requires exactly this role name and policy to manage replication network interfaces.',
      );
    }
  }
}
