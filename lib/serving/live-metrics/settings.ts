/**
 * The consumer's settings: the environment variables the construct (live-metrics.ts) sets and
 * the handler reads. One module for both sides, with no CDK import, so the function's bundle
 * stays small and the two cannot name different variables.
 */

/** The environment variables of the consumer function, by setting. */
export const SETTINGS_VARIABLES = {
  namespace: 'METRICS_NAMESPACE',
  rejectedQueueUrl: 'REJECTED_QUEUE_URL',
  lateAfterMinutes: 'LATE_AFTER_MINUTES',
} as const;

/** What the consumer needs to know. */
export interface ConsumerSettings {
  /** CloudWatch namespace of the metrics, e.g. `Undercurrent/dev/Clickstream`. */
  readonly namespace: string;
  /** The queue rejected records go to. */
  readonly rejectedQueueUrl: string;
  /** An event received more than this many minutes after its event_time is late. */
  readonly lateAfterMinutes: number;
}

/** A custom CloudWatch namespace: not `AWS/...`, 1 to 255 of the characters CloudWatch allows. */
const NAMESPACE = /^(?!AWS\/)[A-Za-z0-9._\-/#:]{1,255}$/;

/**
 * Reads the settings from the environment.
 *
 * @throws Error naming every variable that is missing or wrong: the function cannot run
 *   without them, so the invocation fails (and alarms) rather than publish to a wrong place.
 */
export function readSettings(env: Readonly<Record<string, string | undefined>>): ConsumerSettings {
  const V = SETTINGS_VARIABLES;
  const problems: string[] = [];
  const namespace = env[V.namespace] ?? '';
  if (!NAMESPACE.test(namespace)) {
    problems.push(`${V.namespace} must be a custom CloudWatch namespace such as "Undercurrent/dev/Clickstream", got "${namespace}"`);
  }
  const rejectedQueueUrl = env[V.rejectedQueueUrl] ?? '';
  if (!/^https:\/\/\S+$/.test(rejectedQueueUrl)) {
    problems.push(`${V.rejectedQueueUrl} must be the https URL of an SQS queue, got "${rejectedQueueUrl}"`);
  }
  const lateText = env[V.lateAfterMinutes] ?? '';
  const lateAfterMinutes = Number(lateText);
  if (!/^\d+$/.test(lateText) || lateAfterMinutes < 1 || lateAfterMinutes > 1440) {
    problems.push(`${V.lateAfterMinutes} must be an integer from 1 to 1440, got "${lateText}"`);
  }
  if (problems.length > 0) {
    throw new Error(`The live metrics consumer is misconfigured: ${problems.join('; ')}.`);
  }
  return { namespace, rejectedQueueUrl, lateAfterMinutes };
}
