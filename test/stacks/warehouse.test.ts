import * as fs from 'fs';
import * as path from 'path';
import { ArnFormat, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { WAREHOUSE_LOG_EXPORTS } from '../../lib/serving/warehouse';
import { STACK_KEYS, SynthesizedPlatform, synthPlatform } from '../support/platform';
import { actionsOf, asList, logicalId, ref, resourcesOf, rolePolicyStatements, statementsWithAction } from './template-helpers';

const CLUSTER_NAME = 'undercurrent-prod-warehouse';

/** The ARN of the prod cluster as a stack's template holds it (its partition, region and account). */
function clusterArnIn(stack: Stack): unknown {
  const arn = plain(
    stack.resolve(
      stack.formatArn({ service: 'redshift', resource: 'cluster', resourceName: CLUSTER_NAME, arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
    ),
  );
  expect(JSON.stringify(arn)).toMatch(new RegExp(`:redshift:.*:cluster:${CLUSTER_NAME}"`));
  return arn;
}

/** A resolved reference as plain JSON (as the template holds it). */
function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

describe('the warehouse in prod', () => {
  let platform: SynthesizedPlatform;
  let template: Template;
  let clusterId: string;

  beforeAll(() => {
    platform = synthPlatform('prod');
    template = platform.template('storage');
    clusterId = logicalId(platform.storage.warehouse!.cluster);
  });

  test('prod turns the warehouse on: two ra3.xlplus nodes, one cluster', () => {
    expect(platform.config.warehouse).toMatchObject({ enabled: true, nodeType: 'ra3.xlplus', numberOfNodes: 2 });
    template.resourceCountIs('AWS::Redshift::Cluster', 1);
    template.hasResourceProperties('AWS::Redshift::Cluster', {
      ClusterIdentifier: CLUSTER_NAME,
      ClusterType: 'multi-node',
      NodeType: 'ra3.xlplus',
      NumberOfNodes: 2,
    });
  });

  test('the cluster is private, in the isolated data subnets, with enhanced VPC routing', () => {
    const { vpc } = platform.foundation;
    const dataSubnets = vpc.isolatedSubnets.map((s) => ref(platform.storage, s.subnetId));
    expect(dataSubnets).toHaveLength(3);
    template.hasResourceProperties('AWS::Redshift::ClusterSubnetGroup', { SubnetIds: dataSubnets });
    const subnetGroupId = Object.keys(resourcesOf(template, 'AWS::Redshift::ClusterSubnetGroup'))[0];
    template.hasResourceProperties('AWS::Redshift::Cluster', {
      PubliclyAccessible: false,
      EnhancedVpcRouting: true,
      ClusterSubnetGroupName: { Ref: subnetGroupId },
      VpcSecurityGroupIds: [{ 'Fn::GetAtt': [logicalId(platform.storage.warehouse!.securityGroup), 'GroupId'] }],
    });
  });

  test('the cluster is encrypted with the lake key, which protects the gold data it copies', () => {
    // The key ID is cut from the lake key ARN the stack already imports (arn:...:key/<id>), so
    // the Foundation exports nothing for the warehouse.
    const lakeKeyArn = plain(ref(platform.storage, platform.foundation.keys.lake.keyArn));
    const lakeKeyId = { 'Fn::Select': [1, { 'Fn::Split': ['/', { 'Fn::Select': [5, { 'Fn::Split': [':', lakeKeyArn] }] }] }] };
    expect(platform.storage.warehouse!.key).toBe(platform.foundation.keys.lake);
    template.hasResourceProperties('AWS::Redshift::Cluster', { Encrypted: true, KmsKeyId: lakeKeyId });
    template.resourceCountIs('AWS::KMS::Key', 0);
  });

  test('it listens on the configured non-default port with the configured admin name', () => {
    template.hasResourceProperties('AWS::Redshift::Cluster', {
      Port: 5450,
      MasterUsername: 'warehouse_admin',
      DBName: 'analytics',
    });
  });

  test('the admin password is generated into Secrets Manager, encrypted with the lake key, and rotates monthly from the compute subnets', () => {
    const warehouse = platform.storage.warehouse!;
    const keyArn = plain(ref(platform.storage, warehouse.key.keyArn));
    const secrets = resourcesOf(template, 'AWS::SecretsManager::Secret');
    const [secretId] = Object.entries(secrets).find(([, s]) =>
      JSON.stringify(s.Properties?.GenerateSecretString).includes('warehouse_admin'),
    )!;
    expect(secrets[secretId].Properties).toMatchObject({
      KmsKeyId: keyArn,
      GenerateSecretString: { SecretStringTemplate: '{"username":"warehouse_admin"}', GenerateStringKey: 'password' },
    });
    template.hasResourceProperties('AWS::Redshift::Cluster', {
      MasterUserPassword: { 'Fn::Join': ['', ['{{resolve:secretsmanager:', { Ref: secretId }, ':SecretString:password::}}']] },
    });
    const dataClientSubnets = platform.foundation.vpc
      .selectSubnets(platform.foundation.dataClientSubnets)
      .subnetIds.flatMap((id, i) => (i === 0 ? [plain(ref(platform.storage, id))] : [',', plain(ref(platform.storage, id))]));
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      RotationRules: { ScheduleExpression: 'rate(30 days)' },
      HostedRotationLambda: Match.objectLike({
        RotationType: 'RedshiftSingleUser',
        KmsKeyArn: keyArn,
        VpcSubnetIds: { 'Fn::Join': ['', dataClientSubnets] },
      }),
    });
  });

  test('the rotation function reaches only HTTPS and the cluster port', () => {
    const rotationGroups = Object.entries(resourcesOf(template, 'AWS::EC2::SecurityGroup')).filter(([, g]) =>
      String(g.Properties?.GroupDescription).startsWith('Secret rotation of the warehouse admin'),
    );
    expect(rotationGroups).toHaveLength(1);
    const [rotationId, rotationGroup] = rotationGroups[0];
    expect(rotationGroup.Properties?.SecurityGroupEgress).toEqual([
      expect.objectContaining({ CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443 }),
    ]);
    expect(rotationGroup.Properties?.SecurityGroupIngress).toBeUndefined();
    const clusterGroup = { 'Fn::GetAtt': [logicalId(platform.storage.warehouse!.securityGroup), 'GroupId'] };
    template.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
      GroupId: { 'Fn::GetAtt': [rotationId, 'GroupId'] },
      DestinationSecurityGroupId: clusterGroup,
      FromPort: 5450,
      ToPort: 5450,
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: clusterGroup,
      SourceSecurityGroupId: { 'Fn::GetAtt': [rotationId, 'GroupId'] },
      FromPort: 5450,
      ToPort: 5450,
    });
  });

  test('the cluster security group admits nothing from any CIDR', () => {
    const group = resourcesOf(template, 'AWS::EC2::SecurityGroup')[logicalId(platform.storage.warehouse!.securityGroup)];
    expect(group.Properties?.SecurityGroupIngress).toBeUndefined();
    const ingress = Object.values(resourcesOf(template, 'AWS::EC2::SecurityGroupIngress')).filter(
      (rule) => JSON.stringify(rule.Properties?.GroupId).includes(logicalId(platform.storage.warehouse!.securityGroup)),
    );
    for (const rule of ingress) {
      expect(rule.Properties).not.toHaveProperty('CidrIp');
      expect(rule.Properties).not.toHaveProperty('CidrIpv6');
      expect(rule.Properties).toHaveProperty('SourceSecurityGroupId');
    }
  });

  test('the parameter group requires TLS and logs user activity', () => {
    const [groupId] = Object.keys(resourcesOf(template, 'AWS::Redshift::ClusterParameterGroup'));
    template.hasResourceProperties('AWS::Redshift::ClusterParameterGroup', {
      Parameters: Match.arrayEquals([
        { ParameterName: 'require_ssl', ParameterValue: 'true' },
        { ParameterName: 'enable_user_activity_logging', ParameterValue: 'true' },
      ]),
    });
    template.hasResourceProperties('AWS::Redshift::Cluster', { ClusterParameterGroupName: { Ref: groupId } });
  });

  test('audit logs (connection, user, user activity) are exported to CloudWatch Logs, not to a bucket', () => {
    const cluster = resourcesOf(template, 'AWS::Redshift::Cluster')[clusterId];
    expect(cluster.Properties?.LoggingProperties).toEqual({
      LogDestinationType: 'cloudwatch',
      LogExports: ['connectionlog', 'userlog', 'useractivitylog'],
    });
    expect([...WAREHOUSE_LOG_EXPORTS].sort()).toEqual(['connectionlog', 'useractivitylog', 'userlog']);
  });

  test('each export has its log group in this stack, named as Redshift exports it, under the ops key, with retention, created before the cluster', () => {
    const opsKey = plain(ref(platform.storage, platform.foundation.keys.ops.keyArn));
    const groups = resourcesOf(template, 'AWS::Logs::LogGroup');
    const cluster = resourcesOf(template, 'AWS::Redshift::Cluster')[clusterId];
    const redshiftGroups = Object.entries(groups).filter(([, g]) => String(g.Properties?.LogGroupName).startsWith('/aws/redshift/'));
    expect(redshiftGroups).toHaveLength(3);
    for (const logExport of ['connectionlog', 'userlog', 'useractivitylog']) {
      const matches = redshiftGroups.filter(([, g]) => g.Properties?.LogGroupName === `/aws/redshift/cluster/${CLUSTER_NAME}/${logExport}`);
      expect(matches).toHaveLength(1);
      const [[groupId, group]] = matches;
      expect(group.Properties).toEqual({
        LogGroupName: `/aws/redshift/cluster/${CLUSTER_NAME}/${logExport}`,
        KmsKeyId: opsKey,
        RetentionInDays: 365,
        Tags: expect.any(Array),
      });
      expect(group).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
      // Redshift would otherwise create the group itself, without key or retention.
      expect(asList(cluster.DependsOn)).toContain(groupId);
    }
    // The ops key is the Foundation's, whose policy lets CloudWatch Logs use it for this account's groups.
    expect(JSON.stringify(opsKey)).toContain(logicalId(platform.foundation.keys.ops));
  });

  test('no bucket policy of any stack lets Redshift in, and nothing of the warehouse lands in another stack', () => {
    for (const key of STACK_KEYS) {
      const stackTemplate = platform.template(key);
      for (const policy of Object.values(resourcesOf(stackTemplate, 'AWS::S3::BucketPolicy'))) {
        expect(JSON.stringify(policy)).not.toContain('redshift.amazonaws.com');
      }
      if (key !== 'storage') {
        expect(JSON.stringify(stackTemplate.toJSON())).not.toContain(CLUSTER_NAME);
      }
    }
  });

  test('the Foundation template is the same whether the warehouse is on or off', () => {
    const off = synthPlatform('prod', { patch: { warehouse: { enabled: false } } });
    expect(off.storage.warehouse).toBeUndefined();
    expect(platform.template('foundation').toJSON()).toEqual(off.template('foundation').toJSON());
  });

  test('automated snapshots are kept 35 days, maintenance is on the configured window, and the cluster is retained', () => {
    template.hasResourceProperties('AWS::Redshift::Cluster', {
      AutomatedSnapshotRetentionPeriod: 35,
      PreferredMaintenanceWindow: 'sun:03:00-sun:03:30',
      AllowVersionUpgrade: true,
    });
    template.hasResource('AWS::Redshift::Cluster', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });

  test('the COPY role is assumed by Redshift, attached to the cluster, and reads only the gold zone, its key and the gold catalog', () => {
    const role = platform.storage.warehouse!.copyRole;
    const roleId = logicalId(role);
    template.hasResourceProperties('AWS::Redshift::Cluster', { IamRoles: [{ 'Fn::GetAtt': [roleId, 'Arn'] }] });
    expect(template.toJSON().Resources[clusterId].Properties.IamRoles).toHaveLength(1);
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'redshift.amazonaws.com' } }],
      },
    });
    const statements = rolePolicyStatements(template, 'Storage/Warehouse/CopyRole');
    const gold = logicalId(platform.storage.buckets.gold);
    expect(statements).toHaveLength(4);
    expect(statementsWithAction(statements, 's3:GetObject')).toEqual([
      { Effect: 'Allow', Action: 's3:GetObject', Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [gold, 'Arn'] }, '/*']] } },
    ]);
    expect(statementsWithAction(statements, 's3:ListBucket')).toEqual([
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: { 'Fn::GetAtt': [gold, 'Arn'] } },
    ]);
    expect(statementsWithAction(statements, 'kms:Decrypt')).toEqual([
      { Effect: 'Allow', Action: 'kms:Decrypt', Resource: plain(ref(platform.storage, platform.foundation.keys.lake.keyArn)) },
    ]);
    const [glueStatement] = statementsWithAction(statements, 'glue:GetTable');
    expect(actionsOf(glueStatement)).toEqual(['glue:GetDatabase', 'glue:GetPartition', 'glue:GetPartitions', 'glue:GetTable', 'glue:GetTables']);
    const database = platform.storage.databases.gold;
    const goldTables = platform.storage.formatArn({ service: 'glue', resource: 'table', resourceName: `${database.databaseName}/*` });
    expect(asList(glueStatement.Resource)).toEqual(
      [database.catalog.catalogArn, database.databaseArn, goldTables].map((arn) => plain(ref(platform.storage, arn))),
    );
    expect(JSON.stringify(glueStatement.Resource)).toContain(`"${logicalId(database)}"},"/*"`);
    // Nothing of the other zones.
    const text = JSON.stringify(statements);
    for (const zone of ['raw', 'curated', 'quarantine', 'queryResults'] as const) {
      expect(text).not.toContain(logicalId(platform.storage.buckets[zone]));
    }
  });

  test('the COPY role is made the default IAM role of the cluster on create and update, by a call on this cluster only', () => {
    const roleId = logicalId(platform.storage.warehouse!.copyRole);
    const call = {
      'Fn::Join': [
        '',
        [
          '{"service":"Redshift","action":"ModifyClusterIamRoles","parameters":{"ClusterIdentifier":"',
          { Ref: clusterId },
          '","DefaultIamRoleArn":"',
          { 'Fn::GetAtt': [roleId, 'Arn'] },
          `"},"physicalResourceId":{"id":"${CLUSTER_NAME}"}}`,
        ],
      ],
    };
    const resources = Object.values(resourcesOf(template, 'Custom::WarehouseDefaultRole'));
    expect(resources).toHaveLength(1);
    const [resource] = resources;
    expect(resource.Properties?.Create).toEqual(call);
    expect(resource.Properties?.Update).toEqual(call);
    expect(resource.Properties?.Delete).toBeUndefined();
    expect(resource.Properties?.InstallLatestAwsSdk).toBe(false);
  });

  test('the default-role function may modify the roles of this cluster and pass the COPY role to Redshift, nothing else', () => {
    const statements = rolePolicyStatements(template, 'Storage/Warehouse/DefaultRoleFunctionRole');
    const roleId = logicalId(platform.storage.warehouse!.copyRole);
    expect(statementsWithAction(statements, 'redshift:ModifyClusterIamRoles')).toEqual([
      {
        Effect: 'Allow',
        Action: 'redshift:ModifyClusterIamRoles',
        Resource: clusterArnIn(platform.storage),
      },
    ]);
    expect(statementsWithAction(statements, 'iam:PassRole')).toEqual([
      {
        Effect: 'Allow',
        Action: 'iam:PassRole',
        Resource: { 'Fn::GetAtt': [roleId, 'Arn'] },
        Condition: { StringEquals: { 'iam:PassedToService': 'redshift.amazonaws.com' } },
      },
    ]);
    const other = statements.filter(
      (st) => !['redshift:ModifyClusterIamRoles', 'iam:PassRole'].some((a) => actionsOf(st).includes(a)),
    );
    for (const st of other) {
      expect(actionsOf(st).every((a) => a.startsWith('logs:'))).toBe(true);
    }
    expect(JSON.stringify(statements)).not.toContain('"*"');
    // Its function runs with that role and logs to a KMS-encrypted group with retention.
    const opsKey = plain(ref(platform.storage, platform.foundation.keys.ops.keyArn));
    const functionRoleId = logicalId(platform.storage.warehouse!.node.findChild('DefaultRoleFunctionRole'));
    const functions = Object.values(resourcesOf(template, 'AWS::Lambda::Function')).filter(
      (f) => JSON.stringify(f.Properties?.Role) === JSON.stringify({ 'Fn::GetAtt': [functionRoleId, 'Arn'] }),
    );
    expect(functions).toHaveLength(1);
    const [fn] = functions;
    const logGroupId = (fn.Properties?.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
    expect(resourcesOf(template, 'AWS::Logs::LogGroup')[logGroupId].Properties).toMatchObject({ KmsKeyId: opsKey, RetentionInDays: 365 });
  });

  test('alarms on health, disk space and CPU notify the alerts topic on alarm and recovery', () => {
    const topic = ref(platform.storage, platform.foundation.alertsTopic.topicArn);
    for (const [name, metric, statistic, comparison, threshold] of [
      ['Critical-WarehouseUnhealthy', 'HealthStatus', 'Minimum', 'LessThanThreshold', 1],
      ['Warning-WarehouseDiskSpace', 'PercentageDiskSpaceUsed', 'Maximum', 'GreaterThanOrEqualToThreshold', 80],
      ['Warning-WarehouseCpu', 'CPUUtilization', 'Average', 'GreaterThanOrEqualToThreshold', 90],
    ] as const) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: `Undercurrent-prod-Storage-${name}`,
        Namespace: 'AWS/Redshift',
        MetricName: metric,
        Statistic: statistic,
        ComparisonOperator: comparison,
        Threshold: threshold,
        Dimensions: [{ Name: 'ClusterIdentifier', Value: CLUSTER_NAME }],
        AlarmActions: [topic],
        OKActions: [topic],
      });
    }
  });
});

describe.each(['dev', 'staging'] as const)('the warehouse in %s', (envName) => {
  test('is off: no Redshift resource, no warehouse key, rotation, log group or alarm, nothing for Redshift in the Foundation', () => {
    const platform = synthPlatform(envName);
    expect(platform.config.warehouse.enabled).toBe(false);
    expect(platform.storage.warehouse).toBeUndefined();
    const types = new Set(Object.values(platform.template('storage').toJSON().Resources).map((r) => (r as { Type: string }).Type));
    expect([...types].filter((t) => t.startsWith('AWS::Redshift::'))).toEqual([]);
    const text = JSON.stringify(platform.template('storage').toJSON());
    expect(text).not.toContain('warehouse');
    expect(text).not.toContain('Warehouse');
    expect(text).not.toContain('/aws/redshift/');
    // Nor a statement for Redshift in any bucket policy.
    expect(JSON.stringify(platform.template('foundation').toJSON())).not.toContain('redshift.amazonaws.com');
  });
});

describe('the warehouse turned on in dev (single node, NAT egress), with -c removeDataOnDestroy=true', () => {
  let platform: SynthesizedPlatform;
  let template: Template;

  beforeAll(() => {
    // With the compliance checks: synthesis throws on any unacknowledged finding.
    platform = synthPlatform('dev', {
      patch: { warehouse: { enabled: true, nodeType: 'ra3.large', numberOfNodes: 1, snapshotRetentionDays: 1 } },
      context: { removeDataOnDestroy: 'true' },
      compliance: true,
    });
    template = platform.template('storage');
  });

  test('is a single-node cluster that dev may destroy, with one day of snapshots', () => {
    template.hasResourceProperties('AWS::Redshift::Cluster', {
      ClusterIdentifier: 'undercurrent-dev-warehouse',
      ClusterType: 'single-node',
      NodeType: 'ra3.large',
      NumberOfNodes: Match.absent(),
      AutomatedSnapshotRetentionPeriod: 1,
    });
    template.hasResource('AWS::Redshift::Cluster', { DeletionPolicy: 'Delete' });
  });

  test('its audit log groups are deleted with the stack and keep dev\'s retention', () => {
    const groups = Object.values(resourcesOf(template, 'AWS::Logs::LogGroup')).filter((g) =>
      String(g.Properties?.LogGroupName).startsWith('/aws/redshift/cluster/undercurrent-dev-warehouse/'),
    );
    expect(groups.map((g) => g.Properties?.LogGroupName).sort()).toEqual(
      ['connectionlog', 'useractivitylog', 'userlog'].map((e) => `/aws/redshift/cluster/undercurrent-dev-warehouse/${e}`),
    );
    for (const group of groups) {
      expect(group).toMatchObject({ DeletionPolicy: 'Delete', Properties: { RetentionInDays: 14 } });
    }
  });

  test('runs the rotation in the compute subnets (behind NAT) while the cluster stays in the isolated data subnets', () => {
    const { vpc, dataClientSubnets } = platform.foundation;
    const subnetIds = (ids: string[]) => ids.map((id) => plain(ref(platform.storage, id)));
    const compute = subnetIds(vpc.selectSubnets(dataClientSubnets).subnetIds);
    const data = subnetIds(vpc.isolatedSubnets.map((s) => s.subnetId));
    expect(compute).not.toEqual(data);
    template.hasResourceProperties('AWS::Redshift::ClusterSubnetGroup', { SubnetIds: data });
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      HostedRotationLambda: Match.objectLike({ VpcSubnetIds: { 'Fn::Join': ['', [compute[0], ',', compute[1]]] } }),
    });
  });

  test('passes the four nag packs and the CloudFormation validator, acknowledging only the object and table wildcards of the COPY role and the Lambda findings of the default-role function', () => {
    const report = JSON.parse(fs.readFileSync(path.join(platform.app.outdir, 'validation-report.json'), 'utf8'));
    expect(report.pluginReports.flatMap((r: { violations: unknown[] }) => r.violations)).toEqual([]);
    const acks: string[] = [];
    for (const construct of platform.storage.warehouse!.node.findAll()) {
      for (const entry of construct.node.metadata) {
        if (entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY) {
          acks.push(...Object.keys(entry.data as Record<string, string>).map((id) => id.replace(/^[A-Za-z]+::/, '')));
        }
      }
    }
    expect(acks.sort()).toEqual([
      expect.stringMatching(/^AwsSolutions-IAM5\[Resource::<GoldZone[0-9A-F]+\.Arn>\/\*\]$/),
      expect.stringMatching(/^AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:table\/<GoldDatabase[0-9A-F]+>\/\*\]$/),
    ]);
    // The default-role function (the stack's AwsCustomResource singleton): outside the VPC,
    // synchronous, once per deployment.
    const provider = platform.storage.warehouse!.defaultRole.node.findChild('Provider') as lambda.SingletonFunction;
    const fnAcks = provider.permissionsNode.defaultChild!.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) => Object.keys(entry.data as Record<string, string>).map((id) => id.replace(/^[A-Za-z0-9.]+::/, '')));
    expect(fnAcks.sort()).toEqual(
      ['HIPAA.Security', 'NIST.800.53.R5', 'PCI.DSS.321']
        .flatMap((pack) => ['LambdaConcurrency', 'LambdaDLQ', 'LambdaInsideVPC'].map((rule) => `${pack}-${rule}`))
        .sort(),
    );
  });
});
