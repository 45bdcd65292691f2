import { Match, Template } from 'aws-cdk-lib/assertions';
import { InterfaceEndpointName } from '../../lib/config';
import { SynthesizedPlatform, synthPlatform } from '../support/platform';
import { asList, JsonObject, logicalId, ref, resourcesOf, rolePolicyStatements } from './template-helpers';

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

const KEY_DOMAINS = ['lake', 'stream', 'source', 'ops'] as const;

/** The `Fn::Join` CDK renders for an AWS service name in an environment-agnostic stack. */
function serviceName(service: string): unknown {
  return { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, `.${service}`]] };
}

function subnetType(subnet: { Properties?: JsonObject }): string | undefined {
  return asList<{ Key: string; Value: string }>(subnet.Properties?.Tags).find((t) => t.Key === 'aws-cdk:subnet-type')
    ?.Value;
}

describe.each([
  { envName: 'dev' as const, deletionPolicy: 'Delete', pendingWindowDays: 7 },
  { envName: 'prod' as const, deletionPolicy: 'Retain', pendingWindowDays: 30 },
])('FoundationStack in $envName', ({ envName, deletionPolicy, pendingWindowDays }) => {
  let platform: SynthesizedPlatform;
  let template: Template;

  beforeAll(() => {
    platform = synthPlatform(envName);
    template = platform.template('foundation');
  });

  describe('KMS keys', () => {
    test('there are exactly four customer-managed keys and each rotates automatically', () => {
      template.resourceCountIs('AWS::KMS::Key', 4);
      for (const key of Object.values(resourcesOf(template, 'AWS::KMS::Key'))) {
        expect(key.Properties?.EnableKeyRotation).toBe(true);
      }
    });

    test.each(KEY_DOMAINS)('the %s key has the alias alias/undercurrent-<env>/<domain>', (domain) => {
      template.hasResourceProperties('AWS::KMS::Alias', {
        AliasName: `alias/undercurrent-${envName}/${domain}`,
        TargetKeyId: ref(platform.foundation, platform.foundation.keys[domain].keyArn),
      });
    });

    test('there is one alias per key and no other', () => {
      template.resourceCountIs('AWS::KMS::Alias', 4);
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
        Principal: { Service: { 'Fn::Join': ['', ['logs.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } },
        Condition: {
          ArnLike: {
            'kms:EncryptionContext:aws:logs:arn': {
              'Fn::Join': [
                '',
                ['arn:', { Ref: 'AWS::Partition' }, ':logs:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':log-group:*'],
              ],
            },
          },
        },
      };
      const keys = resourcesOf(template, 'AWS::KMS::Key');
      const opsStatements = keys[logicalId(platform.foundation.keys.ops)].Properties!.KeyPolicy.Statement;
      expect(opsStatements).toContainEqual(
        expect.objectContaining({
          ...logsStatement,
          Action: ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:ReEncryptFrom', 'kms:ReEncryptTo'],
        }),
      );
      for (const domain of ['lake', 'stream', 'source'] as const) {
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

    test('with endpoint egress there is no public subnet, internet gateway, NAT gateway or default route', () => {
      expect(platform.config.network.egress).toBe('endpoints');
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
      const routeTables = Object.keys(resourcesOf(template, 'AWS::EC2::RouteTable'));
      template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
        VpcEndpointType: 'Gateway',
        ServiceName: serviceName('s3'),
        RouteTableIds: Match.arrayEquals(routeTables.map((id) => ({ Ref: id }))),
      });
    });

    test('there is one private-DNS interface endpoint in the data subnets per configured service', () => {
      const configured = platform.config.network.interfaceEndpoints;
      const interfaces = Object.values(resourcesOf(template, 'AWS::EC2::VPCEndpoint')).filter(
        (e) => e.Properties?.VpcEndpointType === 'Interface',
      );
      expect(interfaces).toHaveLength(configured.length);
      const endpointSg = Object.keys(resourcesOf(template, 'AWS::EC2::SecurityGroup'))[0];
      const dataSubnets = platform.foundation.vpc.isolatedSubnets.map((s) => ({ Ref: logicalId(s) }));
      for (const name of configured) {
        template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
          VpcEndpointType: 'Interface',
          ServiceName: serviceName(ENDPOINT_SERVICES[name]),
          PrivateDnsEnabled: true,
          SubnetIds: dataSubnets,
          SecurityGroupIds: [{ 'Fn::GetAtt': [endpointSg, 'GroupId'] }],
        });
      }
    });

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
      expect(forAlarms[0].Condition).toEqual({ StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } });
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

    test('no e-mail subscription is created when the config lists no address', () => {
      expect(platform.config.operations.alertEmails).toEqual([]);
      template.resourceCountIs('AWS::SNS::Subscription', 0);
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

    test('only the S3 logging service may write, and only under the prefix of each lake bucket', () => {
      const policy = Object.values(resourcesOf(template, 'AWS::S3::BucketPolicy'))[0];
      const writes = asList<JsonObject>(policy.Properties!.PolicyDocument.Statement).filter(
        (s) => s.Effect === 'Allow' && asList(s.Action).includes('s3:PutObject'),
      );
      expect(writes).toHaveLength(1);
      expect(writes[0].Principal).toEqual({ Service: 'logging.s3.amazonaws.com' });
      expect(writes[0].Action).toBe('s3:PutObject');
      const prefixes = asList<JsonObject>(writes[0].Resource).map((r) => r['Fn::Join'][1][1]);
      expect(prefixes.sort()).toEqual(['/curatedzone/*', '/goldzone/*', '/quarantinezone/*', '/queryresults/*', '/rawzone/*']);
    });

    if (envName === 'dev') {
      test('in dev the bucket is emptied and deleted with the stack', () => {
        template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
        template.resourceCountIs('Custom::S3AutoDeleteObjects', 1);
        template.hasResourceProperties('Custom::S3AutoDeleteObjects', { BucketName: { Ref: bucketId } });
      });
    } else {
      test('in prod the bucket is retained and nothing empties it', () => {
        template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
        template.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
        expect(JSON.stringify(template.toJSON())).not.toContain('aws-cdk:auto-delete-objects');
      });
    }
  });
});

describe('FoundationStack in dev with NAT egress and an alert address', () => {
  let template: Template;
  let platform: SynthesizedPlatform;

  beforeAll(() => {
    platform = synthPlatform('dev', {
      patch: {
        network: { egress: 'nat', natGateways: 1 },
        operations: { alertEmails: ['data-oncall@example.com'] },
      },
    });
    template = platform.template('foundation');
  });

  test('the configured number of NAT gateways sits in public subnets behind one internet gateway', () => {
    template.resourceCountIs('AWS::EC2::NatGateway', 1);
    template.resourceCountIs('AWS::EC2::InternetGateway', 1);
    const subnets = resourcesOf(template, 'AWS::EC2::Subnet');
    const nat = Object.values(resourcesOf(template, 'AWS::EC2::NatGateway'))[0];
    const natSubnet = subnets[nat.Properties!.SubnetId.Ref];
    expect(subnetType(natSubnet)).toBe('Public');
  });

  test('public subnets exist and assign no public IP on launch', () => {
    const publics = Object.values(resourcesOf(template, 'AWS::EC2::Subnet')).filter((s) => subnetType(s) === 'Public');
    expect(publics.length).toBeGreaterThan(0);
    for (const subnet of publics) {
      expect(subnet.Properties?.MapPublicIpOnLaunch).toBe(false);
    }
  });

  test('no subnet of any kind assigns public IPs', () => {
    for (const subnet of Object.values(resourcesOf(template, 'AWS::EC2::Subnet'))) {
      expect(subnet.Properties?.MapPublicIpOnLaunch).toBe(false);
    }
  });

  test('the isolated data subnets still have no route out of the VPC', () => {
    const dataRouteTables = new Set(
      platform.foundation.vpc.isolatedSubnets.map((s) => platform.foundation.resolve(s.routeTable.routeTableId).Ref),
    );
    expect(dataRouteTables.size).toBe(2);
    for (const route of Object.values(resourcesOf(template, 'AWS::EC2::Route'))) {
      expect(dataRouteTables.has(route.Properties!.RouteTableId.Ref)).toBe(false);
    }
  });

  test('the compute subnets reach the internet only through the NAT gateway', () => {
    const natId = Object.keys(resourcesOf(template, 'AWS::EC2::NatGateway'))[0];
    const computeTables = platform.foundation.vpc.privateSubnets.map(
      (s) => platform.foundation.resolve(s.routeTable.routeTableId).Ref,
    );
    expect(computeTables).toHaveLength(2);
    for (const table of computeTables) {
      template.hasResourceProperties('AWS::EC2::Route', {
        RouteTableId: { Ref: table },
        DestinationCidrBlock: '0.0.0.0/0',
        NatGatewayId: { Ref: natId },
      });
    }
  });

  test('each configured address is subscribed to the alerts topic by e-mail', () => {
    template.resourceCountIs('AWS::SNS::Subscription', 1);
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'data-oncall@example.com',
      TopicArn: { Ref: logicalId(platform.foundation.alertsTopic) },
    });
  });
});
