import { CfnElement, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { IConstruct } from 'constructs';

/**
 * Helpers shared by the stack tests: reading policies, references and Step Functions
 * definitions out of synthesized templates. Not a test file (jest matches `*.test.ts` only).
 */

/**
 * A JSON object of a synthesized template, typed exactly as the CDK assertions library types
 * `Template.toJSON()`: tests read template JSON whose shape they know.
 */
export type JsonObject = ReturnType<Template['toJSON']>;

/** One resource of a synthesized template. */
export interface CfnResourceJson {
  readonly Type: string;
  readonly Properties?: JsonObject;
  readonly DeletionPolicy?: string;
  readonly UpdateReplacePolicy?: string;
  readonly DependsOn?: string | string[];
}

/** One IAM policy statement as CloudFormation renders it. */
export interface StatementJson {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action?: string | string[];
  readonly NotAction?: string | string[];
  readonly Resource?: unknown;
  readonly NotResource?: unknown;
  readonly Principal?: unknown;
  readonly Condition?: Record<string, Record<string, unknown>>;
}

/** Where an identity-based statement lives. */
export type PolicyKind = 'inline' | 'AWS::IAM::Policy' | 'AWS::IAM::ManagedPolicy';

/** An identity-based statement and the resource that holds it. */
export interface IdentityStatement {
  /** Logical id of the role (inline) or policy resource. */
  readonly holder: string;
  readonly kind: PolicyKind;
  readonly statement: StatementJson;
}

/** A value or list of values as a list. */
export function asList<T>(value: T | readonly T[] | undefined): T[] {
  if (value === undefined) {
    return [];
  }
  return Array.isArray(value) ? [...value] : [value as T];
}

/** Resources of one type, by logical id. */
export function resourcesOf(template: Template, type: string): Record<string, CfnResourceJson> {
  return template.findResources(type) as Record<string, CfnResourceJson>;
}

/**
 * How `consumer` refers to a token once the app is synthesized: a `Ref`/`Fn::GetAtt` in the
 * token's own stack, the `Fn::ImportValue` of the producer's export in any other stack.
 */
export function ref(consumer: Stack, token: string): unknown {
  return consumer.resolve(token);
}

/**
 * The pseudo parameters of an environment-agnostic stack (dev) and the literals a stack pinned
 * to the tests' target renders instead (staging and prod: `-c account=123456789012
 * -c region=us-east-1`, in the `aws` partition).
 */
const PINNED_PSEUDO_PARAMETERS: Record<string, string> = {
  'AWS::AccountId': '123456789012',
  'AWS::Region': 'us-east-1',
  'AWS::Partition': 'aws',
};

/**
 * An expectation written for an environment-agnostic stack (with `{ Ref: 'AWS::AccountId' }`,
 * `AWS::Region`, `AWS::Partition`), as a stack pinned to the tests' target renders it: each
 * pseudo parameter becomes its literal, and an `Fn::Join` on '' whose parts become literals is
 * folded into one string (adjacent literal parts merged), as CDK does.
 */
export function inPinnedStack(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(inPinnedStack);
  }
  if (value === null || typeof value !== 'object') {
    return value;
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 1) {
    const [[key, arg]] = entries;
    if (key === 'Ref' && typeof arg === 'string' && arg in PINNED_PSEUDO_PARAMETERS) {
      return PINNED_PSEUDO_PARAMETERS[arg];
    }
    if (key === 'Fn::Join' && Array.isArray(arg) && arg[0] === '') {
      const parts: unknown[] = [];
      for (const part of (arg[1] as unknown[]).map(inPinnedStack)) {
        const last = parts[parts.length - 1];
        if (typeof part === 'string' && typeof last === 'string') {
          parts[parts.length - 1] = last + part;
        } else {
          parts.push(part);
        }
      }
      return parts.length === 1 && typeof parts[0] === 'string' ? parts[0] : { 'Fn::Join': ['', parts] };
    }
  }
  return Object.fromEntries(entries.map(([key, v]) => [key, inPinnedStack(v)]));
}

/** An expectation written for an environment-agnostic stack, as the environment renders it: unchanged in dev, {@link inPinnedStack} elsewhere. */
export function asRendered(envName: string, value: unknown): unknown {
  return envName === 'dev' ? value : inPinnedStack(value);
}

/** Logical id of a construct's CloudFormation resource (the construct itself or its default child). */
export function logicalId(construct: IConstruct): string {
  const element = (construct instanceof CfnElement ? construct : construct.node.defaultChild) as CfnElement | undefined;
  if (!element) {
    throw new Error(`${construct.node.path} has no CloudFormation resource`);
  }
  return Stack.of(element).getLogicalId(element);
}

/** Every identity-based statement of a template: inline role policies, `AWS::IAM::Policy`, `AWS::IAM::ManagedPolicy`. */
export function identityStatements(template: Template): IdentityStatement[] {
  const result: IdentityStatement[] = [];
  for (const [id, role] of Object.entries(resourcesOf(template, 'AWS::IAM::Role'))) {
    for (const policy of asList<JsonObject>(role.Properties?.Policies)) {
      for (const statement of asList<StatementJson>(policy.PolicyDocument?.Statement)) {
        result.push({ holder: id, kind: 'inline', statement });
      }
    }
  }
  for (const kind of ['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy'] as const) {
    for (const [id, policy] of Object.entries(resourcesOf(template, kind))) {
      for (const statement of asList<StatementJson>(policy.Properties?.PolicyDocument?.Statement)) {
        result.push({ holder: id, kind, statement });
      }
    }
  }
  return result;
}

/**
 * Statements of the customer-managed policy of a `LeastPrivilegeRole`, found by the policy's
 * description `Permissions of <role path>` (the role path without the app's root).
 */
export function rolePolicyStatements(template: Template, rolePath: string): StatementJson[] {
  const policies = Object.values(resourcesOf(template, 'AWS::IAM::ManagedPolicy')).filter(
    (p) => p.Properties?.Description === `Permissions of ${rolePath}`,
  );
  if (policies.length !== 1) {
    throw new Error(`expected one managed policy of ${rolePath}, found ${policies.length}`);
  }
  return asList<StatementJson>(policies[0].Properties!.PolicyDocument.Statement);
}

/**
 * The description of a `LeastPrivilegeRole`'s second managed policy, `<role>/UnscopedPolicy`,
 * which holds its statements on Resource "*" (lib/shared/least-privilege-role.ts).
 */
export function unscopedPolicyDescription(rolePath: string): string {
  return `Unscoped permissions of ${rolePath}: actions AWS offers no resource-level permission for, or that the calling service checks on "*"`;
}

/**
 * Statements of the unscoped managed policy of a `LeastPrivilegeRole` (its statements on
 * Resource "*"), found by the policy's description {@link unscopedPolicyDescription}.
 */
export function roleUnscopedPolicyStatements(template: Template, rolePath: string): StatementJson[] {
  const policies = Object.values(resourcesOf(template, 'AWS::IAM::ManagedPolicy')).filter(
    (p) => p.Properties?.Description === unscopedPolicyDescription(rolePath),
  );
  if (policies.length !== 1) {
    throw new Error(`expected one unscoped managed policy of ${rolePath}, found ${policies.length}`);
  }
  return asList<StatementJson>(policies[0].Properties!.PolicyDocument.Statement);
}

/** Statements whose actions include `action`. */
export function statementsWithAction(statements: readonly StatementJson[], action: string): StatementJson[] {
  return statements.filter((s) => asList(s.Action).includes(action));
}

/** Sorted actions of a statement. */
export function actionsOf(statement: StatementJson): string[] {
  return asList(statement.Action).sort();
}

/** Every string leaf of a JSON value, with its path. */
export function stringLeaves(value: unknown, path = ''): { path: string; value: string }[] {
  if (typeof value === 'string') {
    return [{ path, value }];
  }
  if (Array.isArray(value)) {
    return value.flatMap((v, i) => stringLeaves(v, `${path}[${i}]`));
  }
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => stringLeaves(v, path ? `${path}.${k}` : k));
  }
  return [];
}

/** Every value of an `Fn::ImportValue` in a JSON value. */
export function importValues(value: unknown): unknown[] {
  if (Array.isArray(value)) {
    return value.flatMap(importValues);
  }
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => (k === 'Fn::ImportValue' ? [v] : importValues(v)));
  }
  return [];
}

/**
 * A JSON-text property of a template, parsed: a literal string, or (when the JSON embeds tokens,
 * as `Stack.toJsonString` renders it) an `Fn::Join` of JSON text and tokens. Each token is
 * replaced by `<<n>>` (all inside JSON strings) and returned in `tokens[n]`.
 */
export function parseJoinedJson(body: unknown): { value: JsonObject; tokens: unknown[] } {
  if (typeof body === 'string') {
    return { value: JSON.parse(body), tokens: [] };
  }
  const [separator, parts] = (body as JsonObject)['Fn::Join'] as [string, unknown[]];
  const tokens: unknown[] = [];
  const text = parts
    .map((part) => {
      if (typeof part === 'string') {
        return part;
      }
      tokens.push(part);
      return `<<${tokens.length - 1}>>`;
    })
    .join(separator);
  return { value: JSON.parse(text), tokens };
}

/** The state machine definition of a template, parsed as {@link parseJoinedJson} does. */
export function stateMachineDefinition(resource: CfnResourceJson): { definition: JsonObject; tokens: unknown[] } {
  const { value, tokens } = parseJoinedJson(resource.Properties?.DefinitionString);
  return { definition: value, tokens };
}

/** A string of a parsed definition with its `<<n>>` placeholders replaced by the tokens' JSON. */
export function withTokens(text: string, tokens: readonly unknown[]): string {
  return text.replace(/<<(\d+)>>/g, (_, n) => JSON.stringify(tokens[Number(n)]));
}

/**
 * The findings acknowledged on one construct itself (not its children), by rule id as the
 * code wrote it (`AwsSolutions-IAM5[Resource::*]`, without CDK's `Annotation::` namespace),
 * with their reasons.
 */
export function acknowledgedRules(construct: IConstruct): Record<string, string> {
  const result: Record<string, string> = {};
  for (const entry of construct.node.metadata) {
    if (entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY) {
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
        result[id.replace(/^[A-Za-z]+::/, '')] = reason;
      }
    }
  }
  return result;
}

/** Asserts a Glue job role: only Glue assumes it, and it has no inline or AWS-managed policy. */
export function expectGlueOnlyRole(template: Template, roleId: string): void {
  const role = resourcesOf(template, 'AWS::IAM::Role')[roleId];
  expect(role.Properties?.AssumeRolePolicyDocument.Statement).toEqual([
    { Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { Service: 'glue.amazonaws.com' } },
  ]);
  expect(role.Properties?.Policies).toBeUndefined();
  expect(role.Properties?.ManagedPolicyArns).toBeUndefined();
}
