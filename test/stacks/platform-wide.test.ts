import { Template } from 'aws-cdk-lib/assertions';
import { Platform } from '../../lib/platform';
import { STACK_KEYS, SynthesizedPlatform, synthPlatform } from '../support/platform';
import { asList, identityStatements, importValues, JsonObject, ref, resourcesOf, stringLeaves } from './template-helpers';

/** `foundation` -> `Foundation`. */
function stageName(key: keyof Platform): string {
  return key.charAt(0).toUpperCase() + key.slice(1);
}

/**
 * The roles that may carry inline policies or AWS-managed policies: CDK's own custom-resource
 * providers, and the RDS enhanced-monitoring role (AWS documents its managed policy). Every
 * other role is a `LeastPrivilegeRole` whose permissions are one customer-managed policy.
 */
const ALLOWED = {
  dev: {
    inline: ['Foundation/CustomVpcRestrictDefaultSGCustomResourceProviderRole26592FE0'],
    awsManaged: [
      'Foundation/CustomS3AutoDeleteObjectsCustomResourceProviderRole3B1BD092',
      'Foundation/CustomVpcRestrictDefaultSGCustomResourceProviderRole26592FE0',
      'Source/MonitoringRole90457BF9',
      'Storage/CustomS3AutoDeleteObjectsCustomResourceProviderRole3B1BD092',
    ],
  },
  prod: {
    inline: ['Foundation/CustomVpcRestrictDefaultSGCustomResourceProviderRole26592FE0'],
    awsManaged: [
      'Foundation/CustomVpcRestrictDefaultSGCustomResourceProviderRole26592FE0',
      'Source/MonitoringRole90457BF9',
    ],
  },
} as const;

/** Resource types that hold data or its keys, and so follow the environment's removal policy. */
const DATA_BEARING = [
  'AWS::S3::Bucket',
  'AWS::KMS::Key',
  'AWS::Logs::LogGroup',
  'AWS::Glue::Database',
  'AWS::Kinesis::Stream',
  'AWS::RDS::DBInstance',
];

/** An account id inside an ARN (`:123456789012:`, `::123456789012:`) or on its own. */
const ACCOUNT_ID = /(^\d{12}$)|(:\d{12}(:|\/|$))/;

describe.each(['dev', 'prod'] as const)('the whole %s platform', (envName) => {
  let platform: SynthesizedPlatform;
  let templates: { key: keyof Platform; stage: string; template: Template; json: JsonObject }[];

  beforeAll(() => {
    platform = synthPlatform(envName);
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
      expect(stagesWithStatements).toEqual(['Foundation', 'Ingestion', 'Transform', 'Orchestration']);
    });

    test('there is no AWS::IAM::Policy resource in any stack', () => {
      expect(all('AWS::IAM::Policy').map(({ stage, id }) => `${stage}/${id}`)).toEqual([]);
    });

    test('only the CDK default-security-group provider role has an inline policy', () => {
      const inline = all('AWS::IAM::Role')
        .filter(({ resource }) => resource.Properties?.Policies !== undefined)
        .map(({ stage, id }) => `${stage}/${id}`)
        .sort();
      expect(inline).toEqual([...ALLOWED[envName].inline]);
    });

    test('only CDK custom-resource provider roles and the RDS monitoring role have AWS-managed policies', () => {
      const managed = all('AWS::IAM::Role')
        .filter(({ resource }) => resource.Properties?.ManagedPolicyArns !== undefined)
        .map(({ stage, id }) => `${stage}/${id}`)
        .sort();
      expect(managed).toEqual([...ALLOWED[envName].awsManaged]);
    });

    test('every other role has exactly one customer-managed policy attached', () => {
      const allowed = new Set<string>([...ALLOWED[envName].inline, ...ALLOWED[envName].awsManaged]);
      for (const { stage, template } of templates) {
        const policies = Object.values(resourcesOf(template, 'AWS::IAM::ManagedPolicy'));
        for (const roleId of Object.keys(resourcesOf(template, 'AWS::IAM::Role'))) {
          if (allowed.has(`${stage}/${roleId}`)) {
            continue;
          }
          const attached = policies.filter((p) => asList<JsonObject>(p.Properties?.Roles).some((r) => r.Ref === roleId));
          expect({ role: `${stage}/${roleId}`, policies: attached.length }).toEqual({ role: `${stage}/${roleId}`, policies: 1 });
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

    test('every KMS key rotates, and all four live in the Foundation stack', () => {
      const keys = all('AWS::KMS::Key');
      expect(keys.map((k) => k.stage)).toEqual(['Foundation', 'Foundation', 'Foundation', 'Foundation']);
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
  });

  describe('data protection', () => {
    const expected = envName === 'prod' ? 'Retain' : 'Delete';

    test(`every data-bearing resource has DeletionPolicy ${expected}`, () => {
      const wrong = DATA_BEARING.flatMap((type) =>
        all(type)
          .filter(({ resource }) => resource.DeletionPolicy !== expected)
          .map(({ stage, id, resource }) => `${stage}/${id}: ${resource.DeletionPolicy}`),
      );
      expect(wrong).toEqual([]);
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

    test('no template hard-codes an account id or an ARN that contains one', () => {
      const hits = templates.flatMap(({ stage, json }) =>
        stringLeaves(json)
          .filter(({ value }) => ACCOUNT_ID.test(value))
          .map(({ path, value }) => `${stage}: ${path} = ${value}`),
      );
      expect(hits).toEqual([]);
    });

    test('no template names another stack’s resource by a literal ARN', () => {
      const literalArns = templates.flatMap(({ stage, json }) =>
        stringLeaves(json)
          .filter(({ value }) => /^arn:aws[a-z-]*:/.test(value))
          .map(({ path, value }) => `${stage}: ${path} = ${value}`),
      );
      expect(literalArns).toEqual([]);
    });
  });
});
