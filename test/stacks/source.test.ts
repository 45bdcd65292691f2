import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { IConstruct } from 'constructs';
import { STACK_KEYS, SynthesizedPlatform, synthPlatform } from '../support/platform';
import {
  acknowledgedRules,
  asList,
  CfnResourceJson,
  JsonObject,
  logicalId,
  parseJoinedJson,
  ref,
  resourcesOf,
  rolePolicyStatements,
} from './template-helpers';

const LOG_KINDS = ['error', 'slowquery', 'audit'] as const;

/** The characters a generated service password leaves out: they break JDBC URLs and DMS endpoint settings. */
const PASSWORD_EXCLUDED = ' %+~`#$&*()|[]{}:;<>?!\'/@"\\';

/**
 * The fingerprint of the source migrations as the custom resource must carry it: the sha256 of
 * `<file>:<sha256 of its text>` per migration file in lib/source/migrations/, in file-name
 * order, one per line. Computed here from the files, not by the implementation.
 */
function migrationFilesFingerprint(): string {
  const dir = path.join(__dirname, '..', '..', 'lib', 'source', 'migrations');
  const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');
  const files = fs.readdirSync(dir).filter((name) => name.endsWith('.sql')).sort();
  return sha256(files.map((name) => `${name}:${sha256(fs.readFileSync(path.join(dir, name), 'utf8'))}`).join('\n'));
}

/** The user names of the stack's generated secrets, sorted. */
function usernames(template: Template): string[] {
  return Object.values(resourcesOf(template, 'AWS::SecretsManager::Secret'))
    .map((s) => JSON.parse(s.Properties?.GenerateSecretString?.SecretStringTemplate ?? '{}').username as string)
    .sort();
}

describe.each([
  {
    envName: 'dev' as const,
    label: 'dev',
    cdc: false,
    multiAz: false,
    deletionProtection: false,
    backupRetention: 1,
    // Without -c removeDataOnDestroy=true even dev retains its data (see the describe below).
    deletionPolicy: 'Retain',
    deleteAutomatedBackups: false,
    binlogRetentionHours: '24',
    loadSampleData: 'true',
    computeGroup: 'Compute',
    // 10% of 20 GiB.
    freeStorageThreshold: 2_147_483_648,
    serviceUsers: [{ id: 'ExtractUserSecret', username: 'undercurrent_extract', role: 'extract' }],
  },
  {
    envName: 'prod' as const,
    label: 'prod',
    cdc: false,
    multiAz: true,
    deletionProtection: true,
    backupRetention: 35,
    deletionPolicy: 'Retain',
    deleteAutomatedBackups: false,
    binlogRetentionHours: '168',
    loadSampleData: 'false',
    computeGroup: 'Data',
    // 10% of 100 GiB.
    freeStorageThreshold: 10_737_418_240,
    serviceUsers: [{ id: 'ExtractUserSecret', username: 'undercurrent_extract', role: 'extract' }],
  },
  // CDC is off in every shipped environment; the switch still adds the replication user.
  {
    envName: 'prod' as const,
    label: 'prod with cdc.enabled switched on',
    cdc: true,
    multiAz: true,
    deletionProtection: true,
    backupRetention: 35,
    deletionPolicy: 'Retain',
    deleteAutomatedBackups: false,
    binlogRetentionHours: '168',
    loadSampleData: 'false',
    computeGroup: 'Data',
    freeStorageThreshold: 10_737_418_240,
    serviceUsers: [
      { id: 'ExtractUserSecret', username: 'undercurrent_extract', role: 'extract' },
      { id: 'ReplicationUserSecret', username: 'undercurrent_cdc', role: 'replication' },
    ],
  },
])('SourceStack in $label', (expected) => {
  const { envName } = expected;
  let platform: SynthesizedPlatform;
  let template: Template;
  let db: JsonObject;
  let dbResource: { DeletionPolicy?: string; UpdateReplacePolicy?: string; DependsOn?: string | string[] };

  /** The secret of the service user of a role, as the source stack exposes it. */
  const serviceSecret = (role: string): secretsmanager.ISecret => {
    const secret = { extract: platform.source.extractSecret, replication: platform.source.replicationSecret }[role];
    if (!secret) {
      throw new Error(`no ${role} service user secret in ${envName}`);
    }
    return secret;
  };

  beforeAll(() => {
    platform = synthPlatform(envName, expected.cdc ? { patch: { cdc: { enabled: true } } } : {});
    template = platform.template('source');
    const instances = resourcesOf(template, 'AWS::RDS::DBInstance');
    expect(Object.keys(instances)).toHaveLength(1);
    dbResource = Object.values(instances)[0];
    db = Object.values(instances)[0].Properties!;
  });

  test('the engine is MySQL 8.4, the LTS line', () => {
    expect(db.Engine).toBe('mysql');
    expect(db.EngineVersion).toMatch(/^8\.4\.\d+$/);
    template.hasResourceProperties('AWS::RDS::DBParameterGroup', { Family: 'mysql8.4' });
    template.hasResourceProperties('AWS::RDS::OptionGroup', { EngineName: 'mysql', MajorEngineVersion: '8.4' });
  });

  test('storage is encrypted with the source key imported from Foundation', () => {
    expect(db.StorageEncrypted).toBe(true);
    expect(db.KmsKeyId).toEqual(ref(platform.source, platform.foundation.keys.source.keyArn));
    expect(db.KmsKeyId).toEqual({ 'Fn::ImportValue': expect.stringMatching(/-Foundation:/) });
  });

  test('the instance is not publicly accessible', () => {
    expect(db.PubliclyAccessible).toBe(false);
  });

  test('the DB subnet group holds exactly the isolated data subnets', () => {
    template.resourceCountIs('AWS::RDS::DBSubnetGroup', 1);
    const [groupId, group] = Object.entries(resourcesOf(template, 'AWS::RDS::DBSubnetGroup'))[0];
    expect(db.DBSubnetGroupName).toEqual({ Ref: groupId });
    const isolated = platform.foundation.vpc.isolatedSubnets.map((s) => ref(platform.source, s.subnetId));
    expect(isolated.length).toBeGreaterThan(0);
    expect(group.Properties?.SubnetIds).toEqual(isolated);
    // Never a compute subnet behind NAT or a public egress subnet (the foundation tests check
    // that the data subnets have no route out of the VPC).
    const outside = [...platform.foundation.vpc.privateSubnets, ...platform.foundation.vpc.publicSubnets].map((s) =>
      ref(platform.source, s.subnetId),
    );
    for (const subnet of outside) {
      expect(group.Properties?.SubnetIds).not.toContainEqual(subnet);
    }
  });

  test('the port comes from the config and is not MySQL’s default 3306', () => {
    expect(db.Port).toBe(String(platform.config.source.port));
    expect(db.Port).not.toBe('3306');
  });

  test('IAM database authentication is on', () => {
    expect(db.EnableIAMDatabaseAuthentication).toBe(true);
  });

  test('RDS manages the admin password in Secrets Manager, encrypted with the source key', () => {
    expect(db.ManageMasterUserPassword).toBe(true);
    expect(db.MasterUserSecret).toEqual({ KmsKeyId: ref(platform.source, platform.foundation.keys.source.keyArn) });
    expect(db.MasterUserPassword).toBeUndefined();
    expect(platform.source.secret.secretArn).toBe(platform.source.database.secret!.secretArn);
    expect(ref(platform.source, platform.source.secret.secretArn)).toEqual({
      'Fn::GetAtt': [logicalId(platform.source.database), 'MasterUserSecret.SecretArn'],
    });
    // The admin secret is RDS's own: the stack's AWS::SecretsManager::Secret resources are the service users' only.
    expect(Object.keys(resourcesOf(template, 'AWS::SecretsManager::Secret')).sort()).toEqual(
      expected.serviceUsers.map(({ id }) => logicalId(platform.source.node.findChild(id))).sort(),
    );
  });

  test('the parameter group requires TLS and writes a row-based binlog for CDC', () => {
    const [groupId] = Object.keys(resourcesOf(template, 'AWS::RDS::DBParameterGroup'));
    expect(db.DBParameterGroupName).toEqual({ Ref: groupId });
    template.hasResourceProperties('AWS::RDS::DBParameterGroup', {
      Parameters: Match.objectLike({ require_secure_transport: '1', binlog_format: 'ROW' }),
    });
  });

  test('the server certificate is signed by the pinned RDS CA rds-ca-rsa2048-g1, not by whatever RDS defaults to (docs/source-tls.md)', () => {
    expect(db.CACertificateIdentifier).toBe('rds-ca-rsa2048-g1');
    template.hasResourceProperties('AWS::RDS::DBInstance', { CACertificateIdentifier: 'rds-ca-rsa2048-g1' });
  });

  test('the option group turns on the audit plugin', () => {
    const [groupId] = Object.keys(resourcesOf(template, 'AWS::RDS::OptionGroup'));
    expect(db.OptionGroupName).toEqual({ Ref: groupId });
    template.hasResourceProperties('AWS::RDS::OptionGroup', {
      OptionConfigurations: [Match.objectLike({ OptionName: 'MARIADB_AUDIT_PLUGIN' })],
    });
  });

  test('the error, slow-query and audit logs are exported to CloudWatch Logs', () => {
    expect(db.EnableCloudwatchLogsExports).toEqual(['error', 'slowquery', 'audit']);
  });

  test.each(LOG_KINDS)(
    'the %s log group is created before the instance as /aws/rds/instance/<id>/<kind>, KMS-encrypted, with retention',
    (kind) => {
      const groups = resourcesOf(template, 'AWS::Logs::LogGroup');
      const match = Object.entries(groups).filter(
        ([, g]) => g.Properties?.LogGroupName === `/aws/rds/instance/${db.DBInstanceIdentifier}/${kind}`,
      );
      expect(match).toHaveLength(1);
      const [groupId, group] = match[0];
      expect(group.Properties).toEqual(
        expect.objectContaining({
          KmsKeyId: ref(platform.source, platform.foundation.keys.ops.keyArn),
          RetentionInDays: platform.config.dataProtection.logRetentionDays,
        }),
      );
      expect(group.DeletionPolicy).toBe(expected.deletionPolicy);
      expect(asList(dbResource.DependsOn)).toContain(groupId);
    },
  );

  test('the instance identifier names the environment', () => {
    expect(db.DBInstanceIdentifier).toBe(`undercurrent-${envName}-source`);
  });

  test('enhanced monitoring samples every 60 seconds with the monitoring role', () => {
    expect(db.MonitoringInterval).toBe(60);
    const roles = resourcesOf(template, 'AWS::IAM::Role');
    const [roleId] = Object.entries(roles).find(
      ([, r]) => r.Properties?.AssumeRolePolicyDocument.Statement[0].Principal.Service === 'monitoring.rds.amazonaws.com',
    )!;
    expect(db.MonitoringRoleArn).toEqual({ 'Fn::GetAtt': [roleId, 'Arn'] });
  });

  test(`Multi-AZ is ${expected.multiAz} and deletion protection is ${expected.deletionProtection}`, () => {
    expect(db.MultiAZ).toBe(expected.multiAz);
    expect(db.DeletionProtection).toBe(expected.deletionProtection);
  });

  test(`automated backups are kept ${expected.backupRetention} day(s)`, () => {
    expect(db.BackupRetentionPeriod).toBe(expected.backupRetention);
    expect(db.BackupRetentionPeriod).toBe(platform.config.source.backupRetentionDays);
    expect(db.DeleteAutomatedBackups).toBe(expected.deleteAutomatedBackups);
  });

  test(`the instance has DeletionPolicy ${expected.deletionPolicy}`, () => {
    expect(dbResource.DeletionPolicy).toBe(expected.deletionPolicy);
    expect(dbResource.UpdateReplacePolicy).toBe(expected.deletionPolicy);
  });

  if (envName === 'dev') {
    test('Performance Insights is off on the micro instance class, which does not offer it', () => {
      expect(db.DBInstanceClass).toBe('db.t4g.micro');
      expect(db.EnablePerformanceInsights).toBe(false);
      expect(db.PerformanceInsightsKMSKeyId).toBeUndefined();
    });
  } else {
    test('Performance Insights is on and encrypted with the source key', () => {
      expect(db.EnablePerformanceInsights).toBe(true);
      expect(db.PerformanceInsightsKMSKeyId).toEqual(ref(platform.source, platform.foundation.keys.source.keyArn));
    });
  }

  describe('database security group', () => {
    let dbSgId: string;
    let setupSgId: string;
    let rotationSgId: string;

    beforeAll(() => {
      dbSgId = logicalId(platform.source.securityGroup);
      setupSgId = logicalId(platform.source.setup.node.findChild('SecurityGroup'));
      rotationSgId = logicalId(platform.source.node.findChild('RotationSecurityGroup'));
    });

    test('the instance uses only the database security group, which sends nothing out and has no inline ingress', () => {
      expect(db.VPCSecurityGroups).toEqual([{ 'Fn::GetAtt': [dbSgId, 'GroupId'] }]);
      const group = resourcesOf(template, 'AWS::EC2::SecurityGroup')[dbSgId];
      expect(group.Properties?.SecurityGroupIngress).toBeUndefined();
      // CDK's placeholder for "no egress at all".
      expect(group.Properties?.SecurityGroupEgress).toEqual([
        expect.objectContaining({ CidrIp: '255.255.255.255/32', Description: 'Disallow all traffic' }),
      ]);
      const egressOfDb = Object.values(resourcesOf(template, 'AWS::EC2::SecurityGroupEgress')).filter(
        (r) => r.Properties?.GroupId?.['Fn::GetAtt']?.[0] === dbSgId,
      );
      expect(egressOfDb).toEqual([]);
    });

    test('in this stack the database admits only the schema-setup function’s and the secret rotation’s groups, on the database port', () => {
      const port = platform.config.source.port;
      const rules = Object.values(resourcesOf(template, 'AWS::EC2::SecurityGroupIngress')).map((r) => r.Properties);
      expect(rules).toHaveLength(2);
      expect(rules).toEqual(
        expect.arrayContaining([
          {
            GroupId: { 'Fn::GetAtt': [dbSgId, 'GroupId'] },
            SourceSecurityGroupId: { 'Fn::GetAtt': [setupSgId, 'GroupId'] },
            IpProtocol: 'tcp',
            FromPort: port,
            ToPort: port,
            Description: 'Source schema setup function reaches the database',
          },
          {
            GroupId: { 'Fn::GetAtt': [dbSgId, 'GroupId'] },
            SourceSecurityGroupId: { 'Fn::GetAtt': [rotationSgId, 'GroupId'] },
            IpProtocol: 'tcp',
            FromPort: port,
            ToPort: port,
            Description: 'Secret rotation of the service users reaches the database',
          },
        ]),
      );
    });

    test(`across the platform the database admits only the setup, rotation, extract${expected.cdc ? ' and CDC' : ''} groups, on the configured port, never a CIDR`, () => {
      const port = platform.config.source.port;
      const admitted: { stage: string; from: unknown; rule: JsonObject }[] = [];
      for (const key of STACK_KEYS) {
        const stack = platform[key];
        const dbGroup = ref(stack, platform.source.securityGroup.securityGroupId);
        for (const rule of Object.values(resourcesOf(platform.template(key), 'AWS::EC2::SecurityGroupIngress'))) {
          if (JSON.stringify(rule.Properties?.GroupId) === JSON.stringify(dbGroup)) {
            admitted.push({ stage: key, from: rule.Properties?.SourceSecurityGroupId, rule: rule.Properties! });
          }
        }
      }
      // How the rule of each stack names a group: GetAtt in its own stack, an import otherwise.
      const groupOf = (stack: 'source' | 'ingestion', construct: IConstruct): unknown =>
        ref(platform[stack], (construct as ec2.ISecurityGroup).securityGroupId);
      const expectedSources = [
        { stage: 'source', from: groupOf('source', platform.source.node.findChild('RotationSecurityGroup')) },
        { stage: 'source', from: groupOf('source', platform.source.setup.node.findChild('SecurityGroup')) },
        { stage: 'ingestion', from: groupOf('ingestion', platform.ingestion.node.findChild('ExtractSecurityGroup')) },
        ...(expected.cdc
          ? [{ stage: 'ingestion', from: groupOf('ingestion', platform.ingestion.node.findChild('CdcSecurityGroup')) }]
          : []),
      ];
      expect(admitted.map(({ stage, from }) => ({ stage, from }))).toEqual(expectedSources);
      for (const { rule } of admitted) {
        expect(rule).toEqual(
          expect.objectContaining({ IpProtocol: 'tcp', FromPort: port, ToPort: port, SourceSecurityGroupId: expect.anything() }),
        );
        expect(rule.CidrIp).toBeUndefined();
        expect(rule.CidrIpv6).toBeUndefined();
        expect(rule.SourcePrefixListId).toBeUndefined();
      }
      // And no stack adds an inline rule to it (it is a Source resource: only Source could).
      expect(resourcesOf(template, 'AWS::EC2::SecurityGroup')[logicalId(platform.source.securityGroup)].Properties?.SecurityGroupIngress).toBeUndefined();
    });

    test('the only 0.0.0.0/0 in the stack are the setup function’s and the secret rotation’s HTTPS egress to AWS APIs', () => {
      const leaves: string[] = [];
      const walk = (value: unknown, path: string): void => {
        if (value === '0.0.0.0/0') {
          leaves.push(path);
        } else if (value !== null && typeof value === 'object') {
          for (const [k, v] of Object.entries(value)) {
            walk(v, `${path}.${k}`);
          }
        }
      };
      walk(template.toJSON().Resources, 'Resources');
      expect(leaves.sort()).toEqual(
        [setupSgId, rotationSgId].map((id) => `Resources.${id}.Properties.SecurityGroupEgress.0.CidrIp`).sort(),
      );
      for (const id of [setupSgId, rotationSgId]) {
        expect(resourcesOf(template, 'AWS::EC2::SecurityGroup')[id].Properties?.SecurityGroupEgress[0]).toEqual(
          expect.objectContaining({ CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443 }),
        );
      }
      expect(JSON.stringify(template.toJSON())).not.toContain('::/0');
    });
  });

  describe('alarms', () => {
    const topic = (): unknown => ref(platform.source, platform.foundation.alertsTopic.topicArn);
    const dimensions = (): unknown => [{ Name: 'DBInstanceIdentifier', Value: { Ref: logicalId(platform.source.database) } }];

    test('the stage has exactly three alarms', () => {
      template.resourceCountIs('AWS::CloudWatch::Alarm', 3);
    });

    test('the DatabaseCpu warning fires when average CPU is at least 80% for three 5-minute periods', () => {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: `Undercurrent-${envName}-Source-Warning-DatabaseCpu`,
        Namespace: 'AWS/RDS',
        MetricName: 'CPUUtilization',
        Dimensions: dimensions(),
        Statistic: 'Average',
        Period: 300,
        Threshold: 80,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        EvaluationPeriods: 3,
        AlarmActions: [topic()],
        OKActions: [topic()],
      });
    });

    test(`the DatabaseFreeStorage alarm fires when free storage is at or below 10% of the allocation (${expected.freeStorageThreshold} bytes)`, () => {
      expect(platform.config.source.allocatedStorageGiB * 1024 ** 3 * 0.1).toBe(expected.freeStorageThreshold);
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: `Undercurrent-${envName}-Source-Critical-DatabaseFreeStorage`,
        Namespace: 'AWS/RDS',
        MetricName: 'FreeStorageSpace',
        Dimensions: dimensions(),
        Statistic: 'Minimum',
        Period: 300,
        Threshold: expected.freeStorageThreshold,
        ComparisonOperator: 'LessThanOrEqualToThreshold',
        EvaluationPeriods: 1,
        AlarmActions: [topic()],
        OKActions: [topic()],
      });
    });

    test('the DatabaseConnections warning fires at the expected connection ceiling for two periods', () => {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: `Undercurrent-${envName}-Source-Warning-DatabaseConnections`,
        Namespace: 'AWS/RDS',
        MetricName: 'DatabaseConnections',
        Dimensions: dimensions(),
        Statistic: 'Maximum',
        Period: 300,
        Threshold: 100,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        EvaluationPeriods: 2,
        AlarmActions: [topic()],
        OKActions: [topic()],
      });
    });

    test('every alarm notifies the alerts topic imported from Foundation, and only it', () => {
      expect(topic()).toEqual({ 'Fn::ImportValue': expect.stringMatching(/^Undercurrent-\w+-Foundation:/) });
      for (const alarm of Object.values(resourcesOf(template, 'AWS::CloudWatch::Alarm'))) {
        expect(alarm.Properties?.AlarmActions).toEqual([topic()]);
        expect(alarm.Properties?.OKActions).toEqual([topic()]);
        expect(alarm.Properties?.TreatMissingData).toBe('notBreaching');
      }
    });
  });

  describe('schema setup', () => {
    let setup: CfnResourceJson;
    let fn: JsonObject;
    let fnId: string;
    let frameworkId: string;
    let setupSgId: string;
    let roleStatements: ReturnType<typeof rolePolicyStatements>;

    beforeAll(() => {
      const resources = resourcesOf(template, 'Custom::SourceDatabaseSetup');
      expect(Object.keys(resources)).toHaveLength(1);
      [setup] = Object.values(resources);
      fnId = logicalId(platform.source.setup.function);
      fn = resourcesOf(template, 'AWS::Lambda::Function')[fnId].Properties!;
      frameworkId = logicalId(platform.source.setup.node.findChild('Provider').node.findChild('framework-onEvent'));
      setupSgId = logicalId(platform.source.setup.node.findChild('SecurityGroup'));
      roleStatements = rolePolicyStatements(template, 'Source/SchemaSetup/Role');
    });

    test('the custom resource is a Custom::SourceDatabaseSetup served by the provider framework function', () => {
      expect(setup.Properties?.ServiceToken).toEqual({ 'Fn::GetAtt': [frameworkId, 'Arn'] });
    });

    test(`it passes the host, port, database, admin secret, binlog retention ${expected.binlogRetentionHours} h, LoadSampleData "${expected.loadSampleData}", the service users and the migrations fingerprint, nothing else`, () => {
      const dbId = logicalId(platform.source.database);
      expect(setup.Properties).toEqual({
        ServiceUsers: expect.anything(),
        ServiceToken: { 'Fn::GetAtt': [frameworkId, 'Arn'] },
        Host: { 'Fn::GetAtt': [dbId, 'Endpoint.Address'] },
        Port: String(platform.config.source.port),
        Database: 'classicmodels',
        BinlogRetentionHours: expected.binlogRetentionHours,
        LoadSampleData: expected.loadSampleData,
        MigrationsFingerprint: migrationFilesFingerprint(),
        SecretArn: { 'Fn::GetAtt': [dbId, 'MasterUserSecret.SecretArn'] },
      });
      expect(setup.Properties?.Port).toBe('3407');
      expect(setup.Properties?.Database).toBe(platform.config.source.databaseName);
      expect(setup.Properties?.BinlogRetentionHours).toBe(String(platform.config.source.binlogRetentionHours));
      expect(setup.Properties?.LoadSampleData).toBe(String(platform.config.source.loadSampleData));
    });

    test(`ServiceUsers is a JSON string listing exactly ${expected.serviceUsers.map((u) => `the ${u.role} user`).join(' and ')}, each as {SecretArn, Role} with its own secret`, () => {
      const { value, tokens } = parseJoinedJson(setup.Properties?.ServiceUsers);
      expect(value).toEqual(expected.serviceUsers.map(({ role }, index) => ({ SecretArn: `<<${index}>>`, Role: role })));
      expect(tokens).toEqual(expected.serviceUsers.map(({ role }) => ref(platform.source, serviceSecret(role).secretArn)));
      expect(JSON.stringify(setup.Properties?.ServiceUsers)).not.toContain('MasterUserSecret');
    });

    test('the setup runs only once the database admits the setup function’s group and that group may reach the database', () => {
      const dbSgId = logicalId(platform.source.securityGroup);
      const ingress = Object.entries(resourcesOf(template, 'AWS::EC2::SecurityGroupIngress')).filter(
        ([, r]) => r.Properties?.GroupId?.['Fn::GetAtt']?.[0] === dbSgId && r.Properties?.SourceSecurityGroupId?.['Fn::GetAtt']?.[0] === setupSgId,
      );
      const egress = Object.entries(resourcesOf(template, 'AWS::EC2::SecurityGroupEgress')).filter(
        ([, r]) => r.Properties?.GroupId?.['Fn::GetAtt']?.[0] === setupSgId && r.Properties?.DestinationSecurityGroupId?.['Fn::GetAtt']?.[0] === dbSgId,
      );
      expect(ingress).toHaveLength(1);
      expect(egress).toHaveLength(1);
      expect(asList(setup.DependsOn)).toEqual(expect.arrayContaining([ingress[0][0], egress[0][0], dbSgId, setupSgId]));
    });

    test('the migrations fingerprint is a SHA-256, so a new or changed migration triggers an update', () => {
      expect(setup.Properties?.MigrationsFingerprint).toMatch(/^[0-9a-f]{64}$/);
    });

    test('the stack has exactly two functions: the setup function and the provider framework', () => {
      expect(Object.keys(resourcesOf(template, 'AWS::Lambda::Function')).sort()).toEqual([fnId, frameworkId].sort());
    });

    test('the setup function runs Node.js 24 on arm64 with a 10-minute timeout and reserved concurrency 1', () => {
      expect(fn).toEqual(
        expect.objectContaining({
          Runtime: 'nodejs24.x',
          Architectures: ['arm64'],
          Handler: 'index.onEvent',
          Timeout: 600,
          ReservedConcurrentExecutions: 1,
          Role: { 'Fn::GetAtt': [logicalId(platform.source.setup.node.findChild('Role')), 'Arn'] },
        }),
      );
    });

    test(`the setup function runs in the VPC's compute subnets (${expected.computeGroup} in ${envName}) with its own security group only`, () => {
      const subnets = platform.foundation.vpc
        .selectSubnets({ subnetGroupName: expected.computeGroup })
        .subnets.map((s) => ref(platform.source, s.subnetId));
      expect(subnets).toHaveLength(platform.config.network.maxAzs);
      expect(fn.VpcConfig).toEqual({
        SubnetIds: subnets,
        SecurityGroupIds: [{ 'Fn::GetAtt': [setupSgId, 'GroupId'] }],
      });
      expect(platform.source.setup.function.isBoundToVpc).toBe(true);
    });

    test('the setup function’s security group sends only HTTPS (AWS APIs) and the database port to the database group, and admits nothing', () => {
      const port = platform.config.source.port;
      const group = resourcesOf(template, 'AWS::EC2::SecurityGroup')[setupSgId];
      expect(group.Properties?.SecurityGroupIngress).toBeUndefined();
      expect(group.Properties?.SecurityGroupEgress).toEqual([
        { CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443, Description: expect.any(String) },
      ]);
      const egress = Object.values(resourcesOf(template, 'AWS::EC2::SecurityGroupEgress'))
        .map((r) => r.Properties!)
        .filter((p) => p.GroupId?.['Fn::GetAtt']?.[0] === setupSgId);
      expect(egress).toEqual([
        {
          GroupId: { 'Fn::GetAtt': [setupSgId, 'GroupId'] },
          DestinationSecurityGroupId: { 'Fn::GetAtt': [logicalId(platform.source.securityGroup), 'GroupId'] },
          IpProtocol: 'tcp',
          FromPort: port,
          ToPort: port,
          Description: 'The database',
        },
      ]);
      const ingressToSetup = Object.values(resourcesOf(template, 'AWS::EC2::SecurityGroupIngress')).filter(
        (r) => r.Properties?.GroupId?.['Fn::GetAtt']?.[0] === setupSgId,
      );
      expect(ingressToSetup).toEqual([]);
    });

    test('only Lambda assumes the setup role, which has no inline or AWS-managed policy', () => {
      const role = resourcesOf(template, 'AWS::IAM::Role')[logicalId(platform.source.setup.node.findChild('Role'))];
      expect(role.Properties?.AssumeRolePolicyDocument.Statement).toEqual([
        { Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { Service: 'lambda.amazonaws.com' } },
      ]);
      expect(role.Properties?.Policies).toBeUndefined();
      expect(role.Properties?.ManagedPolicyArns).toBeUndefined();
    });

    test(`the setup role reads only the admin secret and the ${expected.serviceUsers.map((u) => u.role).join(' and ')} user secret${expected.serviceUsers.length > 1 ? 's' : ''}, decrypts only with the source key and writes its own log group`, () => {
      const logGroupId = logicalId(platform.source.setup.node.findChild('FunctionLogs'));
      expect(roleStatements).toEqual([
        {
          Effect: 'Allow',
          Action: 'secretsmanager:GetSecretValue',
          Resource: [
            { 'Fn::GetAtt': [logicalId(platform.source.database), 'MasterUserSecret.SecretArn'] },
            ...expected.serviceUsers.map(({ role }) => ref(platform.source, serviceSecret(role).secretArn)),
          ],
        },
        { Effect: 'Allow', Action: 'kms:Decrypt', Resource: ref(platform.source, platform.foundation.keys.source.keyArn) },
        { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: { 'Fn::GetAtt': [logGroupId, 'Arn'] } },
      ]);
    });

    test('the setup role manages its ENIs on "*" through its unscoped policy, which holds nothing else', () => {
      const unscoped = platform.source.setup.node.findChild('Role').node.findChild('UnscopedPolicy');
      const policy = resourcesOf(template, 'AWS::IAM::ManagedPolicy')[logicalId(unscoped)];
      expect(policy.Properties?.Roles).toEqual([{ Ref: logicalId(platform.source.setup.node.findChild('Role')) }]);
      expect(policy.Properties?.PolicyDocument.Statement).toEqual([
        {
          Effect: 'Allow',
          Action: [
            'ec2:AssignPrivateIpAddresses',
            'ec2:CreateNetworkInterface',
            'ec2:DeleteNetworkInterface',
            'ec2:DescribeNetworkInterfaces',
            'ec2:UnassignPrivateIpAddresses',
          ],
          Resource: '*',
        },
      ]);
    });

    test('the "*" is acknowledged on the setup role\'s unscoped policy alone, naming its actions; the role acknowledges nothing', () => {
      const role = platform.source.setup.node.findChild('Role');
      expect(Object.keys(acknowledgedRules(role))).toEqual([]);
      const acks = acknowledgedRules(role.node.findChild('UnscopedPolicy'));
      expect(Object.keys(acks)).toEqual(['AwsSolutions-IAM5[Resource::*]']);
      expect(acks['AwsSolutions-IAM5[Resource::*]']).toContain(
        ': ec2:AssignPrivateIpAddresses, ec2:CreateNetworkInterface, ec2:DeleteNetworkInterface, ec2:DescribeNetworkInterfaces, ec2:UnassignPrivateIpAddresses.',
      );
    });

    test.each([
      ['setup function', 'FunctionLogs', () => fnId],
      ['provider framework', 'ProviderLogs', () => frameworkId],
    ])('the %s logs to its own log group, encrypted with the ops key, with the configured retention', (_, groupName, functionId) => {
      const groupId = logicalId(platform.source.setup.node.findChild(groupName));
      const group = resourcesOf(template, 'AWS::Logs::LogGroup')[groupId];
      expect(group.Properties).toEqual(
        expect.objectContaining({
          KmsKeyId: ref(platform.source, platform.foundation.keys.ops.keyArn),
          RetentionInDays: platform.config.dataProtection.logRetentionDays,
        }),
      );
      expect(group.DeletionPolicy).toBe(expected.deletionPolicy);
      const fnResource = resourcesOf(template, 'AWS::Lambda::Function')[functionId()];
      expect(fnResource.Properties?.LoggingConfig?.LogGroup).toEqual({ Ref: groupId });
    });

    test('the provider framework runs outside the VPC with the provider role', () => {
      const framework = resourcesOf(template, 'AWS::Lambda::Function')[frameworkId].Properties!;
      expect(framework.VpcConfig).toBeUndefined();
      expect(framework.Role).toEqual({
        'Fn::GetAtt': [logicalId(platform.source.setup.node.findChild('ProviderRole')), 'Arn'],
      });
      expect(framework.Environment.Variables.USER_ON_EVENT_FUNCTION_ARN).toEqual({ 'Fn::GetAtt': [fnId, 'Arn'] });
    });

    test('the provider role may only invoke (and look up) the setup function and write its own log group', () => {
      const logGroupId = logicalId(platform.source.setup.node.findChild('ProviderLogs'));
      const fnArn = { 'Fn::GetAtt': [fnId, 'Arn'] };
      expect(rolePolicyStatements(template, 'Source/SchemaSetup/ProviderRole')).toEqual([
        { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: { 'Fn::GetAtt': [logGroupId, 'Arn'] } },
        { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: [fnArn, { 'Fn::Join': ['', [fnArn, ':*']] }] },
        { Effect: 'Allow', Action: 'lambda:GetFunction', Resource: fnArn },
      ]);
      const role = resourcesOf(template, 'AWS::IAM::Role')[logicalId(platform.source.setup.node.findChild('ProviderRole'))];
      expect(role.Properties?.Policies).toBeUndefined();
      expect(role.Properties?.ManagedPolicyArns).toBeUndefined();
    });

    test('the provider framework acknowledges only the Lambda findings it cannot meet, each with a reason', () => {
      const framework = platform.source.setup.node.findChild('Provider').node.findChild('framework-onEvent');
      const acks = acknowledgedRules(framework);
      const expectedIds = ['NIST.800.53.R5', 'HIPAA.Security', 'PCI.DSS.321'].flatMap((pack) =>
        ['LambdaInsideVPC', 'LambdaDLQ', 'LambdaConcurrency'].map((rule) => `${pack}-${rule}`),
      );
      expect(Object.keys(acks).sort()).toEqual(expectedIds.sort());
    });
  });

  describe('service users', () => {
    let rotationSgId: string;

    beforeAll(() => {
      rotationSgId = logicalId(platform.source.node.findChild('RotationSecurityGroup'));
    });

    if (expected.cdc) {
      test('with cdc.enabled there are two service users: undercurrent_extract for the batch extract and undercurrent_cdc for DMS', () => {
        expect(platform.config.cdc.enabled).toBe(true);
        expect(platform.source.replicationSecret).toBeDefined();
        expect(usernames(template)).toEqual(['undercurrent_cdc', 'undercurrent_extract']);
      });
    } else {
      test('with cdc.enabled false there is no replication user secret, only the extract user’s', () => {
        expect(platform.config.cdc.enabled).toBe(false);
        expect(platform.source.replicationSecret).toBeUndefined();
        expect(platform.source.node.tryFindChild('ReplicationUserSecret')).toBeUndefined();
        expect(usernames(template)).toEqual(['undercurrent_extract']);
        expect(JSON.stringify(template.toJSON())).not.toContain('undercurrent_cdc');
      });
    }

    test('each service secret has exactly one rotation schedule, and no other secret is rotated by the stack (RDS rotates the admin secret itself)', () => {
      const schedules = Object.keys(resourcesOf(template, 'AWS::SecretsManager::RotationSchedule')).sort();
      expect(schedules).toEqual(
        expected.serviceUsers
          .map(({ id }) => logicalId(platform.source.node.findChild(id).node.findChild('Attachment').node.findChild('Rotation')))
          .sort(),
      );
      // Hosted rotation is expanded by the Secrets Manager transform at deploy time.
      expect(asList(template.toJSON().Transform)).toEqual(['AWS::SecretsManager-2024-09-16']);
    });

    test('the rotation security group sends only HTTPS (AWS APIs) and the database port to the database group, and admits nothing', () => {
      const port = platform.config.source.port;
      const group = resourcesOf(template, 'AWS::EC2::SecurityGroup')[rotationSgId];
      expect(group.Properties?.SecurityGroupIngress).toBeUndefined();
      expect(group.Properties?.SecurityGroupEgress).toEqual([
        { CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443, Description: expect.any(String) },
      ]);
      const egress = Object.values(resourcesOf(template, 'AWS::EC2::SecurityGroupEgress'))
        .map((r) => r.Properties!)
        .filter((p) => p.GroupId?.['Fn::GetAtt']?.[0] === rotationSgId);
      expect(egress).toEqual([
        {
          GroupId: { 'Fn::GetAtt': [rotationSgId, 'GroupId'] },
          DestinationSecurityGroupId: { 'Fn::GetAtt': [logicalId(platform.source.securityGroup), 'GroupId'] },
          IpProtocol: 'tcp',
          FromPort: port,
          ToPort: port,
          Description: 'The database',
        },
      ]);
      const ingressToRotation = Object.values(resourcesOf(template, 'AWS::EC2::SecurityGroupIngress')).filter(
        (r) => r.Properties?.GroupId?.['Fn::GetAtt']?.[0] === rotationSgId,
      );
      expect(ingressToRotation).toEqual([]);
    });

    describe.each(expected.serviceUsers)('the $role user ($username)', ({ id, username, role }) => {
      let secretId: string;
      let attachmentId: string;
      let scheduleId: string;

      beforeAll(() => {
        const secret = platform.source.node.findChild(id);
        const attachment = secret.node.findChild('Attachment');
        secretId = logicalId(secret);
        attachmentId = logicalId(attachment);
        scheduleId = logicalId(attachment.node.findChild('Rotation'));
      });

      test('its secret is encrypted with the source key imported from Foundation', () => {
        const secret = resourcesOf(template, 'AWS::SecretsManager::Secret')[secretId];
        expect(secret.Properties?.KmsKeyId).toEqual(ref(platform.source, platform.foundation.keys.source.keyArn));
        expect(secret.Properties?.KmsKeyId).toEqual({ 'Fn::ImportValue': expect.stringMatching(/-Foundation:/) });
      });

      test(`its secret generates a 30-character password for the user ${username}, without the characters that break JDBC URLs and DMS`, () => {
        const secret = resourcesOf(template, 'AWS::SecretsManager::Secret')[secretId];
        expect(secret.Properties?.GenerateSecretString).toEqual({
          SecretStringTemplate: JSON.stringify({ username }),
          GenerateStringKey: 'password',
          PasswordLength: 30,
          ExcludeCharacters: PASSWORD_EXCLUDED,
        });
        expect(secret.Properties?.SecretString).toBeUndefined();
      });

      test('its secret is attached to the source DB instance (so its value carries host and port), and consumers get the attached secret', () => {
        expect(resourcesOf(template, 'AWS::SecretsManager::SecretTargetAttachment')[attachmentId].Properties).toEqual({
          SecretId: { Ref: secretId },
          TargetId: { Ref: logicalId(platform.source.database) },
          TargetType: 'AWS::RDS::DBInstance',
        });
        // The attachment's Ref is the secret ARN: whoever uses it waits for host and port to be written.
        expect(ref(platform.source, serviceSecret(role).secretArn)).toEqual({ Ref: attachmentId });
      });

      test(`it rotates every 30 days by a hosted MySQL single-user function in the compute subnets (${expected.computeGroup}) with the rotation security group, not immediately on update`, () => {
        const subnets = platform.foundation.vpc
          .selectSubnets({ subnetGroupName: expected.computeGroup })
          .subnets.map((s) => ref(platform.source, s.subnetId));
        expect(subnets).toHaveLength(platform.config.network.maxAzs);
        expect(resourcesOf(template, 'AWS::SecretsManager::RotationSchedule')[scheduleId].Properties).toEqual({
          SecretId: { Ref: attachmentId },
          RotationRules: { ScheduleExpression: 'rate(30 days)' },
          RotateImmediatelyOnUpdate: false,
          HostedRotationLambda: {
            RotationType: 'MySQLSingleUser',
            KmsKeyArn: ref(platform.source, platform.foundation.keys.source.keyArn),
            VpcSubnetIds: { 'Fn::Join': ['', subnets.flatMap((subnet, index) => (index === 0 ? [subnet] : [',', subnet]))] },
            VpcSecurityGroupIds: { 'Fn::GetAtt': [rotationSgId, 'GroupId'] },
            ExcludeCharacters: PASSWORD_EXCLUDED,
          },
        });
      });
    });
  });
});

describe('SourceStack in staging', () => {
  let platform: SynthesizedPlatform;
  let template: Template;

  beforeAll(() => {
    platform = synthPlatform('staging');
    template = platform.template('source');
  });

  test('with cdc.enabled false there is no replication user secret, only the extract user’s', () => {
    expect(platform.config.cdc.enabled).toBe(false);
    expect(platform.source.replicationSecret).toBeUndefined();
    expect(platform.source.node.tryFindChild('ReplicationUserSecret')).toBeUndefined();
    expect(usernames(template)).toEqual(['undercurrent_extract']);
    template.resourceCountIs('AWS::SecretsManager::RotationSchedule', 1);
  });

  test('ServiceUsers lists only the extract user', () => {
    const [setup] = Object.values(resourcesOf(template, 'Custom::SourceDatabaseSetup'));
    const { value, tokens } = parseJoinedJson(setup.Properties?.ServiceUsers);
    expect(value).toEqual([{ SecretArn: '<<0>>', Role: 'extract' }]);
    expect(tokens).toEqual([ref(platform.source, platform.source.extractSecret.secretArn)]);
  });
});

describe('SourceStack in prod with removalPolicy snapshot', () => {
  let template: Template;

  beforeAll(() => {
    template = synthPlatform('prod', { patch: { dataProtection: { removalPolicy: 'snapshot' } } }).template('source');
  });

  test('the database is snapshotted on deletion and its automated backups are kept', () => {
    template.hasResource('AWS::RDS::DBInstance', {
      DeletionPolicy: 'Snapshot',
      UpdateReplacePolicy: 'Snapshot',
      Properties: Match.objectLike({ DeleteAutomatedBackups: false, DeletionProtection: true }),
    });
  });
});

describe('SourceStack in dev with -c removeDataOnDestroy=true (the second key)', () => {
  let template: Template;

  beforeAll(() => {
    template = synthPlatform('dev', { context: { removeDataOnDestroy: 'true' } }).template('source');
  });

  test('the database and its automated backups are deleted with the stack', () => {
    template.hasResource('AWS::RDS::DBInstance', {
      DeletionPolicy: 'Delete',
      UpdateReplacePolicy: 'Delete',
      Properties: Match.objectLike({ DeleteAutomatedBackups: true, DeletionProtection: false }),
    });
  });

  test('every log group is deleted with the stack', () => {
    const groups = Object.values(resourcesOf(template, 'AWS::Logs::LogGroup'));
    expect(groups.length).toBeGreaterThan(0);
    expect(groups.map((g) => g.DeletionPolicy)).toEqual(groups.map(() => 'Delete'));
  });
});
