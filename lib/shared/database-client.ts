import { Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';

/** Properties of {@link databaseClientSecurityGroup}. */
export interface DatabaseClientProps {
  readonly vpc: ec2.IVpc;
  /** The database's security group. */
  readonly databaseSecurityGroup: ec2.ISecurityGroup;
  /** The database port. */
  readonly port: number;
  /** Who the client is, e.g. `Glue extract`; goes into the group's and the rules' descriptions. */
  readonly what: string;
  /**
   * Glue jobs need their workers to reach each other inside the group.
   * @default false
   */
  readonly selfReferencing?: boolean;
}

/**
 * The security group of a component that talks to a database: egress only to HTTPS (AWS
 * APIs, through NAT or the VPC endpoints) and to the database port of the database's group,
 * no ingress; and the rule on the database's group that admits exactly this group on its
 * port. When the database lives in another stack, that rule is created in the client's stack,
 * so the database's stack never depends on its clients.
 */
export function databaseClientSecurityGroup(scope: Construct, id: string, props: DatabaseClientProps): ec2.SecurityGroup {
  const group = new ec2.SecurityGroup(scope, id, {
    vpc: props.vpc,
    description: `${props.what}: the database port and HTTPS to AWS APIs only`,
    allowAllOutbound: false,
  });
  group.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'AWS APIs, through NAT or VPC endpoints');
  group.addEgressRule(props.databaseSecurityGroup, ec2.Port.tcp(props.port), 'The database');
  if (props.selfReferencing) {
    group.addIngressRule(group, ec2.Port.allTcp(), 'Workers of the same job');
    group.addEgressRule(group, ec2.Port.allTcp(), 'Workers of the same job');
  }
  const description = `${props.what} reaches the database`;
  if (Stack.of(props.databaseSecurityGroup) === Stack.of(scope)) {
    props.databaseSecurityGroup.addIngressRule(group, ec2.Port.tcp(props.port), description);
  } else {
    new ec2.CfnSecurityGroupIngress(scope, `${id}DatabaseIngress`, {
      groupId: props.databaseSecurityGroup.securityGroupId,
      sourceSecurityGroupId: group.securityGroupId,
      ipProtocol: 'tcp',
      fromPort: props.port,
      toPort: props.port,
      description,
    });
  }
  return group;
}
