import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledge, COMPLIANCE_PACKS } from './nag';

/** Properties of a {@link SecureBucket}. */
export interface SecureBucketProps {
  /**
   * Customer-managed key for SSE-KMS (with an S3 bucket key to cut KMS requests).
   * Required unless `accessLogDestination` is true.
   * @default - none; only an access-log destination may go without (S3 delivers server access logs only to SSE-S3 buckets)
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Bucket that receives this bucket's server access logs. Required unless
   * `accessLogDestination` is true.
   * @default - none
   */
  readonly serverAccessLogsBucket?: s3.IBucket;
  /**
   * This bucket is the server access-log destination itself: SSE-S3, no access logs of its own.
   * @default false
   */
  readonly accessLogDestination?: boolean;
  /** What happens to the bucket when its stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
  /**
   * Empty the bucket on stack deletion. Only with `RemovalPolicy.DESTROY`.
   * @default false
   */
  readonly autoDeleteObjects?: boolean;
  /**
   * Age after which noncurrent object versions expire.
   * @default Duration.days(90)
   */
  readonly noncurrentVersionExpiration?: Duration;
  /**
   * Zone-specific lifecycle rules, added after the default rule (noncurrent versions,
   * incomplete multipart uploads).
   * @default - only the default rule
   */
  readonly lifecycleRules?: s3.LifecycleRule[];
}

/**
 * An S3 bucket whose security settings are fixed, not remembered by each caller:
 * block all public access, bucket-owner-enforced ownership, TLS 1.2+ only (bucket policy),
 * versioning, SSE-KMS with a customer key and bucket key, server access logs, and lifecycle
 * rules that expire noncurrent versions and abort stale multipart uploads.
 */
export class SecureBucket extends Construct {
  /** The bucket. */
  public readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: SecureBucketProps) {
    super(scope, id);
    const logDestination = props.accessLogDestination ?? false;
    if (!logDestination && !props.encryptionKey) {
      throw new Error(`SecureBucket ${this.node.path} needs an encryptionKey: data buckets use SSE-KMS with a customer key.`);
    }
    if (!logDestination && !props.serverAccessLogsBucket) {
      throw new Error(`SecureBucket ${this.node.path} needs a serverAccessLogsBucket: every data bucket logs its access.`);
    }
    if (logDestination && props.serverAccessLogsBucket) {
      throw new Error(
        `SecureBucket ${this.node.path} is an access-log destination: it does not log its own access, so do not give it a serverAccessLogsBucket.`,
      );
    }
    if (logDestination && props.encryptionKey) {
      throw new Error(
        `SecureBucket ${this.node.path} is an access-log destination: S3 delivers server access logs only to SSE-S3 buckets, so do not give it an encryptionKey.`,
      );
    }
    if (props.autoDeleteObjects && props.removalPolicy !== RemovalPolicy.DESTROY) {
      throw new Error(`SecureBucket ${this.node.path}: autoDeleteObjects needs RemovalPolicy.DESTROY.`);
    }

    this.bucket = new s3.Bucket(this, 'Resource', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      encryption: logDestination ? s3.BucketEncryption.S3_MANAGED : s3.BucketEncryption.KMS,
      encryptionKey: props.encryptionKey,
      bucketKeyEnabled: logDestination ? undefined : true,
      serverAccessLogsBucket: props.serverAccessLogsBucket,
      serverAccessLogsPrefix: logDestination ? undefined : `${id.toLowerCase()}/`,
      removalPolicy: props.removalPolicy,
      autoDeleteObjects: props.autoDeleteObjects ?? false,
      lifecycleRules: [
        {
          id: 'NoncurrentVersionsAndStaleUploads',
          noncurrentVersionExpiration: props.noncurrentVersionExpiration ?? Duration.days(90),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
        ...(props.lifecycleRules ?? []),
      ],
    });

    acknowledge(
      this.bucket,
      COMPLIANCE_PACKS,
      'S3BucketReplicationEnabled',
      'Cross-region replication is a disaster-recovery decision per deployment, not a default: the bucket is versioned, KMS-encrypted and retained in prod, so deleted or overwritten objects are recoverable in-region.',
    );
    if (logDestination) {
      // Log delivery may write here only for buckets of this account (the allow statements
      // CDK adds for source buckets in other stacks carry no such condition).
      this.bucket.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'DenyLogDeliveryForOtherAccounts',
          effect: iam.Effect.DENY,
          principals: [new iam.ServicePrincipal('logging.s3.amazonaws.com')],
          actions: ['s3:PutObject'],
          resources: [this.bucket.arnForObjects('*')],
          conditions: { StringNotEquals: { 'aws:SourceAccount': Stack.of(this).account } },
        }),
      );
      acknowledge(
        this.bucket,
        ['AwsSolutions'],
        'S1',
        'This is the server access-log destination; logging its own access would log the log writes themselves in a loop.',
      );
      acknowledge(
        this.bucket,
        COMPLIANCE_PACKS,
        'S3BucketLoggingEnabled',
        'This is the server access-log destination; logging its own access would log the log writes themselves in a loop.',
      );
      acknowledge(
        this.bucket,
        COMPLIANCE_PACKS,
        'S3DefaultEncryptionKMS',
        'S3 server access log delivery supports only SSE-S3 destination buckets; access logs hold request metadata, not lake data.',
      );
    }
  }
}
