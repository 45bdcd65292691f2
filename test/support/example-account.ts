/** The account id of test fixtures: AWS's documentation example, never a real account. */
export const EXAMPLE_ACCOUNT = '123456789012';

/** The region of test fixtures that need one (staging and prod pin theirs). */
export const EXAMPLE_REGION = 'us-east-1';

/** The alert subscriber of test fixtures: a reserved example domain, never a real mailbox. */
export const EXAMPLE_ALERT_EMAIL = 'data-oncall@example.com';

/**
 * What `cdk synth -c env=<name>` needs on top of each environment's config, as `-c key=value`
 * context: staging and prod a pinned account and region, prod an alert subscriber; dev nothing.
 */
export const EXAMPLE_TARGET_CONTEXT = {
  dev: {},
  staging: { account: EXAMPLE_ACCOUNT, region: EXAMPLE_REGION },
  prod: { account: EXAMPLE_ACCOUNT, region: EXAMPLE_REGION, alertEmails: EXAMPLE_ALERT_EMAIL },
} as const;
