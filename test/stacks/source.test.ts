import { Match, Template } from 'aws-cdk-lib/assertions';
import { SynthesizedPlatform, synthPlatform } from '../support/platform';
import { asList, JsonObject, logicalId, ref, resourcesOf } from './template-helpers';

const LOG_KINDS = ['error', 'slowquery', 'audit'] as const;

describe.each([
  {
    envName: 'dev' as const,
    multiAz: false,
    deletionProtection: false,
    backupRetention: 1,
    deletionPolicy: 'Delete',
    deleteAutomatedBackups: true,
  },
  {
    envName: 'prod' as const,
    multiAz: true,
    deletionProtection: true,
    backupRetention: 35,
    deletionPolicy: 'Retain',
    deleteAutomatedBackups: false,
  },
])('SourceStack in $envName', (expected) => {
  const { envName } = expected;
  let platform: SynthesizedPlatform;
  let template: Template;
  let db: JsonObject;
  let dbResource: { DeletionPolicy?: string; UpdateReplacePolicy?: string; DependsOn?: string | string[] };

  beforeAll(() => {
    platform = synthPlatform(envName);
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
    // The data subnets have no route out of the VPC (the foundation tests check the routes).
    expect(platform.foundation.vpc.publicSubnets).toHaveLength(0);
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
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
  });

  test('the parameter group requires TLS and writes a row-based binlog for CDC', () => {
    const [groupId] = Object.keys(resourcesOf(template, 'AWS::RDS::DBParameterGroup'));
    expect(db.DBParameterGroupName).toEqual({ Ref: groupId });
    template.hasResourceProperties('AWS::RDS::DBParameterGroup', {
      Parameters: Match.objectLike({ require_secure_transport: '1', binlog_format: 'ROW' }),
    });
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
      expect(group.DeletionPolicy).toBe(envName === 'prod' ? 'Retain' : 'Delete');
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

  test('the database security group admits no ingress at all and sends nothing out', () => {
    template.resourceCountIs('AWS::EC2::SecurityGroup', 1);
    template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0);
    template.resourceCountIs('AWS::EC2::SecurityGroupEgress', 0);
    const sgId = logicalId(platform.source.securityGroup);
    expect(db.VPCSecurityGroups).toEqual([{ 'Fn::GetAtt': [sgId, 'GroupId'] }]);
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      SecurityGroupIngress: Match.absent(),
      SecurityGroupEgress: [Match.objectLike({ CidrIp: '255.255.255.255/32', Description: 'Disallow all traffic' })],
    });
    expect(JSON.stringify(template.toJSON())).not.toContain('0.0.0.0/0');
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
