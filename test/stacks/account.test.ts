import type { Database } from '@aws-sdk/client-glue';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { Template } from 'aws-cdk-lib/assertions';
import { ENVIRONMENT_NAMES } from '../../lib/config';
import { handle } from '../../lib/account/lake-formation-guard-handler';
import { accountStackName } from '../../lib/account/account-stack';
import { FakeCatalog } from '../lake-formation-guard/fake-catalog';
import { EXAMPLE_ACCOUNT, EXAMPLE_REGION } from '../support/example-account';
import { STACK_KEYS, synthPlatform, SynthesizedPlatform } from '../support/platform';
import { actionsOf, asList, identityStatements, JsonObject, resourcesOf } from './template-helpers';

const DEPLOYMENT_ROLE = {
  'Fn::Sub': `arn:\${AWS::Partition}:iam::${EXAMPLE_ACCOUNT}:role/cdk-hnb659fds-cfn-exec-role-${EXAMPLE_ACCOUNT}-${EXAMPLE_REGION}`,
};
const LAKE_ADMIN = `arn:aws:iam::${EXAMPLE_ACCOUNT}:role/DataLakeAdmin`;

/**
 * Resource types of which an AWS account and region holds one (or which change settings of the
 * whole account): none may be in an environment's stacks. A role name is account-wide too: an
 * environment's stack names no role (`dms-vpc-role` is the account stack's).
 */
const ACCOUNT_SINGLETON_TYPES = [
  'AWS::LakeFormation::DataLakeSettings',
  'AWS::Glue::DataCatalogEncryptionSettings',
  'AWS::IAM::ServiceLinkedRole',
  'AWS::ApiGateway::Account',
  'AWS::EC2::EBSEncryptionByDefault',
  'AWS::S3::AccessGrantsInstance',
  'AWS::GuardDuty::Detector',
  'AWS::SecurityHub::Hub',
  'AWS::Macie::Session',
  'AWS::Config::ConfigurationRecorder',
  'AWS::Config::DeliveryChannel',
  'AWS::Detective::Graph',
  'AWS::Inspector2::Filter',
  'AWS::Redshift::EventSubscription',
];

describe.each(ENVIRONMENT_NAMES)('the %s environment stacks hold nothing of the account', (envName) => {
  let platform: SynthesizedPlatform;
  beforeAll(() => {
    platform = synthPlatform(envName, { patch: { cdc: { enabled: envName === 'prod', maxCapacityUnits: 16, createDmsVpcRole: true } } });
  });

  test('no account singleton in any environment stack, and the account stack only when asked for', () => {
    expect(platform.account).toBeUndefined();
    for (const stack of STACK_KEYS) {
      const types = Object.values(platform.template(stack).toJSON().Resources as Record<string, JsonObject>).map((r) => r.Type);
      expect([stack, types.filter((t) => ACCOUNT_SINGLETON_TYPES.includes(t as string))]).toEqual([stack, []]);
    }
  });

  test('no environment stack names an IAM role (a role name is account-wide), even with cdc.createDmsVpcRole', () => {
    for (const stack of STACK_KEYS) {
      const named = Object.values(resourcesOf(platform.template(stack), 'AWS::IAM::Role')).filter((r) => r.Properties?.RoleName !== undefined);
      expect([stack, named]).toEqual([stack, []]);
    }
  });
});

describe('the account stack (-c accountBaseline=true)', () => {
  let platform: SynthesizedPlatform;
  let template: Template;
  let resources: Record<string, JsonObject>;

  beforeAll(() => {
    platform = synthPlatform('prod', {
      context: { accountBaseline: 'true' },
      patch: {
        governance: { lakeAdminArns: [LAKE_ADMIN], lakeFormationOnlyByDefault: true },
        cdc: { enabled: true, maxCapacityUnits: 16, createDmsVpcRole: true },
      },
    });
    template = Template.fromStack(platform.account!);
    resources = template.toJSON().Resources;
  });

  const ofType = (type: string): [string, JsonObject][] => Object.entries(resources).filter(([, r]) => r.Type === type);
  const guardRoleId = (): string => ofType('AWS::IAM::Role').find(([id]) => id.startsWith('GuardRole'))![0];

  test('is one per app, account and region, pinned to the environment\'s account and region, and protected', () => {
    const stack = platform.account!;
    expect(stack.stackName).toBe('Undercurrent-account');
    expect(accountStackName(platform.config)).toBe('Undercurrent-account');
    expect([stack.account, stack.region, stack.terminationProtection]).toEqual([EXAMPLE_ACCOUNT, EXAMPLE_REGION, true]);
    expect(stack.dependencies).toEqual([]);
    for (const key of STACK_KEYS) {
      expect(platform[key].dependencies).not.toContain(stack);
    }
  });

  test('appends the deployment role, the guard and the configured administrators; never replaces, and is retained', () => {
    const settings = ofType('AWS::LakeFormation::DataLakeSettings');
    expect(settings).toHaveLength(1);
    const [, resource] = settings[0];
    expect(resource.Properties).toEqual({
      Admins: [
        { DataLakePrincipalIdentifier: DEPLOYMENT_ROLE },
        { DataLakePrincipalIdentifier: { 'Fn::GetAtt': [guardRoleId(), 'Arn'] } },
        { DataLakePrincipalIdentifier: LAKE_ADMIN },
      ],
      MutationType: 'APPEND',
    });
    expect([resource.DeletionPolicy, resource.UpdateReplacePolicy]).toEqual(['Retain', 'Retain']);
  });

  test('the guard function has the name every environment\'s Custom::LakeFormationOnly calls (the seam, both sides from the templates)', () => {
    const [[, fn]] = ofType('AWS::Lambda::Function');
    const name = (fn.Properties as JsonObject).FunctionName as string;
    const [only] = Object.values(resourcesOf(platform.template('storage'), 'Custom::LakeFormationOnly'));
    expect(only.Properties?.ServiceToken).toBe(`arn:aws:lambda:${EXAMPLE_REGION}:${EXAMPLE_ACCOUNT}:function:${name}`);
    expect((fn.Properties as JsonObject).Environment).toEqual({ Variables: { DATABASE_PREFIX: 'undercurrent_' } });
    expect(only.Properties?.Databases).toEqual((only.Properties?.Databases as string[]).filter((d) => d.startsWith('undercurrent_')));
    expect((fn.Properties as JsonObject).ReservedConcurrentExecutions).toBe(1);
  });

  test('the guard role may call exactly what the handler calls, Glue on the app\'s databases only (the seam with the handler)', async () => {
    // Run both resource types of the handler on a fake catalog and record the calls it makes.
    const fake = new FakeCatalog(EXAMPLE_ACCOUNT);
    const databases = (only: JsonObject): string[] => only.Databases as string[];
    const [only] = Object.values(resourcesOf(platform.template('storage'), 'Custom::LakeFormationOnly'));
    for (const name of databases(only.Properties as JsonObject)) {
      const database: Database = { Name: name, CreateTableDefaultPermissions: [{ Principal: { DataLakePrincipalIdentifier: 'IAM_ALLOWED_PRINCIPALS' }, Permissions: ['ALL'] }] };
      fake.addDatabase(database);
      fake.grant('IAM_ALLOWED_PRINCIPALS', { Database: { CatalogId: EXAMPLE_ACCOUNT, Name: name } }, ['ALL']);
      fake.grant('IAM_ALLOWED_PRINCIPALS', { Table: { CatalogId: EXAMPLE_ACCOUNT, DatabaseName: name, Name: 't' } }, ['ALL']);
    }
    fake.settings = { DataLakeAdmins: [{ DataLakePrincipalIdentifier: LAKE_ADMIN }], CreateDatabaseDefaultPermissions: [{ Principal: { DataLakePrincipalIdentifier: 'IAM_ALLOWED_PRINCIPALS' }, Permissions: ['ALL'] }] };
    const event = (resourceType: string, properties: JsonObject): CloudFormationCustomResourceEvent => ({
      RequestType: 'Create',
      ServiceToken: 'token',
      ResponseURL: 'https://example.com/response',
      StackId: 'stack',
      RequestId: 'request',
      LogicalResourceId: 'Resource',
      ResourceType: resourceType,
      ResourceProperties: { ServiceToken: 'token', ...properties },
    });
    const options = { databasePrefix: 'undercurrent_', log: () => undefined };
    const results = [
      // The resource types of the templates: the storage stack's guard and the account stack's defaults.
      await handle(event(only.Type, only.Properties as JsonObject), fake.clients(), options),
      await handle(event('Custom::LakeFormationAccountDefaults', { CatalogId: EXAMPLE_ACCOUNT }), fake.clients(), options),
    ];
    expect(results.map((r) => r.Status)).toEqual(['SUCCESS', 'SUCCESS']);
    const glueOperations = new Set(['GetDatabase', 'UpdateDatabase']);
    const called = [...new Set(fake.calls.map((c) => `${glueOperations.has(c.operation) ? 'glue' : 'lakeformation'}:${c.operation}`))].sort();

    const statements = identityStatements(template).filter(({ holder }) => holder.startsWith('GuardRole'));
    const granted = statements.flatMap(({ statement }) => actionsOf(statement).filter((a) => !a.startsWith('logs:') && !a.startsWith('kms:')));
    expect([...new Set(granted)].sort()).toEqual(called);
    expect(called).toEqual([
      'glue:GetDatabase',
      'glue:UpdateDatabase',
      'lakeformation:BatchRevokePermissions',
      'lakeformation:GetDataLakeSettings',
      'lakeformation:ListPermissions',
      'lakeformation:PutDataLakeSettings',
    ]);
    const glue = statements.filter(({ statement }) => actionsOf(statement).some((a) => a.startsWith('glue:')));
    expect(glue.map(({ statement }) => statement.Resource)).toEqual([
      [
        `arn:aws:glue:${EXAMPLE_REGION}:${EXAMPLE_ACCOUNT}:catalog`,
        `arn:aws:glue:${EXAMPLE_REGION}:${EXAMPLE_ACCOUNT}:database/undercurrent_*`,
      ],
    ]);
  });

  test('changes the account defaults only with governance.lakeFormationOnlyByDefault, once the guard is an administrator', () => {
    const [[, defaults]] = ofType('Custom::LakeFormationAccountDefaults');
    expect(defaults.Properties).toEqual({
      ServiceToken: { 'Fn::GetAtt': [ofType('AWS::Lambda::Function')[0][0], 'Arn'] },
      CatalogId: EXAMPLE_ACCOUNT,
    });
    expect(asList(defaults.DependsOn)).toEqual(expect.arrayContaining([ofType('AWS::LakeFormation::DataLakeSettings')[0][0]]));
    const without = synthPlatform('prod', { context: { accountBaseline: 'true' } });
    const types = Object.values(Template.fromStack(without.account!).toJSON().Resources as Record<string, JsonObject>).map((r) => r.Type);
    expect(types).not.toContain('Custom::LakeFormationAccountDefaults');
    expect(types).toContain('AWS::LakeFormation::DataLakeSettings');
  });

  test('holds dms-vpc-role only with cdc.createDmsVpcRole', () => {
    const named = (json: Record<string, JsonObject>): unknown[] =>
      Object.values(json)
        .filter((r) => r.Type === 'AWS::IAM::Role')
        .map((r) => (r.Properties as JsonObject).RoleName)
        .filter(Boolean);
    expect(named(resources)).toEqual(['dms-vpc-role']);
    const without = synthPlatform('prod', { context: { accountBaseline: 'true' } });
    expect(named(Template.fromStack(without.account!).toJSON().Resources)).toEqual([]);
  });
});
