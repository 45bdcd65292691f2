import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Duration } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { InterfaceEndpointName } from '../config';
import { AlertsTopic } from '../shared/alerts-topic';
import { LeastPrivilegeRole } from '../shared/least-privilege-role';
import { allowCloudWatchLogs, platformKey } from '../shared/platform-key';
import { acknowledge, COMPLIANCE_PACKS } from '../shared/nag';
import { SecureBucket } from '../shared/secure-bucket';
import { PlatformStack, PlatformStackProps } from '../shared/platform-stack';
import { pascal, resourceName } from '../shared/naming';

/** The customer-managed keys, one per data domain. */
export interface PlatformKeys {
  /** S3 lake zones, Glue output and bookmarks, Firehose delivery. */
  readonly lake: kms.IKey;
  /**
   * Athena query results: its own key, so that the analysts who read and write their results
   * never hold a key that decrypts the lake (Lake Formation reads gold for them).
   */
  readonly queryResults: kms.IKey;
  /** The Kinesis click stream. */
  readonly stream: kms.IKey;
  /** The source database's storage and its credentials. */
  readonly source: kms.IKey;
  /** Operations: CloudWatch log groups and the alerts topic. */
  readonly ops: kms.IKey;
}

/** Subnet group names of the VPC. */
export const SUBNET_GROUPS = { data: 'Data', compute: 'Compute', egress: 'Egress' } as const;

/**
 * The undercurrents every stage shares: the network, the keys, the alerts topic and the
 * server access-log bucket.
 */
export class FoundationStack extends PlatformStack {
  public readonly vpc: ec2.Vpc;
  /**
   * Where the clients of the data stores run (Glue connections, functions, DMS): the egress
   * subnets behind NAT when `network.egress` is `nat`, else the isolated data subnets themselves
   * (which reach AWS APIs through the interface endpoints).
   */
  public readonly dataClientSubnets: ec2.SubnetSelection;
  public readonly keys: PlatformKeys;
  public readonly alertsTopic: sns.ITopic;
  public readonly accessLogsBucket: s3.IBucket;

  constructor(scope: Construct, props: PlatformStackProps) {
    super(scope, 'Foundation', props);
    const { config } = this;

    this.keys = {
      lake: this.key('LakeKey', 'lake', 'S3 lake zones, Glue output and bookmarks, Firehose'),
      queryResults: this.key('QueryResultsKey', 'query-results', 'Athena query results'),
      stream: this.key('StreamKey', 'stream', 'Kinesis click stream'),
      source: this.key('SourceKey', 'source', 'source database storage and credentials'),
      ops: this.key('OpsKey', 'ops', 'CloudWatch log groups and the alerts topic'),
    };
    allowCloudWatchLogs(this.keys.ops);

    this.vpc = this.network();
    this.dataClientSubnets = {
      subnetGroupName: config.network.egress === 'nat' ? SUBNET_GROUPS.compute : SUBNET_GROUPS.data,
    };

    this.alertsTopic = new AlertsTopic(this, 'Alerts', {
      masterKey: this.keys.ops,
      emails: config.operations.alertEmails,
    }).topic;

    this.accessLogsBucket = new SecureBucket(this, 'AccessLogs', {
      accessLogDestination: true,
      removalPolicy: this.dataRemovalPolicy,
      autoDeleteObjects: this.autoDeleteObjects,
      lifecycleRules: [{ id: 'ExpireAccessLogs', expiration: Duration.days(config.dataProtection.logRetentionDays) }],
    }).bucket;
  }

  private key(id: string, domain: string, purpose: string): kms.Key {
    return platformKey(this, id, {
      alias: `alias/${resourceName(this.config)}/${domain}`,
      description: `${this.stackName}: ${purpose}`,
      removalPolicy: this.dataRemovalPolicy,
      pendingWindow: this.keyPendingWindow,
    });
  }

  private network(): ec2.Vpc {
    const { network } = this.config;
    const nat = network.egress === 'nat';
    const subnetConfiguration: ec2.SubnetConfiguration[] = [
      { name: SUBNET_GROUPS.data, subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    ];
    if (nat) {
      subnetConfiguration.push(
        { name: SUBNET_GROUPS.compute, subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
        // Only NAT gateways live here; nothing gets a public address by default.
        { name: SUBNET_GROUPS.egress, subnetType: ec2.SubnetType.PUBLIC, mapPublicIpOnLaunch: false },
      );
    }

    const flowLogGroup = new logs.LogGroup(this, 'FlowLogs', {
      encryptionKey: this.keys.ops,
      retention: this.logRetention,
      removalPolicy: this.dataRemovalPolicy,
    });
    const flowLogRole = new LeastPrivilegeRole(this, 'FlowLogRole', {
      assumedBy: new iam.ServicePrincipal('vpc-flow-logs.amazonaws.com'),
      description: 'Delivers VPC flow logs to their log group',
    });

    const vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(network.vpcCidr),
      maxAzs: network.maxAzs,
      natGateways: nat ? network.natGateways : 0,
      subnetConfiguration,
      restrictDefaultSecurityGroup: true,
      flowLogs: {
        All: {
          destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup, flowLogRole),
          trafficType: ec2.FlowLogTrafficType.ALL,
        },
      },
    });

    const egressSubnets = nat ? vpc.selectSubnets({ subnetGroupName: SUBNET_GROUPS.egress }).subnets : [];
    for (const subnet of egressSubnets) {
      acknowledge(
        subnet,
        COMPLIANCE_PACKS,
        'VPCNoUnrestrictedRouteToIGW',
        'The egress subnets hold only the NAT gateways (network.egress "nat"): their default route to the internet gateway is what NAT needs; no data service or instance is placed there and public IPs are never auto-assigned.',
      );
    }
    vpc.addGatewayEndpoint('S3Endpoint', { service: ec2.GatewayVpcEndpointAwsService.S3 });
    if (network.interfaceEndpoints.length > 0) {
      const endpointSecurityGroup = new ec2.SecurityGroup(this, 'EndpointSecurityGroup', {
        vpc,
        description: 'Interface endpoints: HTTPS from inside the VPC only',
        allowAllOutbound: false,
      });
      endpointSecurityGroup.addIngressRule(ec2.Peer.ipv4(network.vpcCidr), ec2.Port.tcp(443), 'HTTPS from the VPC');
      for (const name of network.interfaceEndpoints) {
        vpc.addInterfaceEndpoint(endpointId(name), {
          service: ec2.InterfaceVpcEndpointAwsService[name],
          subnets: { subnetGroupName: SUBNET_GROUPS.data },
          privateDnsEnabled: true,
          securityGroups: [endpointSecurityGroup],
          open: false,
        });
      }
    }
    return vpc;
  }
}

/** `SECRETS_MANAGER` -> `SecretsManagerEndpoint`: stable construct ids from config names. */
function endpointId(name: InterfaceEndpointName): string {
  return `${pascal(name.toLowerCase())}Endpoint`;
}
