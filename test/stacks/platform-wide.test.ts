import { Template } from 'aws-cdk-lib/assertions';
import { Platform } from '../../lib/app';
import { STACK_KEYS, SynthesizedPlatform, synthPlatform } from '../support/platform';
import {
  asList,
  identityStatements,
  importValues,
  JsonObject,
  logicalId,
  ref,
  resourcesOf,
  StatementJson,
  stringLeaves,
  unscopedPolicyDescription,
} from './template-helpers';

/** `foundation` -> `Foundation`. */
function stageName(key: keyof Platform): string {
  return key.charAt(0).toUpperCase() + key.slice(1);
}

/**
 * The roles that may carry inline policies or AWS-managed policies: CDK's own custom-resource
 * providers and the RDS enhanced-monitoring role (AWS documents its managed policy). The
 * account-wide `dms-vpc-role` is never in an environment's stacks (the account stack holds it,
 * lib/account/account-stack.ts). Every other role is a `LeastPrivilegeRole` whose permissions
 * are its customer-managed policy `Permissions of <path>` (listed by path in
 * `LEAST_PRIVILEGE_ROLES`) and, for the roles in `UNSCOPED_POLICY_ROLES`, a second one that
 * holds its statements on Resource "*".
 */
const ALLOWED = {
  dev: {
    inline: ['Foundation/CustomVpcRestrictDefaultSGCustomResourceProviderRole26592FE0'],
    awsManaged: ['Foundation/CustomVpcRestrictDefaultSGCustomResourceProviderRole26592FE0', 'Source/MonitoringRole90457BF9'],
  },
  prod: {
    inline: ['Foundation/CustomVpcRestrictDefaultSGCustomResourceProviderRole26592FE0'],
    awsManaged: [
      'Foundation/CustomVpcRestrictDefaultSGCustomResourceProviderRole26592FE0',
      'Source/MonitoringRole90457BF9',
    ],
  },
} as const;

/** Every `LeastPrivilegeRole` of the platform, by construct path (its main policy says `Permissions of <path>`). */
const LEAST_PRIVILEGE_ROLES = {
  dev: [
    'Foundation/FlowLogRole',
    'Ingestion/Alarms/EventsRole',
    'Ingestion/DeliveryRole',
    'Ingestion/ProducerRole',
    'Ingestion/SourceExtract/Role',
    'Orchestration/WorkflowRole',
    'Serving/AnalystRole',
    'Serving/LiveMetrics/Role',
    'Source/SchemaSetup/ProviderRole',
    'Source/SchemaSetup/Role',
    'Storage/LakeFormation/LocationRole',
    'Storage/RawDriftCrawler/Role',
    'Transform/Alarms/EventsRole',
    'Transform/ClickstreamToCurated/Role',
    'Transform/CuratedToGold/Role',
    'Transform/SourceToCurated/Role',
  ],
  prod: [
    'Foundation/FlowLogRole',
    'Ingestion/Alarms/EventsRole',
    'Ingestion/DeliveryRole',
    'Ingestion/ProducerRole',
    'Ingestion/SourceExtract/Role',
    'Orchestration/ScheduleRole',
    'Orchestration/WorkflowRole',
    'Serving/AnalystRole',
    'Serving/LiveMetrics/Role',
    // prod (and staging) only: QuickSight's Athena data source (serving.quickSight.enabled).
    'Serving/QuickSight/DataSourceRole',
    'Source/SchemaSetup/ProviderRole',
    'Source/SchemaSetup/Role',
    'Storage/LakeFormation/LocationRole',
    'Storage/RawDriftCrawler/Role',
    // prod only: the warehouse (warehouse.enabled).
    'Storage/Warehouse/CopyRole',
    'Storage/Warehouse/DefaultRoleFunctionRole',
    'Transform/Alarms/EventsRole',
    'Transform/ClickstreamToCurated/Role',
    'Transform/CuratedToGold/Role',
    'Transform/SourceToCurated/Role',
  ],
} as const;

/**
 * The `LeastPrivilegeRole`s that also have an unscoped policy (`<role>/UnscopedPolicy`, described
 * `Unscoped permissions of <path>: ...`): the roles granted actions AWS offers no resource-level
 * permission for (UNSCOPED_ACTIONS): the Glue jobs (metrics; the extract job also its VPC
 * network interfaces), the VPC-placed schema-setup function, the workflow (log delivery and
 * X-Ray) and the analysts (lakeformation:GetDataAccess); where QuickSight is on, its data source
 * role too (lakeformation:GetDataAccess).
 */
const UNSCOPED_POLICY_ROLES = {
  dev: [
    'Ingestion/SourceExtract/Role',
    'Orchestration/WorkflowRole',
    'Serving/AnalystRole',
    'Source/SchemaSetup/Role',
    'Transform/ClickstreamToCurated/Role',
    'Transform/CuratedToGold/Role',
    'Transform/SourceToCurated/Role',
  ],
  prod: [
    'Ingestion/SourceExtract/Role',
    'Orchestration/WorkflowRole',
    'Serving/AnalystRole',
    'Serving/QuickSight/DataSourceRole',
    'Source/SchemaSetup/Role',
    'Transform/ClickstreamToCurated/Role',
    'Transform/CuratedToGold/Role',
    'Transform/SourceToCurated/Role',
  ],
} as const;

/**
 * Every standalone ingress rule of the platform: a security group admitting another (or
 * itself), never a CIDR. `<stage>/<logical id>`.
 */
const SECURITY_GROUP_INGRESS = {
  dev: [
    'Ingestion/ExtractSecurityGroupDatabaseIngress',
    'Ingestion/ExtractSecurityGroupfromIngestionExtractSecurityGroup8145739CALLPORTS6C30202F',
    'Source/DatabaseSecurityGroupfromSourceRotationSecurityGroup255DF15934075179FC55',
    'Source/DatabaseSecurityGroupfromSourceSchemaSetupSecurityGroup8B4134CC3407A9F9846A',
  ],
  prod: [
    'Ingestion/ExtractSecurityGroupDatabaseIngress',
    'Ingestion/ExtractSecurityGroupfromIngestionExtractSecurityGroup8145739CALLPORTS6C30202F',
    'Source/DatabaseSecurityGroupfromSourceRotationSecurityGroup255DF15934075179FC55',
    'Source/DatabaseSecurityGroupfromSourceSchemaSetupSecurityGroup8B4134CC3407A9F9846A',
    // prod only: the warehouse admits its secret rotation on the cluster port.
    'Storage/WarehouseSecurityGroupfromStorageWarehouseRotationSecurityGroup9B96A1FA54501119B73D',
  ],
} as const;

/** The security groups that may send to 0.0.0.0/0, and then only HTTPS (AWS APIs through NAT or endpoints). */
const HTTPS_EGRESS_GROUPS = {
  dev: ['Ingestion/ExtractSecurityGroupF631D597', 'Source/RotationSecurityGroup8276CF62', 'Source/SchemaSetupSecurityGroup6B99D462'],
  prod: [
    'Ingestion/ExtractSecurityGroupF631D597',
    'Source/RotationSecurityGroup8276CF62',
    'Source/SchemaSetupSecurityGroup6B99D462',
    // prod only: the warehouse rotation (Secrets Manager) and the cluster (S3 and APIs through endpoints, enhanced VPC routing).
    'Storage/WarehouseRotationSecurityGroupB83D3966',
    'Storage/WarehouseSecurityGroup3F27703C',
  ],
} as const;

/**
 * What `cdc.enabled` adds to prod (off in every shipped environment until the curate job reads
 * `cdc/`; the switch stays, so the whole platform is checked with it on too, with
 * `createDmsVpcRole`): the two DMS roles, the DMS security group and its rule into the database
 * group. No `dms-vpc-role` and no AWS-managed policy: that role is the account stack's.
 */
const WITH_CDC = {
  leastPrivilege: ['Ingestion/CdcSecretsRole', 'Ingestion/CdcTargetRole'],
  ingress: ['Ingestion/CdcSecurityGroupDatabaseIngress'],
  httpsEgress: ['Ingestion/CdcSecurityGroup22FAB14D'],
} as const;

/**
 * What the second key of data destruction (`-c removeDataOnDestroy=true`) adds to dev: the
 * providers of the custom resources that empty the buckets before CloudFormation deletes them.
 */
const WITH_REMOVE_DATA = {
  awsManaged: [
    'Foundation/CustomS3AutoDeleteObjectsCustomResourceProviderRole3B1BD092',
    'Storage/CustomS3AutoDeleteObjectsCustomResourceProviderRole3B1BD092',
  ],
} as const;

/**
 * The platforms checked below: the shipped dev and prod as `cdk synth -c env=<name>` builds
 * them, dev with `-c removeDataOnDestroy=true`, and prod with CDC switched on.
 */
const VARIANTS = {
  dev: { envName: 'dev', cdc: false, removeData: false },
  'dev with -c removeDataOnDestroy=true': { envName: 'dev', cdc: false, removeData: true },
  prod: { envName: 'prod', cdc: false, removeData: false },
  'prod with cdc.enabled': { envName: 'prod', cdc: true, removeData: false },
} as const;
type Variant = keyof typeof VARIANTS;

const sorted = (...lists: readonly (readonly string[])[]): string[] => lists.flat().sort();

/** The expected lists of a variant. */
function expectedOf(variant: Variant) {
  const { envName, cdc, removeData } = VARIANTS[variant];
  return {
    inline: [...ALLOWED[envName].inline],
    awsManaged: sorted(ALLOWED[envName].awsManaged, removeData ? WITH_REMOVE_DATA.awsManaged : []),
    leastPrivilege: sorted(LEAST_PRIVILEGE_ROLES[envName], cdc ? WITH_CDC.leastPrivilege : []),
    unscoped: sorted(UNSCOPED_POLICY_ROLES[envName]),
    ingress: sorted(SECURITY_GROUP_INGRESS[envName], cdc ? WITH_CDC.ingress : []),
    httpsEgress: sorted(HTTPS_EGRESS_GROUPS[envName], cdc ? WITH_CDC.httpsEgress : []),
  };
}

/** Resource types that hold data or its keys, and so follow the environment's removal policy. */
const DATA_BEARING = [
  'AWS::S3::Bucket',
  'AWS::KMS::Key',
  'AWS::Logs::LogGroup',
  'AWS::Glue::Database',
  'AWS::Kinesis::Stream',
  'AWS::RDS::DBInstance',
  // The live metrics' dead-letter queues hold click records.
  'AWS::SQS::Queue',
];

/** An account id inside an ARN (`:123456789012:`, `::123456789012:`) or on its own. */
const ACCOUNT_ID = /(^\d{12}$)|(:\d{12}(:|\/|$))/;

describe.each(Object.keys(VARIANTS) as Variant[])('the whole %s platform', (variant) => {
  const { envName, cdc, removeData } = VARIANTS[variant];
  const expected = expectedOf(variant);
  let platform: SynthesizedPlatform;
  let templates: { key: keyof Platform; stage: string; template: Template; json: JsonObject }[];

  beforeAll(() => {
    platform = synthPlatform(envName, {
      patch: cdc ? { cdc: { enabled: true, createDmsVpcRole: true } } : {},
      context: removeData ? { removeDataOnDestroy: 'true' } : {},
    });
    templates = STACK_KEYS.map((key) => {
      const template = platform.template(key);
      return { key, stage: stageName(key), template, json: template.toJSON() };
    });
  });

  function all(type: string): { stage: string; id: string; resource: JsonObject }[] {
    return templates.flatMap(({ stage, template }) =>
      Object.entries(resourcesOf(template, type)).map(([id, resource]) => ({ stage, id, resource })),
    );
  }

  describe('IAM', () => {
    test('no Allow statement of any identity policy has an action containing "*" or uses NotAction', () => {
      const offenders = templates.flatMap(({ stage, template }) =>
        identityStatements(template)
          .filter(({ statement }) => statement.Effect === 'Allow')
          .filter(({ statement }) => statement.NotAction !== undefined || asList(statement.Action).some((a) => a.includes('*')))
          .map(({ holder, kind, statement }) => `${stage}/${holder} (${kind}): ${JSON.stringify(statement.Action ?? statement.NotAction)}`),
      );
      expect(offenders).toEqual([]);
    });

    test('the scan above sees the statements of every stack that grants permissions', () => {
      const stagesWithStatements = templates.filter(({ template }) => identityStatements(template).length > 0).map((t) => t.stage);
      expect(stagesWithStatements).toEqual(['Foundation', 'Storage', 'Source', 'Ingestion', 'Transform', 'Serving', 'Orchestration']);
    });

    test('there is no AWS::IAM::Policy resource in any stack', () => {
      expect(all('AWS::IAM::Policy').map(({ stage, id }) => `${stage}/${id}`)).toEqual([]);
    });

    test('only the CDK default-security-group provider role has an inline policy', () => {
      const inline = all('AWS::IAM::Role')
        .filter(({ resource }) => resource.Properties?.Policies !== undefined)
        .map(({ stage, id }) => `${stage}/${id}`)
        .sort();
      expect(inline).toEqual(expected.inline);
    });

    test(`only CDK custom-resource provider roles and the RDS monitoring role have AWS-managed policies${cdc ? ' (no dms-vpc-role, although createDmsVpcRole is on)' : ''}`, () => {
      const managed = all('AWS::IAM::Role')
        .filter(({ resource }) => resource.Properties?.ManagedPolicyArns !== undefined)
        .map(({ stage, id }) => `${stage}/${id}`)
        .sort();
      expect(managed).toEqual(expected.awsManaged);
      expect(platform.config.cdc.createDmsVpcRole).toBe(cdc);
      expect(all('AWS::IAM::Role').filter(({ resource }) => resource.Properties?.RoleName === 'dms-vpc-role')).toEqual([]);
    });

    test('the least-privilege roles are exactly the listed ones, each with its customer-managed policy, and the listed ones with an unscoped policy besides', () => {
      const descriptions = all('AWS::IAM::ManagedPolicy').map(({ resource }) => resource.Properties?.Description as string);
      const main = descriptions.filter((d) => d.startsWith('Permissions of ')).map((d) => d.replace(/^Permissions of /, ''));
      const unscoped = descriptions.filter((d) => !d.startsWith('Permissions of '));
      expect(main.sort()).toEqual(expected.leastPrivilege);
      // Every other customer-managed policy is the unscoped policy of a listed role, described as such.
      expect(unscoped.sort()).toEqual(expected.unscoped.map(unscopedPolicyDescription).sort());
    });

    test('every role of the platform is either allowed above or a listed least-privilege role', () => {
      const allowed = new Set<string>([...expected.inline, ...expected.awsManaged]);
      const roles = all('AWS::IAM::Role').map(({ stage, id }) => `${stage}/${id}`);
      const others = roles.filter((r) => !allowed.has(r));
      expect(others).toHaveLength(expected.leastPrivilege.length);
    });

    test('every other role has its own customer-managed policy attached, plus its own unscoped policy where listed, and no other', () => {
      const allowed = new Set<string>([...expected.inline, ...expected.awsManaged]);
      const withUnscoped = new Set<string>(expected.unscoped);
      for (const { stage, template } of templates) {
        const policies = Object.values(resourcesOf(template, 'AWS::IAM::ManagedPolicy'));
        // Each customer-managed policy belongs to exactly one role, and to no user or group.
        for (const policy of policies) {
          expect({ policy: policy.Properties?.Description, roles: asList(policy.Properties?.Roles).length, users: policy.Properties?.Users, groups: policy.Properties?.Groups }).toEqual({
            policy: policy.Properties?.Description,
            roles: 1,
            users: undefined,
            groups: undefined,
          });
        }
        for (const roleId of Object.keys(resourcesOf(template, 'AWS::IAM::Role'))) {
          if (allowed.has(`${stage}/${roleId}`)) {
            continue;
          }
          const attached = policies
            .filter((p) => asList<JsonObject>(p.Properties?.Roles).some((r) => r.Ref === roleId))
            .map((p) => p.Properties?.Description as string)
            .sort();
          // The role's path, as its main policy names it; both policies must name the same role.
          const path = attached.find((d) => d.startsWith('Permissions of '))?.replace(/^Permissions of /, '') ?? '<no main policy>';
          const expectedPolicies = [`Permissions of ${path}`, ...(withUnscoped.has(path) ? [unscopedPolicyDescription(path)] : [])];
          expect({ role: `${stage}/${roleId}`, policies: attached }).toEqual({ role: `${stage}/${roleId}`, policies: expectedPolicies });
        }
      }
    });
  });

  describe('secrets', () => {
    /** Every identity statement with a Secrets Manager action, as `<stage>/<role path>` of its holder's policy. */
    function secretStatements(): { holder: string; statement: StatementJson }[] {
      return templates.flatMap(({ stage, template }) => {
        const policies = resourcesOf(template, 'AWS::IAM::ManagedPolicy');
        return identityStatements(template)
          .filter(({ statement }) => asList(statement.Action ?? statement.NotAction).some((a) => a.startsWith('secretsmanager:')))
          .map(({ holder, kind, statement }) => ({
            holder:
              kind === 'AWS::IAM::ManagedPolicy'
                ? (policies[holder].Properties?.Description as string).replace(/^Permissions of /, '')
                : `${stage}/${holder} (${kind})`,
            statement,
          }));
      });
    }

    test(`the only principals that may read a secret are the schema setup (admin and service users), the extract job (extract user)${cdc ? ' and DMS (replication user)' : ''}`, () => {
      const { source, ingestion } = platform;
      const admin = { 'Fn::GetAtt': [logicalId(source.database), 'MasterUserSecret.SecretArn'] };
      const read = (resource: unknown): StatementJson => ({ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: resource });
      const expected = [
        { holder: 'Source/SchemaSetup/Role', statement: read([admin, ...[source.extractSecret, source.replicationSecret].flatMap((s) => (s ? [ref(source, s.secretArn)] : []))]) },
        ...(cdc ? [{ holder: 'Ingestion/CdcSecretsRole', statement: read(ref(ingestion, source.replicationSecret!.secretArn)) }] : []),
        { holder: 'Ingestion/SourceExtract/Role', statement: read(ref(ingestion, source.extractSecret.secretArn)) },
      ];
      expect(secretStatements().sort((a, b) => a.holder.localeCompare(b.holder))).toEqual(
        expected.sort((a, b) => a.holder.localeCompare(b.holder)),
      );
    });

    test('no component other than the schema-setup function can read the admin secret: only its role’s policy and its custom resource name it', () => {
      const setup = platform.source.setup;
      const setupPolicy = Object.entries(resourcesOf(platform.template('source'), 'AWS::IAM::ManagedPolicy')).find(
        ([, p]) => p.Properties?.Description === 'Permissions of Source/SchemaSetup/Role',
      )![0];
      const mentions = templates.flatMap(({ stage, json }) =>
        stringLeaves(json)
          .filter(({ value }) => value.includes('MasterUserSecret'))
          .map(({ path }) => `${stage}: ${path}`),
      );
      // Never exported, so no other stack can even refer to it.
      expect(mentions.sort()).toEqual(
        [
          `Source: Resources.${setupPolicy}.Properties.PolicyDocument.Statement[0].Resource[0].Fn::GetAtt[1]`,
          `Source: Resources.${logicalId(setup.resource)}.Properties.SecretArn.Fn::GetAtt[1]`,
        ].sort(),
      );
      // The policy holds for the setup role alone, and that role runs the setup function alone.
      const setupRoleId = logicalId(setup.node.findChild('Role'));
      const policy = resourcesOf(platform.template('source'), 'AWS::IAM::ManagedPolicy')[setupPolicy];
      expect(policy.Properties?.Roles).toEqual([{ Ref: setupRoleId }]);
      expect(policy.Properties?.Users).toBeUndefined();
      expect(policy.Properties?.Groups).toBeUndefined();
      const functionsWithRole = all('AWS::Lambda::Function')
        .filter(({ resource }) => JSON.stringify(resource.Properties?.Role) === JSON.stringify({ 'Fn::GetAtt': [setupRoleId, 'Arn'] }))
        .map(({ stage, id }) => `${stage}/${id}`);
      expect(functionsWithRole).toEqual([`Source/${logicalId(setup.function)}`]);
    });

    test('no secret has a resource policy that allows anything (CDK only denies deleting an attached secret)', () => {
      const policies = all('AWS::SecretsManager::ResourcePolicy');
      // The extract user's secret; with CDC the replication user's; in prod the warehouse admin's.
      expect(policies).toHaveLength(1 + (cdc ? 1 : 0) + (envName === 'prod' ? 1 : 0));
      for (const { resource } of policies) {
        for (const statement of asList<StatementJson>(resource.Properties?.ResourcePolicy.Statement)) {
          expect(statement).toEqual(expect.objectContaining({ Effect: 'Deny', Action: 'secretsmanager:DeleteSecret' }));
        }
      }
    });
  });

  describe('logs', () => {
    test('every log group has the configured retention and is encrypted with the ops key', () => {
      const groups = templates.flatMap(({ key, stage, template }) =>
        Object.entries(resourcesOf(template, 'AWS::Logs::LogGroup')).map(([id, g]) => ({ key, stage, id, g })),
      );
      expect(groups.length).toBeGreaterThanOrEqual(8);
      for (const { key, stage, id, g } of groups) {
        expect({ group: `${stage}/${id}`, retention: g.Properties?.RetentionInDays }).toEqual({
          group: `${stage}/${id}`,
          retention: platform.config.dataProtection.logRetentionDays,
        });
        expect(g.Properties?.KmsKeyId).toEqual(ref(platform[key], platform.foundation.keys.ops.keyArn));
      }
    });
  });

  describe('encryption and transport', () => {
    test('every bucket has a bucket policy that denies requests when aws:SecureTransport is false', () => {
      const buckets = all('AWS::S3::Bucket');
      expect(buckets).toHaveLength(6);
      for (const { stage, id } of buckets) {
        const { template } = templates.find((t) => t.stage === stage)!;
        const policies = Object.values(resourcesOf(template, 'AWS::S3::BucketPolicy')).filter(
          (p) => p.Properties?.Bucket?.Ref === id,
        );
        expect({ bucket: `${stage}/${id}`, policies: policies.length }).toEqual({ bucket: `${stage}/${id}`, policies: 1 });
        expect(policies[0].Properties!.PolicyDocument.Statement).toContainEqual(
          expect.objectContaining({
            Effect: 'Deny',
            Action: 's3:*',
            Principal: { AWS: '*' },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        );
      }
    });

    test('every SNS topic is encrypted with a KMS key', () => {
      const topics = all('AWS::SNS::Topic');
      expect(topics).toHaveLength(1);
      for (const { resource } of topics) {
        expect(resource.Properties?.KmsMasterKeyId).toBeDefined();
      }
    });

    test('every KMS key rotates, and all five (lake, query results, stream, source, ops) live in the Foundation stack', () => {
      const keys = all('AWS::KMS::Key');
      expect(keys.map((k) => k.stage)).toEqual(['Foundation', 'Foundation', 'Foundation', 'Foundation', 'Foundation']);
      const { lake, queryResults, stream, source, ops } = platform.foundation.keys;
      expect(Object.keys(platform.foundation.keys).sort()).toEqual(['lake', 'ops', 'queryResults', 'source', 'stream']);
      expect(keys.map((k) => k.id).sort()).toEqual([lake, queryResults, stream, source, ops].map((k) => logicalId(k)).sort());
      for (const { resource } of keys) {
        expect(resource.Properties?.EnableKeyRotation).toBe(true);
      }
    });
  });

  describe('network', () => {
    test('no security group admits ingress from 0.0.0.0/0 or ::/0', () => {
      const rules = [
        ...all('AWS::EC2::SecurityGroup').flatMap(({ stage, id, resource }) =>
          asList<JsonObject>(resource.Properties?.SecurityGroupIngress).map((rule) => ({ where: `${stage}/${id}`, rule })),
        ),
        ...all('AWS::EC2::SecurityGroupIngress').map(({ stage, id, resource }) => ({ where: `${stage}/${id}`, rule: resource.Properties })),
      ];
      const open = rules.filter(({ rule }) => rule.CidrIp === '0.0.0.0/0' || rule.CidrIpv6 === '::/0');
      expect(open).toEqual([]);
    });

    test('every ingress rule comes from inside the VPC', () => {
      const rules = all('AWS::EC2::SecurityGroup').flatMap(({ resource }) => asList<JsonObject>(resource.Properties?.SecurityGroupIngress));
      for (const rule of rules) {
        expect(rule.CidrIp).toBe(platform.config.network.vpcCidr);
      }
    });

    test('the standalone ingress rules are exactly the listed ones, and each admits a security group, never a CIDR', () => {
      const rules = all('AWS::EC2::SecurityGroupIngress');
      expect(rules.map(({ stage, id }) => `${stage}/${id}`).sort()).toEqual(expected.ingress);
      for (const { resource } of rules) {
        expect(resource.Properties?.SourceSecurityGroupId).toBeDefined();
        expect(resource.Properties?.CidrIp).toBeUndefined();
        expect(resource.Properties?.CidrIpv6).toBeUndefined();
        expect(resource.Properties?.SourcePrefixListId).toBeUndefined();
      }
    });

    test('only the listed groups send to 0.0.0.0/0, and only tcp 443; no rule sends to ::/0', () => {
      const open = [
        ...all('AWS::EC2::SecurityGroup').flatMap(({ stage, id, resource }) =>
          asList<JsonObject>(resource.Properties?.SecurityGroupEgress).map((rule) => ({ group: `${stage}/${id}`, rule })),
        ),
        ...all('AWS::EC2::SecurityGroupEgress').map(({ stage, resource }) => ({
          group: `${stage}/${resource.Properties?.GroupId?.['Fn::GetAtt']?.[0]}`,
          rule: resource.Properties!,
        })),
      ].filter(({ rule }) => rule.CidrIp === '0.0.0.0/0' || rule.CidrIpv6 === '::/0');
      expect(open.map(({ group }) => group).sort()).toEqual(expected.httpsEgress);
      for (const { rule } of open) {
        expect(rule).toEqual(expect.objectContaining({ CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443 }));
      }
    });
  });

  describe('data protection', () => {
    // Two keys: removalPolicy "destroy" (dev's config) and -c removeDataOnDestroy=true.
    const policy = removeData ? 'Delete' : 'Retain';

    test(`every data-bearing resource has DeletionPolicy ${policy}`, () => {
      const wrong = DATA_BEARING.flatMap((type) =>
        all(type)
          .filter(({ resource }) => resource.DeletionPolicy !== policy)
          .map(({ stage, id, resource }) => `${stage}/${id}: ${resource.DeletionPolicy}`),
      );
      expect(wrong).toEqual([]);
      expect(DATA_BEARING.flatMap((type) => all(type)).length).toBeGreaterThan(0);
    });

    test(removeData ? 'every bucket is emptied on deletion by an auto-delete custom resource' : 'no custom resource empties a bucket', () => {
      const buckets = all('AWS::S3::Bucket').map(({ stage, id }) => `${stage}/${id}`);
      const emptied = all('Custom::S3AutoDeleteObjects').map(({ stage, resource }) => `${stage}/${resource.Properties?.BucketName.Ref}`);
      expect(emptied.sort()).toEqual(removeData ? buckets.sort() : []);
    });

    test(`termination protection is ${envName === 'prod' ? 'on' : 'off'} for every stack`, () => {
      for (const key of STACK_KEYS) {
        expect(platform[key].terminationProtection).toBe(envName === 'prod');
      }
    });
  });

  describe('stacks', () => {
    test('every stack is named Undercurrent-<env>-<Stage>', () => {
      expect(STACK_KEYS.map((key) => platform[key].stackName)).toEqual(
        STACK_KEYS.map((key) => `Undercurrent-${envName}-${stageName(key)}`),
      );
    });

    test('every stack depends only on stacks that deploy before it, so there is no cycle', () => {
      for (const [index, key] of STACK_KEYS.entries()) {
        for (const dependency of platform[key].dependencies) {
          const position = STACK_KEYS.findIndex((k) => platform[k] === dependency);
          expect({ stack: key, dependsOnEarlier: position >= 0 && position < index }).toEqual({
            stack: key,
            dependsOnEarlier: true,
          });
        }
      }
    });

    test('the Foundation stack imports nothing', () => {
      expect(importValues(templates[0].json)).toEqual([]);
    });

    test('stacks cross only through CDK-generated exports of earlier stacks', () => {
      const exports = new Map<string, number>();
      templates.forEach(({ json }, index) => {
        for (const output of Object.values<JsonObject>(json.Outputs ?? {})) {
          if (output.Export) {
            exports.set(output.Export.Name, index);
          }
        }
      });
      let imports = 0;
      templates.forEach(({ key, json }, index) => {
        for (const value of importValues(json)) {
          imports += 1;
          // A literal name (not a hand-built Fn::Sub/Join), in CDK's `<producer>:ExportsOutput...` form.
          expect(typeof value).toBe('string');
          expect(value).toMatch(new RegExp(`^Undercurrent-${envName}-[A-Za-z]+:ExportsOutput`));
          const producer = exports.get(value as string);
          expect({ consumer: key, value, producedEarlier: producer !== undefined && producer < index }).toEqual({
            consumer: key,
            value,
            producedEarlier: true,
          });
        }
      });
      expect(imports).toBeGreaterThan(0);
    });

    // dev is environment-agnostic; prod is pinned (-c account=123456789012 -c region=us-east-1),
    // and CDK writes a pinned stack's account and region into its ARNs as literals.
    const pinned = envName !== 'dev';

    test(
      pinned
        ? 'no template names an account other than the pinned 123456789012'
        : 'no template hard-codes an account id or an ARN that contains one',
      () => {
        const hits = templates.flatMap(({ stage, json }) =>
          stringLeaves(json)
            .filter(({ value }) => ACCOUNT_ID.test(pinned ? value.split('123456789012').join('<pinned>') : value))
            .map(({ path, value }) => `${stage}: ${path} = ${value}`),
        );
        expect(hits).toEqual([]);
      },
    );

    if (pinned) {
      test('every literal ARN is of the pinned account and region (or AWS-owned, or global)', () => {
        const foreign = templates.flatMap(({ stage, json }) =>
          stringLeaves(json)
            .filter(({ value }) => /^arn:/.test(value))
            .filter(({ value }) => {
              const parts = value.replace('${AWS::Partition}', 'aws').split(':');
              // A fragment of an Fn::Join ("arn:") names nothing by itself.
              if (parts.length < 5) {
                return false;
              }
              const [, partition, , region, account] = parts;
              return (
                partition !== 'aws' ||
                !['', 'us-east-1'].includes(region) ||
                !['', 'aws', '123456789012'].includes(account)
              );
            })
            .map(({ path, value }) => `${stage}: ${path} = ${value}`),
        );
        expect(foreign).toEqual([]);
      });
    } else {
      test('no template names another stack’s resource by a literal ARN', () => {
        const literalArns = templates.flatMap(({ stage, json }) =>
          stringLeaves(json)
            .filter(({ value }) => /^arn:aws[a-z-]*:/.test(value))
            .map(({ path, value }) => `${stage}: ${path} = ${value}`),
        );
        expect(literalArns).toEqual([]);
      });
    }
  });
});
