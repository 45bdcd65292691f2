import { Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/** The rule-id prefixes of the cdk-nag packs this app runs (see `bin/app.ts`). */
export const NAG_PACK_PREFIXES = ['AwsSolutions', 'NIST.800.53.R5', 'HIPAA.Security', 'PCI.DSS.321'] as const;
export type NagPackPrefix = (typeof NAG_PACK_PREFIXES)[number];

/**
 * Acknowledges one finding on one construct, with the reason a reviewer reads.
 * `rule` is the part after the pack prefix, e.g. `S3BucketReplicationEnabled` or `IAM5[Action::s3:List*]`.
 */
export function acknowledge(scope: IConstruct, packs: readonly NagPackPrefix[], rule: string, reason: string): void {
  if (reason.trim().length < 20) {
    throw new Error(`A cdk-nag acknowledgement of ${rule} on ${scope.node.path} needs a real reason.`);
  }
  Validations.of(scope).acknowledge(...packs.map((pack) => ({ id: `${pack}-${rule}`, reason })));
}

/** The three compliance packs that share rule names (NIST 800-53 R5, HIPAA, PCI DSS). */
export const COMPLIANCE_PACKS: readonly NagPackPrefix[] = ['NIST.800.53.R5', 'HIPAA.Security', 'PCI.DSS.321'];
