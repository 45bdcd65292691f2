import { Aspects, IAspect } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct, IConstruct } from 'constructs';
import { acknowledge } from './nag';

/**
 * The actions a statement on Resource "*" may hold, each with the reason it cannot be scoped:
 * AWS offers no resource-level permission for it (the Service Authorization Reference lists no
 * resource type), or the AWS service acting for the role checks it on "*" (its own managed
 * policy grants it there). Nothing else is ever granted on "*".
 *
 * A statement on "*" whose actions are all listed here goes to the role's
 * `<role>/UnscopedPolicy`, which alone acknowledges the cdk-nag finding
 * `AwsSolutions-IAM5[Resource::*]`, naming the actions it holds. A statement on "*" with any
 * other action stays in `<role>/Policy`, where that finding is not acknowledged: the packs fail.
 * Add an action here only with the reason it has no narrower resource.
 */
export const UNSCOPED_ACTIONS: Readonly<Record<string, string>> = {
  // CloudWatch metrics
  'cloudwatch:PutMetricData': 'Metrics have no resource ARN; the statement narrows it with the cloudwatch:namespace condition.',
  // EC2: VPC placement of Lambda functions and Glue connections
  'ec2:DescribeNetworkInterfaces': 'EC2 Describe calls have no resource-level permission.',
  'ec2:DescribeSecurityGroups': 'EC2 Describe calls have no resource-level permission.',
  'ec2:DescribeSubnets': 'EC2 Describe calls have no resource-level permission.',
  'ec2:DescribeRouteTables': 'EC2 Describe calls have no resource-level permission.',
  'ec2:DescribeVpcEndpoints': 'EC2 Describe calls have no resource-level permission.',
  'ec2:DescribeVpcAttribute': 'Glue reads the attributes of the VPC of a connection it resolves at run time; AWSGlueServiceRole grants it on "*".',
  'ec2:CreateNetworkInterface': 'Lambda and Glue create the interface of a VPC placement in subnets they pick at run time and check the call on "*" (AWSLambdaVPCAccessExecutionRole, AWSGlueServiceRole).',
  'ec2:DeleteNetworkInterface': 'Deletes the interfaces Lambda and Glue created under ids they chose at run time; both services grant it on "*".',
  'ec2:AssignPrivateIpAddresses': 'Lambda manages the addresses of the interfaces it created, on "*" (AWSLambdaVPCAccessExecutionRole).',
  'ec2:UnassignPrivateIpAddresses': 'Lambda manages the addresses of the interfaces it created, on "*" (AWSLambdaVPCAccessExecutionRole).',
  // CloudWatch Logs vended-log delivery: what a Step Functions state machine with logging adds to its role
  'logs:CreateLogDelivery': 'Log deliveries have no resource ARN (Step Functions logging).',
  'logs:GetLogDelivery': 'Log deliveries have no resource ARN (Step Functions logging).',
  'logs:UpdateLogDelivery': 'Log deliveries have no resource ARN (Step Functions logging).',
  'logs:DeleteLogDelivery': 'Log deliveries have no resource ARN (Step Functions logging).',
  'logs:ListLogDeliveries': 'Log deliveries have no resource ARN (Step Functions logging).',
  'logs:PutResourcePolicy': 'The CloudWatch Logs resource policy is account-wide and has no resource ARN (Step Functions logging).',
  'logs:DescribeResourcePolicies': 'Lists the account-wide CloudWatch Logs resource policies; no resource ARN (Step Functions logging).',
  'logs:DescribeLogGroups': 'A list call without resource-level permission (Step Functions logging).',
  // X-Ray: what a state machine with tracing adds to its role
  'xray:PutTraceSegments': 'X-Ray has no resource ARN for trace data.',
  'xray:PutTelemetryRecords': 'X-Ray has no resource ARN for telemetry.',
  'xray:GetSamplingRules': 'X-Ray sampling calls have no resource-level permission.',
  'xray:GetSamplingTargets': 'X-Ray sampling calls have no resource-level permission.',
  // Lake Formation
  'lakeformation:GetDataAccess': 'Credential vending has no resource ARN; Lake Formation grants decide what it vends.',
};

/** Whether an action may be granted on Resource "*" (see {@link UNSCOPED_ACTIONS}). */
export function isUnscopedAction(action: string): boolean {
  return Object.prototype.hasOwnProperty.call(UNSCOPED_ACTIONS, action);
}

/** The cdk-nag finding a statement on Resource "*" raises (AwsSolutions pack). */
const UNSCOPED_FINDING = 'IAM5[Resource::*]';

/** Properties of a {@link LeastPrivilegeRole}. */
export interface LeastPrivilegeRoleProps {
  /** The AWS service or principal that assumes the role. */
  readonly assumedBy: iam.IPrincipal;
  /** What the role is for; becomes the IAM description. */
  readonly description: string;
  /**
   * Actions only this role may hold on Resource "*" besides {@link UNSCOPED_ACTIONS}, each with
   * the reason it cannot be scoped: for actions with no resource-level permission that are too
   * powerful to allow on every role (e.g. Lake Formation's permission management for its guard).
   * @default - none
   */
  readonly unscopedActions?: Readonly<Record<string, string>>;
}

/**
 * An IAM role whose permissions live in customer-managed policies, never in inline policies.
 *
 * Every grant made to this role (`bucket.grantRead(role)`, the helpers in `grants.ts`, the
 * statements CDK adds itself, ...) lands in the managed policy `<role>/Policy`, so the NIST
 * 800-53, HIPAA and PCI rule "no inline policies" holds for every role the platform creates,
 * and a reviewer reads a role's scoped permissions in one document. No AWS-managed policy is
 * ever attached.
 *
 * The one exception: an Allow statement on Resource "*" whose actions are all in
 * {@link UNSCOPED_ACTIONS} lands in a second managed policy `<role>/UnscopedPolicy` (created on
 * first use), which carries the only acknowledgement of `AwsSolutions-IAM5[Resource::*]`, with
 * a reason naming exactly the actions it holds. The role itself acknowledges nothing about
 * "*", so any other statement on "*" fails the compliance packs.
 */
export class LeastPrivilegeRole extends iam.Role {
  private managedPolicy?: iam.ManagedPolicy;
  private unscopedPolicy?: iam.ManagedPolicy;
  /** The actions routed to {@link unscopedPolicy}, for the reason of its acknowledgement. */
  private readonly unscopedActions = new Set<string>();
  /** The role's own additions to {@link UNSCOPED_ACTIONS}. */
  private readonly ownUnscopedActions: Readonly<Record<string, string>>;

  constructor(scope: Construct, id: string, props: LeastPrivilegeRoleProps) {
    super(scope, id, { assumedBy: props.assumedBy, description: props.description });
    this.ownUnscopedActions = props.unscopedActions ?? {};
    for (const [action, reason] of Object.entries(this.ownUnscopedActions)) {
      if (action.includes('*') || reason.trim().length < 20) {
        throw new Error(`LeastPrivilegeRole ${this.node.path}: unscoped action "${action}" needs an exact action name and a reason why it has no resource-level permission.`);
      }
    }
    Aspects.of(this).add(new AcknowledgeUnscopedPolicy(this));
  }

  /** The policy that holds the statements on "*" (see the class comment), if any was granted. */
  public get unscopedPermissions(): iam.ManagedPolicy | undefined {
    return this.unscopedPolicy;
  }

  /** The actions granted on "*" through {@link unscopedPermissions}, sorted. */
  public get unscopedActionNames(): string[] {
    return [...this.unscopedActions].sort();
  }

  /** Whether this role may hold `action` on Resource "*": {@link UNSCOPED_ACTIONS} and its own `unscopedActions`. */
  public allowsUnscoped(action: string): boolean {
    return isUnscopedAction(action) || Object.prototype.hasOwnProperty.call(this.ownUnscopedActions, action);
  }

  /** Refused: AWS-managed policies grant more than the platform's roles need. */
  public override addManagedPolicy(policy: iam.IManagedPolicy): void {
    if (policy.managedPolicyArn.includes(':iam::aws:policy/')) {
      throw new Error(
        `LeastPrivilegeRole ${this.node.path} takes no AWS-managed policy (${policy.managedPolicyArn}); grant exact actions instead.`,
      );
    }
    super.addManagedPolicy(policy);
  }

  /** Refused: the role's permissions live in its managed policies. */
  public override attachInlinePolicy(policy: iam.Policy): void {
    throw new Error(
      `LeastPrivilegeRole ${this.node.path} takes no inline policy (${policy.node.path}); grant to the role instead.`,
    );
  }

  /**
   * Adds a statement to the role's managed policy (created on first use), or to its unscoped
   * policy when the statement is an Allow on "*" of allowlisted actions only.
   */
  public override addToPrincipalPolicy(statement: iam.PolicyStatement): iam.AddToPrincipalPolicyResult {
    if (isAllowlistedUnscoped(statement, (action) => this.allowsUnscoped(action))) {
      if (!this.unscopedPolicy) {
        this.unscopedPolicy = new iam.ManagedPolicy(this, 'UnscopedPolicy', {
          description: `Unscoped permissions of ${this.node.path}: actions AWS offers no resource-level permission for, or that the calling service checks on "*"`,
          roles: [this],
        });
      }
      statement.actions.forEach((a) => this.unscopedActions.add(a));
      this.unscopedPolicy.addStatements(statement);
      return { statementAdded: true, policyDependable: this.unscopedPolicy };
    }
    if (!this.managedPolicy) {
      this.managedPolicy = new iam.ManagedPolicy(this, 'Policy', {
        description: `Permissions of ${this.node.path}`,
        roles: [this],
      });
    }
    this.managedPolicy.addStatements(statement);
    return { statementAdded: true, policyDependable: this.managedPolicy };
  }
}

/** An Allow statement on "*" (and no NotAction / NotResource) whose actions are all allowed unscoped. */
function isAllowlistedUnscoped(statement: iam.PolicyStatement, allowed: (action: string) => boolean): boolean {
  return (
    statement.effect === iam.Effect.ALLOW &&
    statement.resources.includes('*') &&
    statement.notActions.length === 0 &&
    statement.notResources.length === 0 &&
    statement.actions.length > 0 &&
    statement.actions.every(allowed)
  );
}

/**
 * Acknowledges `AwsSolutions-IAM5[Resource::*]` on the role's unscoped policy, naming the
 * actions it holds. Done as an aspect so that the reason lists every statement added while the
 * app was built, and so that the acknowledgement is recorded before cdk-nag's aspect writes
 * `Metadata.cdk_nag` into the policy's template resource (its child, visited after it).
 */
class AcknowledgeUnscopedPolicy implements IAspect {
  private done = false;

  constructor(private readonly role: LeastPrivilegeRole) {}

  public visit(node: IConstruct): void {
    const policy = this.role.unscopedPermissions;
    if (this.done || !policy || node !== policy) {
      return;
    }
    this.done = true;
    acknowledge(
      policy,
      ['AwsSolutions'],
      UNSCOPED_FINDING,
      `Holds only actions AWS offers no resource-level permission for, or that the calling AWS service checks on "*" (UNSCOPED_ACTIONS in lib/shared/least-privilege-role.ts, and the role's own unscopedActions): ${this.role.unscopedActionNames.join(', ')}.`,
    );
  }
}
