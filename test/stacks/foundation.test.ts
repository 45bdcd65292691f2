import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { InterfaceEndpointName } from '../../lib/config';
import { SynthesizedPlatform, synthPlatform } from '../support/platform';
import { acknowledgedRules, asList, JsonObject, logicalId, ref, resourcesOf, rolePolicyStatements } from './template-helpers';

/** The service part of each interface endpoint's `com.amazonaws.<region>.<service>` name. */
const ENDPOINT_SERVICES: Record<InterfaceEndpointName, string> = {
  GLUE: 'glue',
  KMS: 'kms',
  SECRETS_MANAGER: 'secretsmanager',
  CLOUDWATCH_LOGS: 'logs',
  CLOUDWATCH_MONITORING: 'monitoring',
  STS: 'sts',
  KINESIS_STREAMS: 'kinesis-streams',
  SNS: 'sns',
  STEP_FUNCTIONS: 'states',
};

const KEY_DOMAINS = ['lake', 'queryResults', 'stream', 'source', 'ops'] as const;
/** The alias part of each key. */
const KEY_ALIASES: Record<(typeof KEY_DOMAINS)[number], string> = {
  lake: 'lake',
  queryResults: 'query-results',
  stream: 'stream',
  source: 'source',
  ops: 'ops',
};

/**
 * The name CDK renders for an AWS service's endpoint: an `Fn::Join` on the region in an
 * environment-agnostic stack (dev), the literal in a pinned one (prod, in us-east-1 in tests).
 */
function serviceName(platform: SynthesizedPlatform, service: string): unknown {
  return platform.config.envName === 'dev'
    ? { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, `.${service}`]] }
    : `com.amazonaws.us-east-1.${service}`;
}

function subnetTag(subnet: { Properties?: JsonObject }, key: string): string | undefined {
  return asList<{ Key: string; Value: string }>(subnet.Properties?.Tags).find((t) => t.Key === key)?.Value;
}

function subnetType(subnet: { Properties?: JsonObject }): string | undefined {
  return subnetTag(subnet, 'aws-cdk:subnet-type');
}

/** What the network tests of one synthesized platform read. */
interface NetworkUnderTest {
  readonly platform: SynthesizedPlatform;
  readonly template: Template;
}

/** The subnets of a subnet group of the Foundation VPC. */
function groupSubnets(platform: SynthesizedPlatform, group: string): ec2.ISubnet[] {
  return platform.foundation.vpc.selectSubnets({ subnetGroupName: group }).subnets;
}

/** Logical ids of the route tables of a subnet group. */
function routeTablesOf(platform: SynthesizedPlatform, group: string): string[] {
  return groupSubnets(platform, group).map((s) => platform.foundation.resolve(s.routeTable.routeTableId).Ref);
}

/** Routes of the template, with their logical ids. */
function routes(template: Template): { id: string; properties: JsonObject }[] {
  return Object.entries(resourcesOf(template, 'AWS::EC2::Route')).map(([id, r]) => ({ id, properties: r.Properties! }));
}

/** The interface-endpoint tests, for a VPC that has the configured endpoints. */
function interfaceEndpointTests(get: () => NetworkUnderTest): void {
  test('there is one private-DNS interface endpoint in the data subnets per configured service', () => {
    const { platform, template } = get();
    const configured = platform.config.network.interfaceEndpoints;
    expect(configured.length).toBeGreaterThan(0);
    const interfaces = Object.values(resourcesOf(template, 'AWS::EC2::VPCEndpoint')).filter(
      (e) => e.Properties?.VpcEndpointType === 'Interface',
    );
    expect(interfaces).toHaveLength(configured.length);
    const endpointSgs = Object.keys(resourcesOf(template, 'AWS::EC2::SecurityGroup'));
    expect(endpointSgs).toHaveLength(1);
    const dataSubnets = platform.foundation.vpc.isolatedSubnets.map((s) => ({ Ref: logicalId(s) }));
    for (const name of configured) {
      template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
        VpcEndpointType: 'Interface',
        ServiceName: serviceName(platform, ENDPOINT_SERVICES[name]),
        PrivateDnsEnabled: true,
        SubnetIds: dataSubnets,
        SecurityGroupIds: [{ 'Fn::GetAtt': [endpointSgs[0], 'GroupId'] }],
      });
    }
  });
}

/**
 * The network tests of NAT egress: data subnets isolated, compute subnets behind the NAT
 * gateways, which alone sit in the public egress subnets.
 */
function natNetworkTests(get: () => NetworkUnderTest): void {
  test('with NAT egress each AZ has a data, a compute and an egress subnet, and none assigns a public IP', () => {
    const { platform, template } = get();
    const { maxAzs } = platform.config.network;
    const subnets = Object.values(resourcesOf(template, 'AWS::EC2::Subnet'));
    expect(subnets).toHaveLength(3 * maxAzs);
    const expectedTypes: Record<string, string> = {
      Data: 'Isolated',
      Compute: 'Private',
      Egress: 'Public',
    };
    for (const [group, type] of Object.entries(expectedTypes)) {
      const inGroup = subnets.filter((s) => subnetTag(s, 'aws-cdk:subnet-name') === group);
      expect({ group, count: inGroup.length }).toEqual({ group, count: maxAzs });
      inGroup.forEach((subnet, i) => {
        expect(subnetType(subnet)).toBe(type);
        expect(subnet.Properties?.AvailabilityZone).toEqual({ 'Fn::Select': [i, { 'Fn::GetAZs': '' }] });
      });
    }
    for (const subnet of subnets) {
      expect(subnet.Properties?.MapPublicIpOnLaunch).toBe(false);
    }
  });

  test('the configured number of NAT gateways, each with an Elastic IP, sit in distinct egress subnets behind one internet gateway', () => {
    const { platform, template } = get();
    const { natGateways } = platform.config.network;
    template.resourceCountIs('AWS::EC2::NatGateway', natGateways);
    template.resourceCountIs('AWS::EC2::EIP', natGateways);
    template.resourceCountIs('AWS::EC2::InternetGateway', 1);
    template.resourceCountIs('AWS::EC2::VPCGatewayAttachment', 1);
    const egressSubnets = groupSubnets(platform, 'Egress').map((s) => logicalId(s));
    const natSubnets = Object.values(resourcesOf(template, 'AWS::EC2::NatGateway')).map((n) => n.Properties!.SubnetId.Ref);
    expect(new Set(natSubnets).size).toBe(natGateways);
    for (const subnet of natSubnets) {
      expect(egressSubnets).toContain(subnet);
    }
  });

  test('only the egress subnets route to the internet gateway, each with one default route', () => {
    const { platform, template } = get();
    const [igwId] = Object.keys(resourcesOf(template, 'AWS::EC2::InternetGateway'));
    const egressTables = routeTablesOf(platform, 'Egress');
    const toIgw = routes(template).filter((r) => r.properties.GatewayId !== undefined);
    expect(toIgw.map((r) => r.properties.RouteTableId.Ref).sort()).toEqual([...egressTables].sort());
    for (const { properties } of toIgw) {
      expect(properties).toEqual({
        RouteTableId: properties.RouteTableId,
        DestinationCidrBlock: '0.0.0.0/0',
        GatewayId: { Ref: igwId },
      });
    }
  });

  test('every compute subnet routes 0.0.0.0/0 to a NAT gateway, and has no other route', () => {
    const { platform, template } = get();
    const nats = resourcesOf(template, 'AWS::EC2::NatGateway');
    const subnets = resourcesOf(template, 'AWS::EC2::Subnet');
    const dataClientSubnets = groupSubnets(platform, 'Compute');
    expect(dataClientSubnets).toHaveLength(platform.config.network.maxAzs);
    for (const subnet of dataClientSubnets) {
      const table = platform.foundation.resolve(subnet.routeTable.routeTableId).Ref;
      const onTable = routes(template).filter((r) => r.properties.RouteTableId.Ref === table);
      expect(onTable).toHaveLength(1);
      const route = onTable[0].properties;
      expect(route).toEqual({ RouteTableId: { Ref: table }, DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: { Ref: expect.any(String) } });
      const nat = nats[route.NatGatewayId.Ref];
      expect(nat).toBeDefined();
      if (platform.config.network.natGateways === platform.config.network.maxAzs) {
        // One NAT gateway per AZ: each compute subnet leaves through the one in its own AZ.
        const natSubnet = subnets[nat.Properties!.SubnetId.Ref];
        expect(natSubnet.Properties?.AvailabilityZone).toEqual(subnets[logicalId(subnet)].Properties?.AvailabilityZone);
      }
    }
  });

  test('the isolated data subnets have no route at all, so no default route out of the VPC', () => {
    const { platform, template } = get();
    const dataTables = new Set(routeTablesOf(platform, 'Data'));
    expect(dataTables.size).toBe(platform.config.network.maxAzs);
    const onData = routes(template).filter((r) => dataTables.has(r.properties.RouteTableId.Ref));
    expect(onData).toEqual([]);
    // Every route is accounted for: one per egress subnet (IGW) and one per compute subnet (NAT).
    expect(routes(template)).toHaveLength(2 * platform.config.network.maxAzs);
  });

  test('compute that talks to the data (functions, Glue, DMS) runs in the compute subnets behind NAT', () => {
    const { platform } = get();
    expect(platform.foundation.dataClientSubnets).toEqual({ subnetGroupName: 'Compute' });
    const selected = platform.foundation.vpc.selectSubnets(platform.foundation.dataClientSubnets).subnets;
    expect(selected).toEqual(platform.foundation.vpc.privateSubnets);
    expect(selected).toEqual(groupSubnets(platform, 'Compute'));
  });

  test('the egress subnets, and no other subnet, acknowledge VPCNoUnrestrictedRouteToIGW with a reason', () => {
    const { platform } = get();
    const rule = (pack: string): string => `${pack}-VPCNoUnrestrictedRouteToIGW`;
    for (const subnet of groupSubnets(platform, 'Egress')) {
      const acks = acknowledgedRules(subnet);
      for (const pack of ['NIST.800.53.R5', 'HIPAA.Security', 'PCI.DSS.321']) {
        expect(acks[rule(pack)]).toMatch(/NAT/);
      }
    }
    for (const group of ['Data', 'Compute']) {
      for (const subnet of groupSubnets(platform, group)) {
        expect(Object.keys(acknowledgedRules(subnet)).filter((id) => id.includes('VPCNoUnrestrictedRouteToIGW'))).toEqual([]);
      }
    }
  });
}

describe.each([
  // Without the second key (-c removeDataOnDestroy=true) dev retains its data as prod does.
  // dev is environment-agnostic: this account and region are pseudo parameters; prod is pinned
  // (tests pass -c account=123456789012 -c region=us-east-1 -c alertEmails=data-oncall@example.com).
  {
    envName: 'dev' as const,
    deletionPolicy: 'Retain',
    pendingWindowDays: 7,
    egress: 'nat' as const,
    account: { Ref: 'AWS::AccountId' } as unknown,
    logsPrincipal: { 'Fn::Join': ['', ['logs.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } as unknown,
    logGroupsArn: {
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':logs:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':log-group:*']],
    } as unknown,
    alertEmails: [] as string[],
  },
  {
    envName: 'prod' as const,
    deletionPolicy: 'Retain',
    pendingWindowDays: 30,
    egress: 'endpoints' as const,
    account: '123456789012' as unknown,
    logsPrincipal: 'logs.us-east-1.amazonaws.com' as unknown,
    logGroupsArn: 'arn:aws:logs:us-east-1:123456789012:log-group:*' as unknown,
    alertEmails: ['data-oncall@example.com'],
  },
])('FoundationStack in $envName', ({ envName, deletionPolicy, pendingWindowDays, egress, account, logsPrincipal, logGroupsArn, alertEmails }) => {
  let platform: SynthesizedPlatform;
  let template: Template;

  beforeAll(() => {
    platform = synthPlatform(envName);
    template = platform.template('foundation');
  });

  describe('KMS keys', () => {
    test('there are exactly five customer-managed keys and each rotates automatically', () => {
      template.resourceCountIs('AWS::KMS::Key', 5);
      for (const key of Object.values(resourcesOf(template, 'AWS::KMS::Key'))) {
        expect(key.Properties?.EnableKeyRotation).toBe(true);
      }
    });

    test.each(KEY_DOMAINS)('the %s key has the alias alias/undercurrent-<env>/<domain>', (domain) => {
      template.hasResourceProperties('AWS::KMS::Alias', {
        AliasName: `alias/undercurrent-${envName}/${KEY_ALIASES[domain]}`,
        TargetKeyId: ref(platform.foundation, platform.foundation.keys[domain].keyArn),
      });
    });

    test('there is one alias per key and no other', () => {
      template.resourceCountIs('AWS::KMS::Alias', 5);
    });

    test('every key lets only AWS services hold grants on it, for every principal but the deployment role', () => {
      const deploymentRole = envName === 'dev'
        ? { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/cdk-hnb659fds-cfn-exec-role-${AWS::AccountId}-${AWS::Region}' }
        : { 'Fn::Sub': 'arn:${AWS::Partition}:iam::123456789012:role/cdk-hnb659fds-cfn-exec-role-123456789012-us-east-1' };
      for (const [id, key] of Object.entries(resourcesOf(template, 'AWS::KMS::Key'))) {
        const statements = key.Properties!.KeyPolicy.Statement as JsonObject[];
        const grants = statements.filter((st) => asList(st.Action).some((a) => a === 'kms:CreateGrant' || a === 'kms:*'));
        // The account's administration statement (IAM decides) and the limit on grants; nothing else names CreateGrant.
        expect([id, grants.map((st) => [st.Effect, st.Action])]).toEqual([id, [['Allow', 'kms:*'], ['Deny', 'kms:CreateGrant']]]);
        expect(grants[1]).toEqual({
          Sid: 'GrantsOnlyForAwsServicesExceptKeyAdministrators',
          Effect: 'Deny',
          Principal: { AWS: '*' },
          Action: 'kms:CreateGrant',
          Resource: '*',
          Condition: { Bool: { 'kms:GrantIsForAWSResource': 'false' }, ArnNotEquals: { 'aws:PrincipalArn': deploymentRole } },
        });
      }
    });

    test(`every key has DeletionPolicy ${deletionPolicy} and a ${pendingWindowDays}-day pending window`, () => {
      const keys = resourcesOf(template, 'AWS::KMS::Key');
      for (const key of Object.values(keys)) {
        expect(key.DeletionPolicy).toBe(deletionPolicy);
        expect(key.UpdateReplacePolicy).toBe(deletionPolicy);
        expect(key.Properties?.PendingWindowInDays).toBe(pendingWindowDays);
      }
    });

    test('only the ops key lets CloudWatch Logs of this account use it, and only for log groups', () => {
      const logsStatement = {
        Sid: 'AllowCloudWatchLogsOfThisAccount',
        Effect: 'Allow',
        Principal: { Service: logsPrincipal },
        Condition: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': logGroupsArn } },
      };
      const keys = resourcesOf(template, 'AWS::KMS::Key');
      const opsStatements = keys[logicalId(platform.foundation.keys.ops)].Properties!.KeyPolicy.Statement;
      expect(opsStatements).toContainEqual(
        expect.objectContaining({
          ...logsStatement,
          Action: ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:ReEncryptFrom', 'kms:ReEncryptTo'],
        }),
      );
      for (const domain of ['lake', 'queryResults', 'stream', 'source'] as const) {
        const statements = keys[logicalId(platform.foundation.keys[domain])].Properties!.KeyPolicy.Statement;
        expect(statements.map((s: { Sid?: string }) => s.Sid)).not.toContain('AllowCloudWatchLogsOfThisAccount');
      }
    });
  });

  describe('network', () => {
    test('the VPC uses the configured CIDR', () => {
      template.resourceCountIs('AWS::EC2::VPC', 1);
      template.hasResourceProperties('AWS::EC2::VPC', { CidrBlock: platform.config.network.vpcCidr });
    });

    test(`egress is "${egress}" as configured`, () => {
      expect(platform.config.network.egress).toBe(egress);
    });

    if (egress === 'endpoints') {
      test('with endpoint egress there is no public subnet, internet gateway, NAT gateway or default route', () => {
        template.resourceCountIs('AWS::EC2::InternetGateway', 0);
        template.resourceCountIs('AWS::EC2::VPCGatewayAttachment', 0);
        template.resourceCountIs('AWS::EC2::NatGateway', 0);
        template.resourceCountIs('AWS::EC2::EIP', 0);
        template.resourceCountIs('AWS::EC2::Route', 0);
      });

      test('every subnet is an isolated data subnet that assigns no public IP', () => {
        const subnets = Object.values(resourcesOf(template, 'AWS::EC2::Subnet'));
        // network.maxAzs AZs, picked at deploy time with Fn::GetAZs (no AZ lookup at synth).
        expect(subnets).toHaveLength(platform.config.network.maxAzs);
        subnets.forEach((subnet, i) =>
          expect(subnet.Properties?.AvailabilityZone).toEqual({ 'Fn::Select': [i, { 'Fn::GetAZs': '' }] }),
        );
        for (const subnet of subnets) {
          expect(subnet.Properties?.MapPublicIpOnLaunch).toBe(false);
          expect(subnetType(subnet)).toBe('Isolated');
        }
      });

      test('compute that talks to the data (functions, Glue, DMS) runs in the isolated data subnets', () => {
        expect(platform.foundation.dataClientSubnets).toEqual({ subnetGroupName: 'Data' });
        const selected = platform.foundation.vpc.selectSubnets(platform.foundation.dataClientSubnets).subnets;
        expect(selected).toEqual(platform.foundation.vpc.isolatedSubnets);
      });

      test('the interface endpoints are exactly the APIs the in-VPC workloads call (REQUIRED_INTERFACE_ENDPOINTS)', () => {
        expect([...platform.config.network.interfaceEndpoints].sort()).toEqual(['CLOUDWATCH_LOGS', 'CLOUDWATCH_MONITORING', 'GLUE', 'KMS', 'SECRETS_MANAGER', 'STS']);
      });

      interfaceEndpointTests(() => ({ platform, template }));

      test('the endpoint security group admits only tcp 443 from the VPC CIDR and allows no egress', () => {
        template.resourceCountIs('AWS::EC2::SecurityGroup', 1);
        template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0);
        template.resourceCountIs('AWS::EC2::SecurityGroupEgress', 0);
        template.hasResourceProperties('AWS::EC2::SecurityGroup', {
          SecurityGroupIngress: [
            Match.objectLike({ CidrIp: platform.config.network.vpcCidr, IpProtocol: 'tcp', FromPort: 443, ToPort: 443 }),
          ],
          // CDK's placeholder for "no egress at all".
          SecurityGroupEgress: [Match.objectLike({ CidrIp: '255.255.255.255/32', Description: 'Disallow all traffic' })],
        });
      });
    } else {
      natNetworkTests(() => ({ platform, template }));

      test('there is no interface endpoint and no endpoint security group when the config lists none', () => {
        expect(platform.config.network.interfaceEndpoints).toEqual([]);
        const interfaces = Object.values(resourcesOf(template, 'AWS::EC2::VPCEndpoint')).filter(
          (e) => e.Properties?.VpcEndpointType === 'Interface',
        );
        expect(interfaces).toEqual([]);
        template.resourceCountIs('AWS::EC2::SecurityGroup', 0);
      });
    }

    test('a flow log of type ALL goes to a KMS-encrypted log group with the configured retention', () => {
      const groups = resourcesOf(template, 'AWS::Logs::LogGroup');
      const [groupId] = Object.keys(groups);
      expect(Object.keys(groups)).toHaveLength(1);
      expect(groups[groupId].Properties).toEqual(
        expect.objectContaining({
          KmsKeyId: ref(platform.foundation, platform.foundation.keys.ops.keyArn),
          RetentionInDays: platform.config.dataProtection.logRetentionDays,
        }),
      );
      expect(groups[groupId].DeletionPolicy).toBe(deletionPolicy);
      template.resourceCountIs('AWS::EC2::FlowLog', 1);
      template.hasResourceProperties('AWS::EC2::FlowLog', {
        ResourceType: 'VPC',
        ResourceId: { Ref: logicalId(platform.foundation.vpc) },
        TrafficType: 'ALL',
        LogDestinationType: 'cloud-watch-logs',
        LogGroupName: { Ref: groupId },
      });
    });

    test('the flow-log role is assumed by VPC flow logs and may only write to its log group', () => {
      const [groupId] = Object.keys(resourcesOf(template, 'AWS::Logs::LogGroup'));
      template.hasResourceProperties('AWS::IAM::Role', {
        AssumeRolePolicyDocument: {
          Statement: [Match.objectLike({ Principal: { Service: 'vpc-flow-logs.amazonaws.com' } })],
        },
        Policies: Match.absent(),
        ManagedPolicyArns: Match.absent(),
      });
      expect(rolePolicyStatements(template, 'Foundation/FlowLogRole')).toEqual([
        {
          Effect: 'Allow',
          Action: ['logs:CreateLogStream', 'logs:DescribeLogStreams', 'logs:PutLogEvents'],
          Resource: { 'Fn::GetAtt': [groupId, 'Arn'] },
        },
      ]);
    });

    test('the default security group is stripped of its rules', () => {
      template.resourceCountIs('Custom::VpcRestrictDefaultSG', 1);
      template.hasResourceProperties('Custom::VpcRestrictDefaultSG', {
        DefaultSecurityGroupId: { 'Fn::GetAtt': [logicalId(platform.foundation.vpc), 'DefaultSecurityGroup'] },
      });
    });

    test('S3 is reached through a gateway endpoint on every route table', () => {
      const routeTables = Object.keys(resourcesOf(template, 'AWS::EC2::RouteTable')).sort();
      expect(routeTables.length).toBeGreaterThan(0);
      const gateways = Object.values(resourcesOf(template, 'AWS::EC2::VPCEndpoint')).filter(
        (e) => e.Properties?.VpcEndpointType === 'Gateway',
      );
      expect(gateways).toHaveLength(1);
      // CDK names the gateway service on the AWS::Region pseudo parameter even in a pinned stack.
      expect(gateways[0].Properties?.ServiceName).toEqual({ 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, '.s3']] });
      const attached = asList<{ Ref: string }>(gateways[0].Properties?.RouteTableIds).map((r) => r.Ref);
      expect([...attached].sort()).toEqual(routeTables);
    });
  });

  describe('alerts topic', () => {
    test('the topic is encrypted with the ops key', () => {
      template.resourceCountIs('AWS::SNS::Topic', 1);
      template.hasResourceProperties('AWS::SNS::Topic', {
        KmsMasterKeyId: ref(platform.foundation, platform.foundation.keys.ops.keyArn),
      });
    });

    test('the topic policy denies publishing without TLS', () => {
      template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        Topics: [{ Ref: logicalId(platform.foundation.alertsTopic) }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Principal: '*',
              Action: 'sns:Publish',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      });
    });

    test('the ops key lets CloudWatch alarms of this account encrypt alerts for the topic', () => {
      const opsKey = resourcesOf(template, 'AWS::KMS::Key')[logicalId(platform.foundation.keys.ops)];
      const forAlarms = asList<JsonObject>(opsKey.Properties!.KeyPolicy.Statement).filter(
        (s) => s.Effect === 'Allow' && asList(s.Principal?.Service).includes('cloudwatch.amazonaws.com'),
      );
      expect(forAlarms).toHaveLength(1);
      expect(forAlarms[0].Action).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
      expect(forAlarms[0].Condition).toEqual({ StringEquals: { 'aws:SourceAccount': account } });
    });

    test('every service principal in a key policy is held to this account by a condition', () => {
      for (const key of Object.values(resourcesOf(template, 'AWS::KMS::Key'))) {
        for (const statement of asList<JsonObject>(key.Properties!.KeyPolicy.Statement)) {
          if (statement.Effect === 'Allow' && statement.Principal?.Service !== undefined) {
            expect({ sid: statement.Sid, condition: statement.Condition }).toEqual({ sid: statement.Sid, condition: expect.anything() });
          }
        }
      }
    });

    test('the topic policy allows no principal without a condition', () => {
      const [policy] = Object.values(resourcesOf(template, 'AWS::SNS::TopicPolicy'));
      const unconditioned = asList<JsonObject>(policy.Properties!.PolicyDocument.Statement).filter(
        (s) => s.Effect === 'Allow' && s.Condition === undefined,
      );
      expect(unconditioned).toEqual([]);
    });

    test(`the topic's e-mail subscribers are exactly ${alertEmails.length === 0 ? 'none (dev lists no address)' : alertEmails.join(', ') + ' (prod must name one)'}`, () => {
      expect(platform.config.operations.alertEmails).toEqual(alertEmails);
      const subscriptions = Object.values(resourcesOf(template, 'AWS::SNS::Subscription')).map((r) => r.Properties);
      expect(subscriptions).toEqual(
        alertEmails.map((email) => ({ Protocol: 'email', Endpoint: email, TopicArn: { Ref: logicalId(platform.foundation.alertsTopic) } })),
      );
    });
  });

  describe('access-log bucket', () => {
    let bucketId: string;

    beforeAll(() => {
      bucketId = logicalId(platform.foundation.accessLogsBucket);
    });

    test('it is the only bucket of the stack and uses SSE-S3, which S3 server access logging requires', () => {
      template.resourceCountIs('AWS::S3::Bucket', 1);
      template.hasResourceProperties('AWS::S3::Bucket', {
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
      });
    });

    test('it blocks all public access, enforces bucket-owner ownership and is versioned', () => {
      template.hasResourceProperties('AWS::S3::Bucket', {
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        VersioningConfiguration: { Status: 'Enabled' },
      });
    });

    test('access logs expire after the configured log retention', () => {
      template.hasResourceProperties('AWS::S3::Bucket', {
        LifecycleConfiguration: {
          Rules: Match.arrayWith([
            Match.objectLike({ NoncurrentVersionExpiration: { NoncurrentDays: 90 } }),
            Match.objectLike({
              Id: 'ExpireAccessLogs',
              Status: 'Enabled',
              ExpirationInDays: platform.config.dataProtection.logRetentionDays,
            }),
          ]),
        },
      });
    });

    test('its policy denies requests without TLS or below TLS 1.2', () => {
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: bucketId },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 's3:*',
              Principal: { AWS: '*' },
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
            Match.objectLike({
              Effect: 'Deny',
              Action: 's3:*',
              Principal: { AWS: '*' },
              Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } },
            }),
          ]),
        },
      });
    });

    test('only the S3 logging service may write, for buckets of this account, in one statement of its own', () => {
      const policy = Object.values(resourcesOf(template, 'AWS::S3::BucketPolicy'))[0];
      const writes = asList<JsonObject>(policy.Properties!.PolicyDocument.Statement).filter(
        (st) => st.Effect === 'Allow' && asList(st.Action).includes('s3:PutObject'),
      );
      // Not one statement per source bucket: those would be written by the stacks of the buckets.
      expect(writes).toEqual([
        {
          Sid: 'AllowLogDeliveryForThisAccount',
          Effect: 'Allow',
          Principal: { Service: 'logging.s3.amazonaws.com' },
          Action: 's3:PutObject',
          Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/*']] },
          Condition: { StringEquals: { 'aws:SourceAccount': account } },
        },
      ]);
    });

    test('the bucket is retained and nothing empties it', () => {
      template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
      template.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
      expect(JSON.stringify(template.toJSON())).not.toContain('aws-cdk:auto-delete-objects');
    });
  });
});

describe('FoundationStack in dev with -c removeDataOnDestroy=true (the second key)', () => {
  let platform: SynthesizedPlatform;
  let template: Template;

  beforeAll(() => {
    platform = synthPlatform('dev', { context: { removeDataOnDestroy: 'true' } });
    template = platform.template('foundation');
  });

  test('every key is deleted with the stack, after a 7-day pending window', () => {
    const keys = Object.values(resourcesOf(template, 'AWS::KMS::Key'));
    expect(keys).toHaveLength(5);
    for (const key of keys) {
      expect(key.DeletionPolicy).toBe('Delete');
      expect(key.UpdateReplacePolicy).toBe('Delete');
      expect(key.Properties?.PendingWindowInDays).toBe(7);
    }
  });

  test('the flow-log group is deleted with the stack', () => {
    const groups = Object.values(resourcesOf(template, 'AWS::Logs::LogGroup'));
    expect(groups.map((g) => g.DeletionPolicy)).toEqual(['Delete']);
  });

  test('the access-log bucket is emptied and deleted with the stack', () => {
    const bucketId = logicalId(platform.foundation.accessLogsBucket);
    template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
    template.resourceCountIs('Custom::S3AutoDeleteObjects', 1);
    template.hasResourceProperties('Custom::S3AutoDeleteObjects', { BucketName: { Ref: bucketId } });
  });
});

describe('FoundationStack in prod with NAT egress (one gateway per AZ) and an alert address', () => {
  let template: Template;
  let platform: SynthesizedPlatform;

  beforeAll(() => {
    platform = synthPlatform('prod', {
      patch: {
        network: { egress: 'nat', natGateways: 3 },
        operations: { alertEmails: ['data-oncall@example.com'] },
      },
    });
    template = platform.template('foundation');
  });

  test('the patch gives three AZs and three NAT gateways', () => {
    expect(platform.config.network).toEqual(expect.objectContaining({ egress: 'nat', natGateways: 3, maxAzs: 3 }));
  });

  natNetworkTests(() => ({ platform, template }));

  interfaceEndpointTests(() => ({ platform, template }));

  test('each configured address is subscribed to the alerts topic by e-mail', () => {
    template.resourceCountIs('AWS::SNS::Subscription', 1);
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'data-oncall@example.com',
      TopicArn: { Ref: logicalId(platform.foundation.alertsTopic) },
    });
  });
});
