import { DefaultStackSynthesizer, Fn, Stack } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/**
 * The CloudFormation execution role of the CDK bootstrap (the role the stacks deploy as),
 * with CloudFormation's `${AWS::AccountId}` / `${AWS::Region}` placeholders resolved by `Fn::Sub`.
 * It administers the keys and must be a Lake Formation administrator to create grants.
 *
 * @throws when the stack uses another synthesizer: name the deployment role there instead.
 */
export function deploymentRoleArn(scope: IConstruct): string {
  const stack = Stack.of(scope);
  if (!(stack.synthesizer instanceof DefaultStackSynthesizer)) {
    throw new Error(
      `${scope.node.path}: the deployment role is only known with the DefaultStackSynthesizer (stack ${stack.node.path} uses ${stack.synthesizer.constructor.name}). Use the DefaultStackSynthesizer, or extend deploymentRoleArn to take the deployment role ARN.`,
    );
  }
  return Fn.sub((stack.synthesizer as DefaultStackSynthesizer).cloudFormationExecutionRoleArn);
}
