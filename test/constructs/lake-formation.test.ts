import { EXAMPLE_ACCOUNT } from '../support/example-account';
import { CliCredentialsStackSynthesizer, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import {
  ALL_TABLES,
  LakeFormationAdmins,
  LakeFormationGrants,
  LakeFormationOnly,
  LakeFormationSettings,
  LakeGrant,
  LakePermission,
} from '../../lib/lake/lake-formation';
import { SecureBucket } from '../../lib/shared/secure-bucket';
import { testApp } from '../support/platform';

const DEPLOYMENT_ROLE = {
  'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/cdk-hnb659fds-cfn-exec-role-${AWS::AccountId}-${AWS::Region}',
};
const ANALYST = `arn:aws:iam::${EXAMPLE_ACCOUNT}:role/Analyst`;

interface Lake {
  readonly stack: Stack;
  readonly key: kms.Key;
  readonly raw: s3.IBucket;
  readonly curated: s3.IBucket;
  readonly database: glue.Database;
  readonly settings: LakeFormationSettings;
}

function lake(stack: Stack): Lake {
  const key = new kms.Key(stack, 'LakeKey', { enableKeyRotation: true });
  const logs = new SecureBucket(stack, 'AccessLogs', { accessLogDestination: true, removalPolicy: RemovalPolicy.RETAIN });
  const zone = (id: string): s3.IBucket =>
    new SecureBucket(stack, id, { encryptionKey: key, serverAccessLogsBucket: logs.bucket, removalPolicy: RemovalPolicy.RETAIN }).bucket;
  const raw = zone('RawZone');
  const curated = zone('CuratedZone');
  const database = new glue.Database(stack, 'RawDatabase', { databaseName: 'lake_raw' });
  const settings = new LakeFormationSettings(stack, 'LakeFormation', { locations: [raw, curated] });
  return { stack, key, raw, curated, database, settings };
}

function logicalIdOf(stack: Stack, construct: { node: { defaultChild?: unknown } }): string {
  return stack.getLogicalId(construct.node.defaultChild as never);
}

describe('LakeFormationAdmins', () => {
  const admins = (extra: string[]): Template => {
    const stack = new Stack(testApp(), 'Account');
    new LakeFormationAdmins(stack, 'LakeFormationAdmins', { admins: extra });
    return Template.fromStack(stack);
  };

  test('appends the deployment role, then the given administrators, and writes no other setting', () => {
    const resources = admins([ANALYST]).findResources('AWS::LakeFormation::DataLakeSettings');
    expect(Object.values(resources).map((r) => r.Properties)).toEqual([
      {
        Admins: [{ DataLakePrincipalIdentifier: DEPLOYMENT_ROLE }, { DataLakePrincipalIdentifier: ANALYST }],
        MutationType: 'APPEND',
      },
    ]);
  });

  test('is retained when its stack is deleted, so deletion never rewrites the account settings', () => {
    admins([]).hasResource('AWS::LakeFormation::DataLakeSettings', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });

  test('an administrator listed twice is rejected', () => {
    expect(() => admins([ANALYST, ANALYST])).toThrow(
      `LakeFormationAdmins Account/LakeFormationAdmins: an administrator is listed twice (${ANALYST}, ${ANALYST}); list each once.`,
    );
  });

  test('another synthesizer than the default one is rejected, naming the fix', () => {
    const stack = new Stack(testApp(), 'Account', { synthesizer: new CliCredentialsStackSynthesizer() });
    expect(() => new LakeFormationAdmins(stack, 'LakeFormationAdmins', { admins: [] })).toThrow(
      'Account/LakeFormationAdmins: the deployment role is only known with the DefaultStackSynthesizer (stack Account uses CliCredentialsStackSynthesizer).',
    );
  });
});

describe('LakeFormationOnly', () => {
  let stack: Stack;
  let template: Template;
  let subject: Lake;
  let table: glue.CfnTable;

  beforeAll(() => {
    stack = new Stack(testApp(), 'Storage', { env: { account: EXAMPLE_ACCOUNT, region: 'us-east-1' } });
    subject = lake(stack);
    const other = new glue.Database(stack, 'CuratedDatabase', { databaseName: 'lake_curated' });
    table = new glue.CfnTable(stack, 'Orders', {
      catalogId: stack.account,
      databaseName: other.databaseName,
      tableInput: { name: 'orders' },
    });
    new LakeFormationOnly(stack, 'LakeFormationOnly', {
      appName: 'Lake',
      databaseNames: ['lake_raw', 'lake_curated'],
      catalogResources: [subject.database, other, table],
    });
    template = Template.fromStack(stack);
  });

  test('names every database, in the account catalog, for the account stack guard function', () => {
    template.hasResourceProperties('Custom::LakeFormationOnly', {
      ServiceToken: `arn:aws:lambda:us-east-1:${EXAMPLE_ACCOUNT}:function:lake-lake-formation-guard`,
      CatalogId: EXAMPLE_ACCOUNT,
      Databases: ['lake_curated', 'lake_raw'],
      Fingerprint: Match.stringLikeRegexp('^[0-9a-f]{16}$'),
    });
  });

  test('runs after every database and table exists', () => {
    const [resource] = Object.values(template.findResources('Custom::LakeFormationOnly'));
    expect(resource.DependsOn).toEqual(expect.arrayContaining([logicalIdOf(stack, subject.database), stack.getLogicalId(table)]));
  });

  test('a database outside the app prefix is rejected: the guard would refuse it', () => {
    const other = new Stack(testApp(), 'Storage');
    const database = new glue.Database(other, 'Foreign', { databaseName: 'finance_raw' });
    const only = (names: string[]) => () =>
      new LakeFormationOnly(other, `Only${names.length}`, { appName: 'Lake', databaseNames: names, catalogResources: [database] });
    expect(only(['finance_raw'])).toThrow(
      'LakeFormationOnly Storage/Only1: database finance_raw is not a literal starting with "lake_"; the guard function touches only the app\'s databases.',
    );
    expect(only(['lake_raw', database.databaseName])).toThrow(/^LakeFormationOnly Storage\/Only2: database \$\{Token/);
  });
});

describe('LakeFormationSettings', () => {
  let subject: Lake;
  let template: Template;

  beforeAll(() => {
    subject = lake(new Stack(testApp(), 'Storage'));
    template = Template.fromStack(subject.stack);
  });

  test('writes no account setting', () => {
    template.resourceCountIs('AWS::LakeFormation::DataLakeSettings', 0);
  });

  test('each location is registered with the dedicated role, not the service-linked one', () => {
    template.resourceCountIs('AWS::LakeFormation::Resource', 2);
    const roleId = logicalIdOf(subject.stack, subject.settings.locationRole!);
    for (const bucket of [subject.raw, subject.curated]) {
      template.hasResourceProperties('AWS::LakeFormation::Resource', {
        ResourceArn: { 'Fn::GetAtt': [logicalIdOf(subject.stack, bucket), 'Arn'] },
        RoleArn: { 'Fn::GetAtt': [roleId, 'Arn'] },
        UseServiceLinkedRole: false,
      });
    }
  });

  test('the location role is assumed by Lake Formation only', () => {
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lakeformation.amazonaws.com' } }],
      },
      ManagedPolicyArns: Match.absent(),
      Policies: Match.absent(),
    });
  });

  test('the location role can use exactly the objects, listing and key of the registered buckets', () => {
    const roleId = logicalIdOf(subject.stack, subject.settings.locationRole!);
    const policies = Object.values(template.findResources('AWS::IAM::ManagedPolicy', { Properties: { Roles: [{ Ref: roleId }] } }));
    expect(policies).toHaveLength(1);
    const arn = (bucket: s3.IBucket): unknown => ({ 'Fn::GetAtt': [logicalIdOf(subject.stack, bucket), 'Arn'] });
    const objects = (bucket: s3.IBucket): unknown => ({ 'Fn::Join': ['', [arn(bucket), '/*']] });
    expect(policies[0].Properties.PolicyDocument.Statement).toEqual([
      {
        Action: ['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:GetObject', 's3:PutObject'],
        Effect: 'Allow',
        Resource: [objects(subject.curated), objects(subject.raw)],
      },
      { Action: 's3:ListBucket', Effect: 'Allow', Resource: [arn(subject.curated), arn(subject.raw)] },
      {
        Action: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'],
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [logicalIdOf(subject.stack, subject.key), 'Arn'] },
      },
    ]);
  });

  test('a registration waits for the role and its permissions', () => {
    const registrations = Object.values(template.findResources('AWS::LakeFormation::Resource'));
    const roleId = logicalIdOf(subject.stack, subject.settings.locationRole!);
    for (const registration of registrations) {
      expect(registration.DependsOn).toEqual(expect.arrayContaining([roleId, expect.stringMatching(/^LakeFormationLocationRolePolicy/)]));
    }
  });

  test('a location without a customer key is rejected', () => {
    const stack = new Stack(testApp(), 'Storage');
    const bucket = s3.Bucket.fromBucketName(stack, 'Plain', 'plain-bucket');
    expect(() => new LakeFormationSettings(stack, 'LakeFormation', { locations: [bucket] })).toThrow(
      'LakeFormationSettings Storage/LakeFormation: location Storage/Plain has no customer key; register only SSE-KMS lake buckets.',
    );
  });

});

describe('LakeFormationGrants', () => {
  let subject: Lake;
  let consumer: Stack;
  let role: iam.Role;
  let grants: LakeFormationGrants;
  let template: Template;

  beforeAll(() => {
    const app = testApp();
    subject = lake(new Stack(app, 'Storage'));
    consumer = new Stack(app, 'Transform');
    role = new iam.Role(consumer, 'JobRole', { assumedBy: new iam.ServicePrincipal('glue.amazonaws.com') });
    grants = new LakeFormationGrants(consumer, 'LakeGrants', { settings: subject.settings });
    grants.grant({ principal: role, database: subject.database, permissions: ['CREATE_TABLE', 'DESCRIBE'] });
    grants.grant({ principal: role, database: subject.database, table: ALL_TABLES, permissions: ['DESCRIBE', 'SELECT'] });
    grants.grant({ principal: role, database: subject.database, table: 'orders', permissions: ['INSERT', 'DELETE'] });
    grants.grant({
      principal: role,
      database: subject.database,
      table: 'customers',
      permissions: ['SELECT'],
      excludedColumns: ['phone', 'address_line_1'],
    });
    grants.grant({ principal: role, location: subject.raw, permissions: ['DATA_LOCATION_ACCESS'] });
    template = Template.fromStack(consumer);
  });

  const principal = (): unknown => ({ DataLakePrincipalIdentifier: { 'Fn::GetAtt': [logicalIdOf(consumer, role), 'Arn'] } });
  const databaseName = (): unknown => Match.objectLike({ 'Fn::ImportValue': Match.stringLikeRegexp('RawDatabase') });

  test('every grant is listed, in call order', () => {
    expect(grants.grants.map((g) => g.resource.node.id)).toEqual([
      'JobRoleRawDatabase',
      'JobRoleRawDatabaseAllTables',
      'JobRoleRawDatabaseTableOrders',
      'JobRoleRawDatabaseTableCustomers',
      'JobRoleLocationRawZone',
    ]);
    template.resourceCountIs('AWS::LakeFormation::PrincipalPermissions', 5);
  });

  test('a database grant names the database in the account catalog, without grant option', () => {
    template.hasResourceProperties('AWS::LakeFormation::PrincipalPermissions', {
      Principal: principal(),
      Permissions: ['CREATE_TABLE', 'DESCRIBE'],
      PermissionsWithGrantOption: [],
      Resource: { Database: { CatalogId: { Ref: 'AWS::AccountId' }, Name: databaseName() } },
    });
  });

  test('an all-tables grant uses the table wildcard', () => {
    template.hasResourceProperties('AWS::LakeFormation::PrincipalPermissions', {
      Permissions: ['DESCRIBE', 'SELECT'],
      Resource: { Table: { CatalogId: { Ref: 'AWS::AccountId' }, DatabaseName: databaseName(), TableWildcard: {} } },
    });
  });

  test('a named-table grant names the table', () => {
    template.hasResourceProperties('AWS::LakeFormation::PrincipalPermissions', {
      Permissions: ['INSERT', 'DELETE'],
      Resource: { Table: { CatalogId: { Ref: 'AWS::AccountId' }, DatabaseName: databaseName(), Name: 'orders', TableWildcard: Match.absent() } },
    });
  });

  test('a grant with excluded columns is a column wildcard on the table', () => {
    template.hasResourceProperties('AWS::LakeFormation::PrincipalPermissions', {
      Permissions: ['SELECT'],
      Resource: {
        TableWithColumns: {
          CatalogId: { Ref: 'AWS::AccountId' },
          DatabaseName: databaseName(),
          Name: 'customers',
          ColumnWildcard: { ExcludedColumnNames: ['phone', 'address_line_1'] },
        },
      },
    });
  });

  test('a location grant names the bucket', () => {
    template.hasResourceProperties('AWS::LakeFormation::PrincipalPermissions', {
      Permissions: ['DATA_LOCATION_ACCESS'],
      Resource: {
        DataLocation: {
          CatalogId: { Ref: 'AWS::AccountId' },
          ResourceArn: Match.objectLike({ 'Fn::ImportValue': Match.stringLikeRegexp('RawZone') }),
        },
      },
    });
  });

  test('the grants stack deploys after the settings stack', () => {
    expect(consumer.dependencies.map((s) => s.stackName)).toContain('Storage');
  });

  test('in the settings stack, every grant depends on the settings and registrations', () => {
    const stack = new Stack(testApp(), 'Storage');
    const local = lake(stack);
    const localGrants = new LakeFormationGrants(stack, 'LakeGrants', { settings: local.settings });
    const localRole = new iam.Role(stack, 'Reader', { assumedBy: new iam.ServicePrincipal('glue.amazonaws.com') });
    localGrants.grant({ principal: localRole, database: local.database, permissions: ['DESCRIBE'] });
    const [grant] = Object.values(Template.fromStack(stack).findResources('AWS::LakeFormation::PrincipalPermissions'));
    expect(grant.DependsOn).toEqual(expect.arrayContaining(local.settings.registrations.map((r) => stack.getLogicalId(r))));
  });

  test('the grants of a stack form one chain, across its grant constructs, so Lake Formation never gets two at once', () => {
    const app = testApp();
    const storage = lake(new Stack(app, 'Storage'));
    const stack = new Stack(app, 'Consumer');
    const reader = new iam.Role(stack, 'Reader', { assumedBy: new iam.ServicePrincipal('glue.amazonaws.com') });
    const first = new LakeFormationGrants(stack, 'First', { settings: storage.settings });
    const second = new LakeFormationGrants(stack, 'Second', { settings: storage.settings });
    const made = [
      first.grant({ principal: reader, database: storage.database, permissions: ['DESCRIBE'] }),
      second.grant({ principal: reader, location: storage.raw, permissions: ['DATA_LOCATION_ACCESS'] }),
      first.grant({ principal: reader, database: storage.database, table: ALL_TABLES, permissions: ['SELECT'] }),
    ].map((grant) => stack.getLogicalId(grant));
    const resources = Template.fromStack(stack).findResources('AWS::LakeFormation::PrincipalPermissions');
    const grantDependencies = (id: string): string[] => (resources[id].DependsOn ?? []).filter((d: string) => d in resources);
    expect(made.map(grantDependencies)).toEqual([[], [made[0]], [made[1]]]);
  });

  describe('validation', () => {
    let stack: Stack;
    let local: Lake;
    let reader: iam.Role;
    let check: LakeFormationGrants;

    beforeAll(() => {
      stack = new Stack(testApp(), 'Storage');
      local = lake(stack);
      reader = new iam.Role(stack, 'Reader', { assumedBy: new iam.ServicePrincipal('glue.amazonaws.com') });
      check = new LakeFormationGrants(stack, 'LakeGrants', { settings: local.settings });
    });

    const prefix = 'LakeFormationGrants Storage/LakeGrants: grant to Storage/Reader: ';
    const cases: [string, (l: Lake) => Omit<LakeGrant, 'principal'>, string][] = [
      ['ALL', (l) => ({ database: l.database, permissions: ['ALL' as LakePermission] }), 'ALL is never granted; list the exact permissions'],
      ['SUPER', (l) => ({ database: l.database, table: ALL_TABLES, permissions: ['SELECT', 'SUPER' as LakePermission] }), 'SUPER is never granted'],
      ['ALL_IN_ALL', (l) => ({ database: l.database, permissions: ['ALL_IN_ALL' as LakePermission] }), 'ALL_IN_ALL is never granted'],
      ['an unknown permission', (l) => ({ database: l.database, permissions: ['READ' as LakePermission] }), 'unknown permission READ;'],
      ['no permission', (l) => ({ database: l.database, permissions: [] }), 'no permissions; list at least one.'],
      ['a permission twice', (l) => ({ database: l.database, permissions: ['DESCRIBE', 'DESCRIBE'] }), 'a permission is listed twice (DESCRIBE, DESCRIBE); list each once.'],
      [
        'DATA_LOCATION_ACCESS without a location',
        (l) => ({ database: l.database, permissions: ['DATA_LOCATION_ACCESS'] }),
        'DATA_LOCATION_ACCESS needs a location; specify the registered bucket as location.',
      ],
      [
        'a location with other permissions',
        (l) => ({ location: l.raw, permissions: ['DATA_LOCATION_ACCESS', 'SELECT'] }),
        'a location grant takes only DATA_LOCATION_ACCESS (got DATA_LOCATION_ACCESS, SELECT); grant catalog permissions on the database.',
      ],
      [
        'a location with a database',
        (l) => ({ location: l.raw, database: l.database, permissions: ['DATA_LOCATION_ACCESS'] }),
        'a location grant takes no database, table or excludedColumns; make a separate grant for the catalog.',
      ],
      [
        'neither database nor location',
        () => ({ permissions: ['DESCRIBE'] }),
        'neither database nor location; specify the database (or the location for DATA_LOCATION_ACCESS).',
      ],
      [
        'a table permission on a database',
        (l) => ({ database: l.database, permissions: ['DESCRIBE', 'SELECT', 'INSERT'] }),
        'SELECT, INSERT does not apply to a database (only CREATE_TABLE, ALTER, DROP, DESCRIBE); grant it on table ALL_TABLES or a named table.',
      ],
      [
        'a database permission on a table',
        (l) => ({ database: l.database, table: 'orders', permissions: ['CREATE_TABLE'] }),
        'CREATE_TABLE does not apply to a table (only SELECT, INSERT, DELETE, DESCRIBE, ALTER, DROP); grant it on the database.',
      ],
      ['an empty table name', (l) => ({ database: l.database, table: ' ', permissions: ['SELECT'] }), 'an empty table name; name the table, or use ALL_TABLES.'],
      [
        'excluded columns on a database',
        (l) => ({ database: l.database, permissions: ['DESCRIBE'], excludedColumns: ['phone'] }),
        'excludedColumns needs a named table; specify table.',
      ],
      [
        'excluded columns on all tables',
        (l) => ({ database: l.database, table: ALL_TABLES, permissions: ['SELECT'], excludedColumns: ['phone'] }),
        'excludedColumns needs a named table, not ALL_TABLES; make one grant per table.',
      ],
      [
        'excluded columns with another permission than SELECT',
        (l) => ({ database: l.database, table: 'customers', permissions: ['SELECT', 'DESCRIBE'], excludedColumns: ['phone'] }),
        'excludedColumns only applies to SELECT (got SELECT, DESCRIBE); grant the other permissions separately.',
      ],
      [
        'an empty list of excluded columns',
        (l) => ({ database: l.database, table: 'customers', permissions: ['SELECT'], excludedColumns: [] }),
        'excludedColumns is empty or has an empty name; leave it out to grant every column.',
      ],
    ];

    test.each(cases)('%s is rejected', (_name, request, expected) => {
      expect(() => check.grant({ principal: reader, ...request(local) })).toThrow(`${prefix}${expected}`);
    });

    test('a second grant to the same principal on the same target is rejected', () => {
      check.grant({ principal: reader, database: local.database, table: 'orders', permissions: ['SELECT'] });
      expect(() => check.grant({ principal: reader, database: local.database, table: 'orders', permissions: ['INSERT'] })).toThrow(
        'LakeFormationGrants Storage/LakeGrants: Storage/Reader already has a grant on table orders of Storage/RawDatabase; put all its permissions there in one grant.',
      );
    });
  });
});
