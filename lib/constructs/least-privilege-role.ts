import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/** Properties of a {@link LeastPrivilegeRole}. */
export interface LeastPrivilegeRoleProps {
  /** The AWS service or principal that assumes the role. */
  readonly assumedBy: iam.IPrincipal;
  /** What the role is for; becomes the IAM description. */
  readonly description: string;
}

/**
 * An IAM role whose permissions live in one customer-managed policy, never in inline policies.
 *
 * Every grant made to this role (`bucket.grantRead(role)`, the helpers in `grants.ts`, ...)
 * lands in the managed policy `<role>/Policy`, so the NIST 800-53, HIPAA and PCI rule
 * "no inline policies" holds for every role the platform creates, and a reviewer reads a
 * role's whole permission set in one document. No AWS-managed policy is ever attached.
 */
export class LeastPrivilegeRole extends iam.Role {
  private managedPolicy?: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: LeastPrivilegeRoleProps) {
    super(scope, id, { assumedBy: props.assumedBy, description: props.description });
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

  /** Refused: the role's permissions live in its one managed policy. */
  public override attachInlinePolicy(policy: iam.Policy): void {
    throw new Error(
      `LeastPrivilegeRole ${this.node.path} takes no inline policy (${policy.node.path}); grant to the role instead.`,
    );
  }

  /** Adds a statement to the role's managed policy (created on first use). */
  public override addToPrincipalPolicy(statement: iam.PolicyStatement): iam.AddToPrincipalPolicyResult {
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
