/**
 * Checks the requests the local twin's Glue jobs made against the IAM policies of the synthesized
 * templates, with a real IAM policy evaluation engine (`@cloud-copilot/iam-simulate`): a job that
 * reads or writes something its role may not is a failure here, not after deployment.
 *
 * Same-account model. A request is evaluated with
 * - the role's identity policies: `AWS::IAM::Policy` / `AWS::IAM::ManagedPolicy` whose `Roles`
 *   name the role, `AWS::IAM::RolePolicy`, the role's inline `Policies`, and its
 *   `ManagedPolicyArns` and `PermissionsBoundary` when they point at a managed policy of the
 *   assembly. Any other managed policy (an AWS-managed one) cannot be read locally: a request only
 *   it could allow is "not evaluable", never allowed;
 * - the resource policy: the `AWS::S3::BucketPolicy` of the bucket, the key policy of an
 *   `AWS::KMS::Key` (required: KMS allows nothing the key policy does not, and the usual CDK key
 *   policy delegates to IAM by allowing `arn:aws:iam::<account>:root`). Glue catalog requests have
 *   no resource policy in the templates, so only the identity policies decide them;
 * - the request context: `aws:SecureTransport` true (the jobs use TLS), `s3:TlsVersion`,
 *   `aws:PrincipalArn`, `aws:PrincipalAccount`, `s3:prefix` of a ListBucket, and for the KMS
 *   requests S3 makes on the caller's behalf `kms:ViaService` = `s3.<region>.amazonaws.com`,
 *   `kms:CallerAccount` and the encryption context `aws:s3:arn`.
 *
 * Implied requests, checked with each record:
 * - an object read (`s3:GetObject`) in a bucket whose default encryption is SSE-KMS with a
 *   customer key needs `kms:Decrypt` on that key (not evaluable when the key is not in the
 *   assembly; the AWS-managed `aws/s3` key implies nothing, its policy admits the account's
 *   principals through S3); an object write (`s3:PutObject`) needs
 *   `kms:GenerateDataKey`, and, because a write may be a multipart upload (S3A uploads large files
 *   in parts; the record does not say which), also `kms:Decrypt` unless
 *   {@link PermissionOptions.multipartUploads} is false. The encryption context is the bucket ARN
 *   when the bucket uses an S3 Bucket Key, else the object ARN. A HEAD (also `s3:GetObject`) needs
 *   no KMS permission in AWS; the twin cannot tell it from a read, so it is checked like one.
 * - a Glue request on a table also needs the same action on its database and on the catalog, and
 *   one on a database needs it on the catalog (Glue authorizes every level of the path; the
 *   `table/<database>/*` that `glue:GetTables` also needs is not added).
 *
 * Not modelled: Lake Formation permissions (a Lake-Formation-governed table also needs its grant),
 * SCPs and RCPs (none in the templates), session policies, VPC endpoint policies, cross-account
 * requests (reported as not evaluable), and objects encrypted with a key other than the bucket's
 * default.
 *
 * Library limits (iam-simulate 0.1.173): it drops context keys whose variable part holds a colon,
 * such as `kms:EncryptionContext:aws:s3:arn`; a request whose policies test such a key is reported
 * as not evaluable rather than decided without it. It reads a `*` in a request ARN (an S3 key
 * may hold one) as a wildcard.
 *
 * Speed: identical requests (principal, action, resource, context) are evaluated once, and so are
 * requests IAM must decide alike (objects of a bucket matching the same policy patterns; context
 * keys no condition tests): thousands of records cost a handful of engine evaluations.
 */
import {
  getDenialReasons,
  getGrantReasons,
  runSimulation,
  type RequestDenial,
  type RequestGrant,
  type Simulation,
  type SimulationIdentityPolicy,
} from '@cloud-copilot/iam-simulate';
import type { TwinAssembly, TwinResource } from './assembly';

/** One request a job made, as the twin records it (one JSON line). */
export interface AccessRecord {
  /** The role the job runs as: `arn:aws:iam::<account>:role/<name>`. */
  readonly principal: string;
  /** The job run id. */
  readonly run?: string;
  /** What the job did, e.g. `open s3a://bucket/key` (the Hadoop method and path). */
  readonly op: string;
  /** The IAM action, e.g. `s3:GetObject`, `glue:UpdateTable`. */
  readonly action: string;
  /** The resource ARN: an object, a bucket (ListBucket), a Glue catalog, database or table. */
  readonly resource: string;
  /** The `s3:prefix` of a ListBucket. */
  readonly prefix?: string;
}

/** How a request was decided. */
export type DecisionOutcome = 'Allowed' | 'ImplicitlyDenied' | 'ExplicitlyDenied' | 'NotEvaluable';

/** A request as evaluated: who, what, on which ARN, with which context. */
export interface IamRequest {
  readonly principal: string;
  readonly action: string;
  readonly resource: string;
  readonly context: Readonly<Record<string, string | readonly string[]>>;
}

/** The decision on one (deduplicated) request. */
export interface RequestCheck {
  readonly request: IamRequest;
  readonly outcome: DecisionOutcome;
  readonly allowed: boolean;
  /** Why: the statements that allowed it, or what denied it, or why it cannot be evaluated. */
  readonly reason: string;
}

/** The decision on one record: its own request, then the requests it implies. */
export interface AccessDecision {
  readonly record: AccessRecord;
  readonly roleName: string;
  /** True when every check is allowed. */
  readonly allowed: boolean;
  /** `checks[0]` is the record's own request; the others are implied by it (KMS, Glue parents). */
  readonly checks: readonly RequestCheck[];
}

/** A distinct request that was not allowed. */
export interface Denial {
  readonly roleName: string;
  readonly principal: string;
  readonly action: string;
  readonly resource: string;
  /** The op of the first record that needed it. */
  readonly op: string;
  /** How many records needed it. */
  readonly records: number;
  /** For an implied request: the record's request that implies it (`s3:GetObject on <arn>`). */
  readonly impliedBy?: string;
  readonly outcome: Exclude<DecisionOutcome, 'Allowed'>;
  readonly reason: string;
}

/** Per role: how many records were allowed, denied, not evaluable, and the distinct denials. */
export interface RoleSummary {
  readonly roleName: string;
  readonly principal: string;
  readonly allowed: number;
  readonly denied: number;
  readonly notEvaluable: number;
  readonly deniedRequests: readonly Denial[];
}

/** Options of the evaluation. */
export interface PermissionOptions {
  /**
   * Treat every `s3:PutObject` as possibly a multipart upload, which needs `kms:Decrypt` besides
   * `kms:GenerateDataKey` on an SSE-KMS bucket.
   * @default true
   */
  readonly multipartUploads?: boolean;
  /**
   * The TLS version of the jobs' S3 connections (`s3:TlsVersion`).
   * @default '1.2'
   */
  readonly tlsVersion?: string;
}

/** What the evaluation reads of an assembly: a `TwinAssembly`, or a fixture of the same shape. */
export type PolicySource = Pick<TwinAssembly, 'env' | 'resources'>;

/** Thrown by {@link assertAllowed}: one line per distinct denied request. */
export class AccessDeniedError extends Error {
  constructor(readonly denials: readonly Denial[]) {
    super(
      `${denials.length} request${denials.length === 1 ? '' : 's'} of the jobs ` +
        `${denials.length === 1 ? 'is' : 'are'} not allowed by the templates' policies:\n` +
        denials.map((d) => `  ${formatDenial(d)}`).join('\n'),
    );
    this.name = 'AccessDeniedError';
  }
}

interface NamedPolicy {
  readonly name: string;
  readonly document: PolicyDocument;
}
interface PolicyDocument {
  readonly Version?: string;
  readonly Statement: readonly Record<string, unknown>[] | Record<string, unknown>;
}
interface RoleModel {
  readonly name: string;
  readonly arn: string;
  readonly found: boolean;
  readonly identityPolicies: readonly NamedPolicy[];
  /** Managed policy ARNs attached to the role that are not in the assembly. */
  readonly unevaluable: readonly string[];
  readonly boundary?: NamedPolicy;
  readonly boundaryUnevaluable?: string;
}
interface BucketModel {
  readonly name: string;
  readonly arn: string;
  readonly inAssembly: boolean;
  readonly policy?: NamedPolicy;
  /** SSE-KMS with a customer key: the key ARN and whether an S3 Bucket Key is used. */
  readonly kms?: { readonly keyArn: string; readonly bucketKey: boolean };
}
interface KeyModel {
  readonly arn: string;
  readonly label: string;
  readonly policy?: PolicyDocument;
}
/** A request to evaluate, with what to evaluate it against. */
interface PendingRequest {
  readonly request: IamRequest;
  readonly role: RoleModel;
  readonly resourcePolicy?: { readonly label: string; readonly document?: PolicyDocument; readonly required: boolean };
  /** A note appended to the reason (e.g. the bucket is not in the assembly). */
  readonly note?: string;
  /** An implied request that does not apply to the action's resource types is dropped, not failed. */
  readonly implied: boolean;
  /** For a request on an S3 object: its bucket (objects that match the same policy patterns are decided once). */
  readonly bucket?: BucketModel;
}
/** What of a request's policies can tell two requests apart. */
interface PolicyPatterns {
  readonly patterns: readonly RegExp[];
  /** The condition keys the policies test, lower-case. */
  readonly tested: ReadonlySet<string>;
}
/** The decision on a request, without the request (shared by the requests of one class). */
type Verdict = Pick<RequestCheck, 'outcome' | 'reason'> | undefined;

const S3_ARN = /^arn:([^:]+):s3:::([^/]+)(?:\/(.*))?$/;
const KMS_KEY_ARN = /^arn:([^:]+):kms:([^:]*):([^:]*):key\/(.+)$/;
const GLUE_ARN = /^arn:([^:]+):glue:([^:]*):([^:]*):(catalog|database\/([^/]+)|table\/([^/]+)\/(.+))$/;
const ROLE_ARN = /^arn:([^:]+):iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/;
const ASSUMED_ROLE_ARN = /^arn:([^:]+):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/;
const OBJECT_READS = new Set(['s3:getobject', 's3:getobjectversion']);
const OBJECT_WRITES = new Set(['s3:putobject']);

/**
 * Evaluates access records against the policies of one assembly. Keep one evaluator per assembly:
 * it indexes the policies once and remembers every request it has decided.
 */
export class PermissionEvaluator {
  private readonly roles = new Map<string, RoleModel>();
  private readonly buckets = new Map<string, BucketModel>();
  private readonly keys = new Map<string, KeyModel>();
  private readonly decided = new Map<string, Promise<RequestCheck | undefined>>();
  private readonly classes = new Map<string, Promise<Verdict>>();
  private readonly patterns = new Map<string, PolicyPatterns | undefined>();
  private readonly multipart: boolean;
  private readonly tlsVersion: string;
  private evaluations = 0;

  constructor(
    private readonly source: PolicySource,
    options: PermissionOptions = {},
  ) {
    this.multipart = options.multipartUploads ?? true;
    this.tlsVersion = options.tlsVersion ?? '1.2';
    const { partition, region, account } = source.env;
    for (const key of source.resources.filter((r) => r.type === 'AWS::KMS::Key')) {
      const arn = `arn:${partition}:kms:${region}:${account}:key/${key.ref}`;
      const model: KeyModel = { arn, label: `${key.stack}/${key.logicalId}`, policy: key.properties.KeyPolicy as PolicyDocument | undefined };
      this.keys.set(arn, model);
      this.keys.set(key.ref, model);
    }
  }

  /** How many distinct requests the engine has evaluated so far (after deduplication). */
  get evaluatedRequests(): number {
    return this.evaluations;
  }

  /** Decides every record: its own request and the requests it implies. */
  async evaluate(accesses: readonly AccessRecord[]): Promise<AccessDecision[]> {
    const decisions: AccessDecision[] = [];
    for (const record of accesses) {
      const role = this.role(record.principal);
      const checks: RequestCheck[] = [];
      for (const pending of this.requestsOf(record, role)) {
        const check = await this.decide(pending);
        if (check) {
          checks.push(check);
        }
      }
      decisions.push({ record, roleName: role.name, allowed: checks.every((c) => c.allowed), checks });
    }
    return decisions;
  }

  /** The record's own request, then the ones it implies. */
  private requestsOf(record: AccessRecord, role: RoleModel): PendingRequest[] {
    const { region, account } = this.source.env;
    const common: Record<string, string> = {
      'aws:SecureTransport': 'true',
      'aws:PrincipalArn': role.arn,
      'aws:PrincipalAccount': account,
    };
    const action = record.action;
    const s3 = S3_ARN.exec(record.resource);
    if (s3 && action.toLowerCase().startsWith('s3:')) {
      const bucket = this.bucket(s3[2], s3[1]);
      const context: Record<string, string> = { ...common, 's3:TlsVersion': this.tlsVersion };
      if (record.prefix !== undefined) {
        context['s3:prefix'] = record.prefix;
      }
      const own: PendingRequest = {
        request: { principal: role.arn, action, resource: record.resource, context },
        role,
        resourcePolicy: { label: `the bucket policy of ${bucket.name}`, document: bucket.policy?.document, required: false },
        note: bucket.inAssembly ? undefined : `bucket ${bucket.name} is not in the assembly: no bucket policy or encryption of it was evaluated`,
        implied: false,
        bucket: s3[3] !== undefined ? bucket : undefined,
      };
      const requests = [own];
      const lower = action.toLowerCase();
      const isObject = s3[3] !== undefined;
      if (bucket.kms && isObject && (OBJECT_READS.has(lower) || OBJECT_WRITES.has(lower))) {
        const kmsActions = OBJECT_READS.has(lower) ? ['kms:Decrypt'] : this.multipart ? ['kms:GenerateDataKey', 'kms:Decrypt'] : ['kms:GenerateDataKey'];
        const key = this.keys.get(bucket.kms.keyArn);
        const kmsContext = {
          ...common,
          'kms:ViaService': `s3.${region}.amazonaws.com`,
          'kms:CallerAccount': account,
          'kms:EncryptionContext:aws:s3:arn': bucket.kms.bucketKey ? bucket.arn : record.resource,
          'kms:EncryptionContextKeys': ['aws:s3:arn'],
        };
        for (const kmsAction of kmsActions) {
          requests.push({
            request: { principal: role.arn, action: kmsAction, resource: key?.arn ?? bucket.kms.keyArn, context: kmsContext },
            role,
            resourcePolicy: { label: `the key policy of ${key?.label ?? bucket.kms.keyArn}`, document: key?.policy, required: true },
            implied: true,
          });
        }
      }
      return requests;
    }
    const kms = KMS_KEY_ARN.exec(record.resource);
    if (kms && action.toLowerCase().startsWith('kms:')) {
      const key = this.keys.get(record.resource);
      return [{
        request: { principal: role.arn, action, resource: record.resource, context: common },
        role,
        resourcePolicy: { label: `the key policy of ${key?.label ?? record.resource}`, document: key?.policy, required: true },
        implied: false,
      }];
    }
    const requests: PendingRequest[] = [{ request: { principal: role.arn, action, resource: record.resource, context: common }, role, implied: false }];
    const glue = GLUE_ARN.exec(record.resource);
    if (glue && action.toLowerCase().startsWith('glue:')) {
      const [, partition, glueRegion, glueAccount, , databaseOnly, tableDatabase] = glue;
      const base = `arn:${partition}:glue:${glueRegion}:${glueAccount}`;
      const database = tableDatabase ?? databaseOnly;
      const parents = [...(tableDatabase ? [`${base}:database/${tableDatabase}`] : []), ...(database ? [`${base}:catalog`] : [])];
      for (const parent of parents) {
        requests.push({ request: { principal: role.arn, action, resource: parent, context: common }, role, implied: true });
      }
    }
    return requests;
  }

  private decide(pending: PendingRequest): Promise<RequestCheck | undefined> {
    const { request } = pending;
    const id = requestKey(request);
    let found = this.decided.get(id);
    if (!found) {
      found = this.verdict(pending).then((verdict) => verdict && { request, outcome: verdict.outcome, allowed: verdict.outcome === 'Allowed', reason: verdict.reason });
      this.decided.set(id, found);
    }
    return found;
  }

  /**
   * Distinct object keys are the bulk of a job's requests, and the engine spends most of its time
   * classifying each ARN, so requests are grouped into classes that IAM must decide alike, and one
   * request of each class is evaluated:
   * - two objects of one bucket that match exactly the same Resource and NotResource patterns of
   *   the policies involved (the same `*` / `?` glob, case-sensitive, as the engine's);
   * - context keys that no condition of those policies tests cannot change the decision, so they
   *   are left out of the class (the per-object encryption context of a bucket without an S3
   *   Bucket Key, typically).
   * Policies with a policy variable (`${...}`) are not grouped at all.
   */
  private verdict(pending: PendingRequest): Promise<Verdict> {
    const { request, bucket } = pending;
    const policies = this.policiesOf(pending);
    if (!policies) {
      return this.simulate(pending);
    }
    let resource = request.resource;
    // The engine reads a `*` in a request ARN as a wildcard (an S3 key may hold one): such an ARN is its own class.
    if (bucket && !resource.includes('*')) {
      resource = `${bucket.arn}/<objects matching ${policies.patterns.map((p) => (p.test(resource) ? '1' : '0')).join('')}>`;
    }
    const context = Object.fromEntries(Object.entries(request.context).filter(([key]) => policies.tested.has(key.toLowerCase())));
    const id = requestKey({ ...request, resource, context });
    let found = this.classes.get(id);
    if (!found) {
      found = this.simulate(pending);
      this.classes.set(id, found);
    }
    return found;
  }

  /** The resource patterns and condition keys of the policies a request is evaluated with; undefined if one holds a policy variable. */
  private policiesOf(pending: PendingRequest): PolicyPatterns | undefined {
    const { role, resourcePolicy } = pending;
    const id = `${role.arn}\n${resourcePolicy?.label ?? ''}`;
    if (!this.patterns.has(id)) {
      const documents = [...role.identityPolicies.map((p) => p.document), ...(role.boundary ? [role.boundary.document] : []), ...(resourcePolicy?.document ? [resourcePolicy.document] : [])];
      const strings = new Set<string>();
      const tested = new Set<string>();
      for (const statement of documents.flatMap((d) => [d.Statement].flat())) {
        for (const value of [statement.Resource, statement.NotResource].flat()) {
          if (typeof value === 'string') {
            strings.add(value);
          }
        }
        for (const operator of Object.values((statement.Condition ?? {}) as Record<string, Record<string, unknown>>)) {
          for (const key of Object.keys(operator)) {
            tested.add(key.toLowerCase());
          }
        }
      }
      const variable = JSON.stringify(documents).includes('${');
      this.patterns.set(id, variable ? undefined : { patterns: [...strings].map(globToRegExp), tested });
    }
    return this.patterns.get(id);
  }

  private async simulate(pending: PendingRequest): Promise<Verdict> {
    const { request, role, resourcePolicy } = pending;
    const done = (outcome: DecisionOutcome, reason: string): Verdict => ({
      outcome,
      reason: pending.note ? `${reason} (${pending.note})` : reason,
    });
    if (!role.found) {
      return done('NotEvaluable', `not evaluable: no role ${role.name} in the assembly of account ${this.source.env.account}`);
    }
    if (resourcePolicy?.required && !resourcePolicy.document) {
      return done('NotEvaluable', `not evaluable: ${resourcePolicy.label} is not in the assembly`);
    }
    if (role.boundaryUnevaluable) {
      return done('NotEvaluable', `not evaluable: the permissions boundary ${role.boundaryUnevaluable} is not in the assembly`);
    }
    const simulation: Simulation = {
      request: {
        principal: request.principal,
        action: request.action,
        resource: { resource: request.resource, accountId: this.source.env.account },
        contextVariables: mutableContext(request.context),
      },
      identityPolicies: role.identityPolicies.map((p): SimulationIdentityPolicy => ({ name: p.name, policy: p.document })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: resourcePolicy?.document,
      permissionBoundaryPolicies: role.boundary ? [{ name: role.boundary.name, policy: role.boundary.document }] : undefined,
    };
    this.evaluations += 1;
    const response = await runSimulation(simulation, { simulationMode: 'Strict' });
    if (response.resultType === 'error') {
      if (pending.implied && response.errors.message === 'no.resource.types') {
        return undefined;
      }
      return done('NotEvaluable', `not evaluable: iam-simulate rejected the request (${response.errors.message}${describeErrors(response.errors)})`);
    }
    const policies = [...role.identityPolicies.map((p) => p.document), ...(resourcePolicy?.document ? [resourcePolicy.document] : []), ...(role.boundary ? [role.boundary.document] : [])];
    const ignored = (response.resultType === 'single' ? response.result.ignoredContextKeys : response.results[0]?.ignoredContextKeys) ?? [];
    const dropped = droppedButTested(ignored, policies);
    if (dropped.length > 0) {
      return done('NotEvaluable', `not evaluable: the policies test ${dropped.join(', ')}, which iam-simulate drops from the request context`);
    }
    const analysis = response.resultType === 'single' ? response.result.analysis : undefined;
    const labels: Labels = { identity: role.identityPolicies.map((p) => p.name), resource: resourcePolicy?.label, boundary: role.boundary?.name };
    switch (response.overallResult) {
      case 'Allowed': {
        const grants = analysis ? getGrantReasons(analysis).map((g) => describeGrant(g, labels)) : [];
        const unevaluated = role.unevaluable.length > 0 ? `; ${role.unevaluable.join(', ')} not evaluated (not in the templates)` : '';
        return done('Allowed', `allowed by ${grants.join(' and ') || 'the policies'}${unevaluated}`);
      }
      case 'ExplicitlyDenied':
        return done('ExplicitlyDenied', analysis ? describeDenials(getDenialReasons(analysis), labels) : 'explicitly denied');
      default: {
        const reason = analysis ? describeDenials(getDenialReasons(analysis), labels) : 'implicitly denied';
        if (role.unevaluable.length > 0) {
          return done('NotEvaluable', `not evaluable: ${reason}, and only ${role.unevaluable.join(', ')} (not in the templates) could allow it`);
        }
        return done('ImplicitlyDenied', reason);
      }
    }
  }

  private role(principal: string): RoleModel {
    const cached = this.roles.get(principal);
    if (cached) {
      return cached;
    }
    const model = this.buildRole(principal);
    this.roles.set(principal, model);
    return model;
  }

  private buildRole(principal: string): RoleModel {
    const { account, partition } = this.source.env;
    const match = ROLE_ARN.exec(principal) ?? ASSUMED_ROLE_ARN.exec(principal);
    const name = match ? match[3] : principal;
    const arn = match ? `arn:${match[1]}:iam::${match[2]}:role/${name}` : principal;
    const role = match && match[2] === account ? this.source.resources.find((r) => r.type === 'AWS::IAM::Role' && r.ref === name) : undefined;
    if (!role) {
      return { name, arn, found: false, identityPolicies: [], unevaluable: [] };
    }
    const managed = new Map<string, TwinResource>();
    for (const r of this.source.resources) {
      if (r.type === 'AWS::IAM::ManagedPolicy') {
        managed.set(r.ref, r);
      }
    }
    const policies = new Map<string, NamedPolicy>();
    const add = (name: string, document: unknown): void => {
      policies.set(name, { name, document: document as PolicyDocument });
    };
    for (const r of this.source.resources) {
      const roles = r.properties.Roles as readonly string[] | undefined;
      if ((r.type === 'AWS::IAM::Policy' || r.type === 'AWS::IAM::ManagedPolicy') && roles?.includes(name)) {
        add(`${r.stack}/${r.logicalId}`, r.properties.PolicyDocument);
      }
      if (r.type === 'AWS::IAM::RolePolicy' && r.properties.RoleName === name) {
        add(`${r.stack}/${r.logicalId}`, r.properties.PolicyDocument);
      }
    }
    for (const inline of (role.properties.Policies ?? []) as readonly { PolicyName: string; PolicyDocument: unknown }[]) {
      add(`${role.stack}/${role.logicalId}/${inline.PolicyName}`, inline.PolicyDocument);
    }
    const unevaluable: string[] = [];
    for (const policyArn of (role.properties.ManagedPolicyArns ?? []) as readonly string[]) {
      const found = managed.get(policyArn);
      if (found) {
        add(`${found.stack}/${found.logicalId}`, found.properties.PolicyDocument);
      } else {
        unevaluable.push(policyArn);
      }
    }
    const boundaryArn = role.properties.PermissionsBoundary as string | undefined;
    const boundaryResource = boundaryArn ? managed.get(boundaryArn) : undefined;
    return {
      name,
      arn: `arn:${partition}:iam::${account}:role/${name}`,
      found: true,
      identityPolicies: [...policies.values()],
      unevaluable,
      boundary: boundaryResource
        ? { name: `${boundaryResource.stack}/${boundaryResource.logicalId}`, document: boundaryResource.properties.PolicyDocument as PolicyDocument }
        : undefined,
      boundaryUnevaluable: boundaryArn && !boundaryResource ? boundaryArn : undefined,
    };
  }

  private bucket(name: string, partition: string): BucketModel {
    const cached = this.buckets.get(name);
    if (cached) {
      return cached;
    }
    const arn = `arn:${partition}:s3:::${name}`;
    const resource = this.source.resources.find((r) => r.type === 'AWS::S3::Bucket' && r.ref === name);
    const statements = this.source.resources
      .filter((r) => r.type === 'AWS::S3::BucketPolicy' && r.properties.Bucket === name)
      .flatMap((r) => [(r.properties.PolicyDocument as PolicyDocument).Statement].flat());
    const policy = statements.length > 0 ? { name: `bucket policy of ${name}`, document: { Version: '2012-10-17', Statement: statements } } : undefined;
    const encryption = (
      (resource?.properties.BucketEncryption as { ServerSideEncryptionConfiguration?: readonly Record<string, unknown>[] } | undefined)
        ?.ServerSideEncryptionConfiguration ?? []
    )[0] as { BucketKeyEnabled?: boolean; ServerSideEncryptionByDefault?: { SSEAlgorithm?: string; KMSMasterKeyID?: string } } | undefined;
    const algorithm = encryption?.ServerSideEncryptionByDefault?.SSEAlgorithm;
    const keyId = encryption?.ServerSideEncryptionByDefault?.KMSMasterKeyID;
    const isKms = algorithm === 'aws:kms' || algorithm === 'aws:kms:dsse';
    const model: BucketModel = {
      name,
      arn,
      inAssembly: resource !== undefined,
      policy,
      kms: isKms && keyId ? { keyArn: this.keys.get(keyId)?.arn ?? keyId, bucketKey: encryption?.BucketKeyEnabled === true } : undefined,
    };
    this.buckets.set(name, model);
    return model;
  }
}

/** Decides every record of `accesses` against the policies of `assembly`. */
export function evaluateAccesses(
  assembly: PolicySource,
  accesses: readonly AccessRecord[],
  options: PermissionOptions = {},
): Promise<AccessDecision[]> {
  return new PermissionEvaluator(assembly, options).evaluate(accesses);
}

/** The distinct requests that were not allowed, in the order first needed. */
export function deniedAccesses(decisions: readonly AccessDecision[]): Denial[] {
  const found = new Map<string, { denial: Omit<Denial, 'records'>; records: number }>();
  for (const decision of decisions) {
    decision.checks.forEach((check, index) => {
      if (check.allowed) {
        return;
      }
      const id = requestKey(check.request);
      const seen = found.get(id);
      if (seen) {
        seen.records += 1;
        return;
      }
      found.set(id, {
        records: 1,
        denial: {
          roleName: decision.roleName,
          principal: check.request.principal,
          action: check.request.action,
          resource: check.request.resource,
          op: decision.record.op,
          impliedBy: index === 0 ? undefined : `${decision.record.action} on ${decision.record.resource}`,
          outcome: check.outcome as Denial['outcome'],
          reason: check.reason,
        },
      });
    });
  }
  return [...found.values()].map(({ denial, records }) => ({ ...denial, records }));
}

/** `<role name> may not <action> on <arn> (<op>): <reason>`. */
export function formatDenial(denial: Denial): string {
  const implied = denial.impliedBy ? `needed for ${denial.impliedBy}: ` : '';
  const more = denial.records > 1 ? `, and ${denial.records - 1} more` : '';
  return `${denial.roleName} may not ${denial.action} on ${denial.resource} (${denial.op}${more}): ${implied}${denial.reason}`;
}

/** Per role (sorted by name): records allowed, denied, not evaluable, and the distinct denials. */
export function summarize(decisions: readonly AccessDecision[]): RoleSummary[] {
  const byRole = new Map<string, AccessDecision[]>();
  for (const decision of decisions) {
    byRole.set(decision.roleName, [...(byRole.get(decision.roleName) ?? []), decision]);
  }
  return [...byRole.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([roleName, own]) => {
      const denied = own.filter((d) => d.checks.some((c) => c.outcome === 'ImplicitlyDenied' || c.outcome === 'ExplicitlyDenied')).length;
      const allowed = own.filter((d) => d.allowed).length;
      return {
        roleName,
        principal: own[0].checks[0]?.request.principal ?? own[0].record.principal,
        allowed,
        denied,
        notEvaluable: own.length - allowed - denied,
        deniedRequests: deniedAccesses(own),
      };
    });
}

/**
 * Evaluates the records and throws an {@link AccessDeniedError} listing every distinct request that
 * is not allowed (denied or not evaluable); returns the decisions when all are allowed.
 */
export async function assertAllowed(
  assembly: PolicySource,
  accesses: readonly AccessRecord[],
  options: PermissionOptions = {},
): Promise<AccessDecision[]> {
  const decisions = await evaluateAccesses(assembly, accesses, options);
  const denials = deniedAccesses(decisions);
  if (denials.length > 0) {
    throw new AccessDeniedError(denials);
  }
  return decisions;
}

/** Parses the twin's JSON-lines access log; a malformed line fails with its number. */
export function parseAccessRecords(jsonLines: string): AccessRecord[] {
  const records: AccessRecord[] = [];
  jsonLines.split('\n').forEach((line, index) => {
    if (line.trim() === '') {
      return;
    }
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(line) as Record<string, unknown>;
    } catch (error) {
      throw new Error(`Access log line ${index + 1} is not JSON: ${(error as Error).message}`);
    }
    for (const field of ['principal', 'op', 'action', 'resource']) {
      if (typeof value[field] !== 'string') {
        throw new Error(`Access log line ${index + 1} has no string "${field}": ${line}`);
      }
    }
    records.push(value as unknown as AccessRecord);
  });
  return records;
}

interface Labels {
  readonly identity: readonly string[];
  readonly resource?: string;
  readonly boundary?: string;
}

function statementName(statementId: string | undefined, statementIndex: number): string {
  return statementId ? `statement ${statementId}` : `statement #${statementIndex}`;
}

function describeGrant(grant: RequestGrant, labels: Labels): string {
  switch (grant.policyType) {
    case 'resource':
      return `${labels.resource ?? 'the resource policy'} ${statementName(grant.statementId, grant.statementIndex)}`;
    case 'identity':
      return `${grant.policyIdentifier} ${statementName(grant.statementId, grant.statementIndex)}`;
    case 'pb':
      return `the permissions boundary ${grant.policyIdentifier} ${statementName(grant.statementId, grant.statementIndex)}`;
    default:
      return `${grant.policyType} ${grant.policyIdentifier} ${statementName(grant.statementId, grant.statementIndex)}`;
  }
}

function describeDenials(denials: readonly RequestDenial[], labels: Labels): string {
  const explicit = denials.filter((d): d is Extract<RequestDenial, { denialType: 'Explicit' }> => d.denialType === 'Explicit');
  if (explicit.length > 0) {
    return `explicitly denied by ${explicit
      .map((d) => {
        const where = d.policyType === 'resource' ? (labels.resource ?? 'the resource policy') : d.policyType === 'pb' ? `the permissions boundary ${d.policyIdentifier}` : `${d.policyIdentifier}`;
        return `${where} ${statementName(d.statementId, d.statementIndex)}`;
      })
      .join(' and ')}`;
  }
  const types = new Set(denials.map((d) => d.policyType));
  const identity = `no statement of the role's identity policies (${labels.identity.join(', ') || 'none'}) allows it`;
  const parts: string[] = [];
  if (types.has('identity')) {
    parts.push(identity);
  }
  if (types.has('resource')) {
    parts.push(
      types.has('identity')
        ? `nor does ${labels.resource ?? 'the resource policy'}`
        : `${labels.resource ?? 'the resource policy'} neither allows the role nor delegates to the account's IAM policies`,
    );
  }
  if (types.has('pb')) {
    parts.push(`the permissions boundary ${labels.boundary} does not allow it`);
  }
  return parts.join(', ') || `denied (${[...types].join(', ')})`;
}

function describeErrors(errors: object): string {
  const details = Object.entries(errors)
    .filter(([key]) => key !== 'message')
    .map(([key, value]) => `${key}: ${JSON.stringify(value)}`);
  return details.length > 0 ? `; ${details.join('; ')}` : '';
}

/** Keys the library dropped that a policy condition tests (`kms:EncryptionContext:<key>` and the like). */
function droppedButTested(ignored: readonly string[], policies: readonly PolicyDocument[]): string[] {
  const variable = ignored.filter((key) => key.split(':').length > 2);
  if (variable.length === 0) {
    return [];
  }
  const tested = new Set<string>();
  for (const policy of policies) {
    for (const statement of [policy.Statement].flat()) {
      for (const operator of Object.values((statement.Condition ?? {}) as Record<string, Record<string, unknown>>)) {
        for (const key of Object.keys(operator)) {
          tested.add(key.toLowerCase());
        }
      }
    }
  }
  return variable.filter((key) => tested.has(key.toLowerCase()));
}

/** An IAM resource pattern (`*` any characters, `?` one) as an anchored, case-sensitive expression. */
function globToRegExp(pattern: string): RegExp {
  const escaped = pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\\\*/g, '[\\s\\S]*').replace(/\\\?/g, '[\\s\\S]');
  return new RegExp(`^${escaped}$`);
}

function mutableContext(context: IamRequest['context']): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(context)) {
    out[key] = typeof value === 'string' ? value : [...value];
  }
  return out;
}

function requestKey(request: IamRequest): string {
  const context = Object.keys(request.context)
    .sort()
    .map((key) => [key, request.context[key]]);
  return JSON.stringify([request.principal, request.action, request.resource, context]);
}
