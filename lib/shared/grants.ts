import { Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference';
import { IConstruct } from 'constructs';

/**
 * Least-privilege grant helpers. Every action is spelled out (no `*` in an action), and
 * KMS permissions on the data's key come with the data permissions.
 *
 * S3 object access cannot be granted without a wildcard in the object ARN
 * (`arn:aws:s3:::bucket/prefix/*`): AWS offers nothing narrower for "the objects under a
 * prefix". Each helper therefore acknowledges exactly the AwsSolutions-IAM5 finding of the
 * object pattern it created, on the role that received it, with the prefix in the reason.
 */

/** Reading objects. */
export const S3_READ_ACTIONS = ['s3:GetObject'] as const;
/** Writing objects (multipart uploads included). */
export const S3_WRITE_ACTIONS = ['s3:PutObject', 's3:AbortMultipartUpload'] as const;
/** Deleting objects (for jobs that overwrite partitions). */
export const S3_DELETE_ACTIONS = ['s3:DeleteObject'] as const;
/** Listing a bucket, always narrowed to a prefix by condition. */
export const S3_LIST_ACTIONS = ['s3:ListBucket'] as const;
/** Decrypting data encrypted with a KMS key. */
export const KMS_DECRYPT_ACTIONS = ['kms:Decrypt'] as const;
/** Encrypting with a KMS key; S3 multipart uploads also need `kms:Decrypt`. */
export const KMS_ENCRYPT_ACTIONS = ['kms:Encrypt', 'kms:GenerateDataKey', 'kms:Decrypt'] as const;
/** Publishing to a topic. */
export const SNS_PUBLISH_ACTIONS = ['sns:Publish'] as const;

/** Which objects of a bucket a grant covers. */
export interface PrefixGrant {
  readonly bucket: s3.IBucket;
  /**
   * Key prefix the grant is limited to, ending with `/` (e.g. `clickstream/`).
   * @default - the whole bucket
   */
  readonly prefix?: string;
}

function normalizePrefix(prefix: string | undefined): string {
  if (prefix === undefined || prefix === '') {
    return '';
  }
  if (prefix.startsWith('/') || !prefix.endsWith('/') || prefix.includes('*')) {
    throw new Error(`Invalid S3 prefix "${prefix}": use a key prefix without "*" that ends with "/", such as "clickstream/".`);
  }
  return prefix;
}

function keyStatement(key: kms.IKey | undefined, actions: readonly string[]): iam.PolicyStatement | undefined {
  return key ? new iam.PolicyStatement({ actions: [...actions], resources: [key.keyArn] }) : undefined;
}

function addAll(grantee: iam.IGrantable, statements: (iam.PolicyStatement | undefined)[]): void {
  for (const statement of statements) {
    if (statement) {
      grantee.grantPrincipal.addToPrincipalPolicy(statement);
    }
  }
}

/**
 * Acknowledges the AwsSolutions-IAM5 finding of one wildcard resource that a helper granted.
 *
 * The finding id contains the resource as cdk-nag renders it after cross-stack references
 * are resolved, so the acknowledgement is computed in the validation phase, not here.
 */
export function acknowledgeWildcardResource(grantee: iam.IGrantable, resource: string, reason: string): void {
  const principal = grantee.grantPrincipal as unknown as IConstruct;
  if (!principal.node) {
    throw new Error('acknowledgeWildcardResource needs a principal that is a construct (a role in this app).');
  }
  principal.node.addValidation({
    validate: () => {
      const rendered = flattenCfnReference(Stack.of(principal).resolve(resource));
      Validations.of(principal).acknowledge({ id: `AwsSolutions-IAM5[Resource::${rendered}]`, reason });
      return [];
    },
  });
}

/**
 * The keys Glue's `s3://` file system touches for a prefix besides the objects under it: the
 * prefix's own key without its slash (probed when it checks whether the path exists) and its
 * `_$folder$` marker (probed by that check and written when it creates the "directory"). The
 * local twin records both (docs/twin.md). Exact ARNs: no wildcard, no sibling prefix.
 */
function directoryKeys(target: PrefixGrant, prefix: string): { key: string; marker: string } | undefined {
  if (prefix === '') {
    return undefined;
  }
  const directory = prefix.slice(0, -1);
  return { key: target.bucket.arnForObjects(directory), marker: target.bucket.arnForObjects(`${directory}_$folder$`) };
}

function objectAccess(grantee: iam.IGrantable, target: PrefixGrant, actions: readonly string[], verb: string): void {
  const prefix = normalizePrefix(target.prefix);
  const objects = target.bucket.arnForObjects(`${prefix}*`);
  addAll(grantee, [new iam.PolicyStatement({ actions: [...actions], resources: [objects] })]);
  acknowledgeWildcardResource(
    grantee,
    objects,
    `${verb} objects under "${prefix || '(whole bucket)'}" of one bucket: an object ARN pattern is the narrowest resource S3 offers for a set of objects.`,
  );
}

function listAccess(grantee: iam.IGrantable, target: PrefixGrant): void {
  const prefix = normalizePrefix(target.prefix);
  addAll(grantee, [
    new iam.PolicyStatement({
      actions: [...S3_LIST_ACTIONS],
      resources: [target.bucket.bucketArn],
      conditions: prefix ? { StringLike: { 's3:prefix': [`${prefix}*`] } } : undefined,
    }),
  ]);
}

/** Grants reading (get + list) the objects under a prefix, and decrypting them. */
export function grantPrefixRead(grantee: iam.IGrantable, target: PrefixGrant): void {
  objectAccess(grantee, target, S3_READ_ACTIONS, 'Reads');
  const directory = directoryKeys(target, normalizePrefix(target.prefix));
  if (directory) {
    addAll(grantee, [new iam.PolicyStatement({ actions: [...S3_READ_ACTIONS], resources: [directory.key, directory.marker] })]);
  }
  listAccess(grantee, target);
  addAll(grantee, [keyStatement(target.bucket.encryptionKey, KMS_DECRYPT_ACTIONS)]);
}

/**
 * Grants writing objects under a prefix (and listing it), encrypting with the bucket's key.
 * `overwrite` adds `s3:DeleteObject` for jobs that replace partitions.
 */
export function grantPrefixWrite(grantee: iam.IGrantable, target: PrefixGrant, overwrite = false): void {
  objectAccess(grantee, target, overwrite ? [...S3_WRITE_ACTIONS, ...S3_DELETE_ACTIONS] : S3_WRITE_ACTIONS, 'Writes');
  const directory = directoryKeys(target, normalizePrefix(target.prefix));
  if (directory) {
    addAll(grantee, [new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [directory.marker] })]);
  }
  listAccess(grantee, target);
  addAll(grantee, [keyStatement(target.bucket.encryptionKey, KMS_ENCRYPT_ACTIONS)]);
}

/**
 * Grants reading, writing and deleting the objects under a prefix, for jobs that own an
 * output and replace its partitions (Spark's overwrite reads and lists what it writes).
 */
export function grantPrefixReadWrite(grantee: iam.IGrantable, target: PrefixGrant): void {
  grantPrefixRead(grantee, target);
  grantPrefixWrite(grantee, target, true);
}

/** Grants publishing to a topic, and encrypting with its key when it has one. */
export function grantPublish(grantee: iam.IGrantable, topic: sns.ITopic): void {
  addAll(grantee, [
    new iam.PolicyStatement({ actions: [...SNS_PUBLISH_ACTIONS], resources: [topic.topicArn] }),
    keyStatement(topic.masterKey, ['kms:GenerateDataKey', 'kms:Decrypt']),
  ]);
}

/** Grants using a key for encryption and decryption (exact actions). */
export function grantKeyEncryptDecrypt(grantee: iam.IGrantable, key: kms.IKey): void {
  addAll(grantee, [keyStatement(key, KMS_ENCRYPT_ACTIONS)]);
}

/** Grants decrypting with a key (exact actions). */
export function grantKeyDecrypt(grantee: iam.IGrantable, key: kms.IKey): void {
  addAll(grantee, [keyStatement(key, KMS_DECRYPT_ACTIONS)]);
}
