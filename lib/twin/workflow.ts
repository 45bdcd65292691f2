/**
 * An interpreter of the Amazon States Language subset the platform's workflow uses, so that
 * the twin runs the state machine of the synthesized template (its order, its parallel
 * branches, its Retry and Catch), not a copy of the stage list.
 *
 * States: Pass, Task, Parallel, Succeed, Fail, Wait. Fields: Next/End, Parameters (with
 * `.$` JSONPath values), ResultPath (null, `$`, `$.a.b`), Retry (ErrorEquals, IntervalSeconds,
 * MaxAttempts, BackoffRate, MaxDelaySeconds) and Catch (ErrorEquals, ResultPath, Next). Tasks
 * are handed to a {@link TaskHandler} by their Resource. A state or field outside this subset
 * fails the execution with `Twin.Unsupported` naming it, rather than being skipped.
 */

/** A failure as Step Functions names it: an error name and a cause. */
export class StatesError extends Error {
  constructor(
    readonly error: string,
    readonly cause: string,
  ) {
    super(`${error}: ${cause}`);
    this.name = 'StatesError';
  }
}

/** What a Task state calls: one function per integration, chosen by the state's Resource. */
export type TaskHandler = (resource: string, parameters: Record<string, unknown>, context: TaskContext) => Promise<unknown>;

/** What a task is told about where it runs. */
export interface TaskContext {
  readonly executionId: string;
  readonly stateName: string;
  /** 1 for the first attempt, 2 for the first retry, ... */
  readonly attempt: number;
}

/** One line of the execution history. */
export interface HistoryEvent {
  readonly type: 'StateEntered' | 'StateSucceeded' | 'StateFailed' | 'StateRetry' | 'StateCaught';
  readonly state: string;
  readonly detail?: string;
}

/** Options of {@link runStateMachine}. */
export interface RunOptions {
  readonly executionId: string;
  /**
   * How the Retry intervals and Wait states are slept: the declared seconds times this factor
   * (the twin's tests use 0).
   * @default 1
   */
  readonly delayScale?: number;
  /**
   * Ends the execution as `ABORTED` (as Step Functions' StopExecution does) once the state of
   * this name has succeeded; states running beside it in a Parallel end first.
   * @default - runs to its end
   */
  readonly stopAfter?: string;
}

/** The end of an execution. */
export interface ExecutionResult {
  readonly status: 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  readonly output?: unknown;
  readonly error?: string;
  readonly cause?: string;
  readonly history: readonly HistoryEvent[];
}

interface Retrier {
  readonly ErrorEquals: readonly string[];
  readonly IntervalSeconds?: number;
  readonly MaxAttempts?: number;
  readonly BackoffRate?: number;
  readonly MaxDelaySeconds?: number;
}
interface Catcher {
  readonly ErrorEquals: readonly string[];
  readonly Next: string;
  readonly ResultPath?: string | null;
}
interface State {
  readonly Type: string;
  readonly Next?: string;
  readonly End?: boolean;
  readonly Resource?: string;
  readonly Parameters?: Record<string, unknown>;
  readonly Result?: unknown;
  readonly ResultPath?: string | null;
  readonly Retry?: readonly Retrier[];
  readonly Catch?: readonly Catcher[];
  readonly Branches?: readonly Machine[];
  readonly Error?: string;
  readonly Cause?: string;
  readonly Seconds?: number;
  readonly [key: string]: unknown;
}
interface Machine {
  readonly StartAt: string;
  readonly States: Record<string, State>;
  readonly TimeoutSeconds?: number;
}

const KNOWN_FIELDS = new Set([
  'Type', 'Next', 'End', 'Resource', 'Parameters', 'Result', 'ResultPath', 'Retry', 'Catch', 'Branches',
  'Error', 'Cause', 'Seconds', 'Comment', 'TimeoutSeconds',
]);

/** Runs a state machine definition (the `DefinitionString` of the template, parsed) to its end. */
export async function runStateMachine(
  definition: unknown,
  input: unknown,
  tasks: TaskHandler,
  options: RunOptions,
): Promise<ExecutionResult> {
  const history: HistoryEvent[] = [];
  if (options.stopAfter !== undefined) {
    const names = stateNames(definition as Machine);
    if (!names.includes(options.stopAfter)) {
      throw new Error(`The workflow has no state ${options.stopAfter}; its states are ${names.join(', ')}.`);
    }
  }
  const interpreter = new Interpreter(tasks, options, history);
  try {
    const output = await interpreter.run(definition as Machine, input);
    return { status: 'SUCCEEDED', output, history };
  } catch (error) {
    if (error instanceof Stopped) {
      return { status: 'ABORTED', output: error.data, history };
    }
    const failure = error instanceof StatesError ? error : new StatesError('States.Runtime', String(error));
    return { status: 'FAILED', error: failure.error, cause: failure.cause, history };
  }
}

/** Every state's name, those in Parallel branches too, in definition order. */
function stateNames(machine: Machine): string[] {
  return Object.entries(machine.States ?? {}).flatMap(([name, state]) => [name, ...(state.Branches ?? []).flatMap(stateNames)]);
}

/** Thrown past every Retry and Catch once the `stopAfter` state has succeeded. */
class Stopped {
  constructor(readonly data: unknown) {}
}

/** Whether a Retry or Catch rule with `errorEquals` applies to `error` (States.ALL: any but States.Runtime). */
export function errorMatches(errorEquals: readonly string[], error: string): boolean {
  return errorEquals.includes(error) || (errorEquals.includes('States.ALL') && error !== 'States.Runtime');
}

class Interpreter {
  constructor(
    private readonly tasks: TaskHandler,
    private readonly options: RunOptions,
    private readonly history: HistoryEvent[],
  ) {}

  async run(machine: Machine, input: unknown): Promise<unknown> {
    let name: string | undefined = machine.StartAt;
    let data = input;
    while (name !== undefined) {
      const state: State | undefined = machine.States[name];
      if (!state) {
        throw new StatesError('Twin.Unsupported', `the definition has no state named ${name}`);
      }
      for (const field of Object.keys(state)) {
        if (!KNOWN_FIELDS.has(field)) {
          throw new StatesError('Twin.Unsupported', `state ${name} has field ${field}, which the twin does not interpret`);
        }
      }
      this.history.push({ type: 'StateEntered', state: name });
      const outcome = await this.step(name, state, data);
      data = outcome.data;
      name = outcome.next;
    }
    return data;
  }

  private async step(name: string, state: State, data: unknown): Promise<{ data: unknown; next?: string }> {
    switch (state.Type) {
      case 'Pass':
        return this.done(name, state, applyResultPath(data, state.Result ?? data, state.ResultPath));
      case 'Succeed':
        this.history.push({ type: 'StateSucceeded', state: name });
        return { data };
      case 'Fail':
        this.history.push({ type: 'StateFailed', state: name, detail: state.Error });
        throw new StatesError(state.Error ?? 'States.Fail', state.Cause ?? '');
      case 'Wait':
        await sleep((state.Seconds ?? 0) * (this.options.delayScale ?? 1));
        return this.done(name, state, data);
      case 'Task':
      case 'Parallel':
        return this.withRetryAndCatch(name, state, data);
      default:
        throw new StatesError('Twin.Unsupported', `state ${name} is of type ${state.Type}, which the twin does not interpret`);
    }
  }

  private done(name: string, state: State, data: unknown): { data: unknown; next?: string } {
    this.history.push({ type: 'StateSucceeded', state: name });
    if (name === this.options.stopAfter) {
      throw new Stopped(data);
    }
    if (state.End) {
      return { data };
    }
    if (!state.Next) {
      throw new StatesError('Twin.Unsupported', `state ${name} has neither Next nor End`);
    }
    return { data, next: state.Next };
  }

  private async withRetryAndCatch(name: string, state: State, data: unknown): Promise<{ data: unknown; next?: string }> {
    const attempts = new Map<Retrier, number>();
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await this.execute(name, state, data, attempt);
        return this.done(name, state, applyResultPath(data, result, state.ResultPath));
      } catch (error) {
        if (!(error instanceof StatesError) || error.error === 'Twin.Unsupported') {
          throw error;
        }
        const retrier = (state.Retry ?? []).find((r) => errorMatches(r.ErrorEquals, error.error));
        const used = retrier ? (attempts.get(retrier) ?? 0) : 0;
        if (retrier && used < (retrier.MaxAttempts ?? 3)) {
          attempts.set(retrier, used + 1);
          const interval = (retrier.IntervalSeconds ?? 1) * Math.pow(retrier.BackoffRate ?? 2, used);
          const delay = Math.min(interval, retrier.MaxDelaySeconds ?? Number.POSITIVE_INFINITY);
          this.history.push({ type: 'StateRetry', state: name, detail: `${error.error} (retry ${used + 1} after ${delay} s)` });
          await sleep(delay * (this.options.delayScale ?? 1));
          continue;
        }
        const catcher = (state.Catch ?? []).find((c) => errorMatches(c.ErrorEquals, error.error));
        this.history.push({ type: 'StateFailed', state: name, detail: error.error });
        if (!catcher) {
          throw error;
        }
        this.history.push({ type: 'StateCaught', state: name, detail: `${error.error} -> ${catcher.Next}` });
        const failure = { Error: error.error, Cause: error.cause };
        return { data: applyResultPath(data, failure, catcher.ResultPath === undefined ? '$' : catcher.ResultPath), next: catcher.Next };
      }
    }
  }

  private async execute(name: string, state: State, data: unknown, attempt: number): Promise<unknown> {
    if (state.Type === 'Parallel') {
      // Every branch runs on the same input; the state fails with the first branch's error
      // once all have ended (the twin does not stop a running job; Step Functions would).
      const results = await Promise.allSettled((state.Branches ?? []).map((branch) => this.run(branch, data)));
      const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      // A branch that reached the stopAfter state stops the execution, whatever the others did.
      const failed = rejected.find((r) => r.reason instanceof Stopped) ?? rejected[0];
      if (failed) {
        throw failed.reason;
      }
      return results.map((r) => (r as PromiseFulfilledResult<unknown>).value);
    }
    if (!state.Resource) {
      throw new StatesError('Twin.Unsupported', `task ${name} has no Resource`);
    }
    const parameters = renderParameters(state.Parameters ?? {}, data, this.options.executionId) as Record<string, unknown>;
    return this.tasks(state.Resource, parameters, { executionId: this.options.executionId, stateName: name, attempt });
  }
}

/** Resolves `"key.$": "$.path"` entries of Parameters against the state input and the context object. */
export function renderParameters(template: unknown, data: unknown, executionId: string): unknown {
  if (Array.isArray(template)) {
    return template.map((v) => renderParameters(v, data, executionId));
  }
  if (template === null || typeof template !== 'object') {
    return template;
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(template)) {
    if (key.endsWith('.$')) {
      const path = String(value);
      out[key.slice(0, -2)] = path.startsWith('$$.')
        ? readPath({ Execution: { Id: executionId, Name: executionId.slice(executionId.lastIndexOf(':') + 1) } }, path.slice(1))
        : readPath(data, path);
    } else {
      out[key] = renderParameters(value, data, executionId);
    }
  }
  return out;
}

/** Reads a simple JSONPath (`$`, `$.a.b`) from `data`. */
export function readPath(data: unknown, path: string): unknown {
  if (path === '$') {
    return data;
  }
  if (!/^\$(\.[A-Za-z0-9_-]+)+$/.test(path)) {
    throw new StatesError('Twin.Unsupported', `JSONPath ${path} is outside the twin's subset ($ and $.a.b)`);
  }
  let current: unknown = data;
  for (const part of path.split('.').slice(1)) {
    if (current === null || typeof current !== 'object' || !(part in (current as object))) {
      throw new StatesError('States.Runtime', `JSONPath ${path} selects nothing in the state input`);
    }
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/** Puts `result` into `data` at ResultPath: null keeps the input, `$` replaces it, `$.a.b` sets a field. */
export function applyResultPath(data: unknown, result: unknown, resultPath: string | null | undefined): unknown {
  if (resultPath === null) {
    return data;
  }
  if (resultPath === undefined || resultPath === '$') {
    return result;
  }
  if (!/^\$(\.[A-Za-z0-9_-]+)+$/.test(resultPath)) {
    throw new StatesError('Twin.Unsupported', `ResultPath ${resultPath} is outside the twin's subset`);
  }
  const root: Record<string, unknown> = data !== null && typeof data === 'object' ? { ...(data as object) } : {};
  let current = root;
  const parts = resultPath.split('.').slice(1);
  for (const part of parts.slice(0, -1)) {
    const next = current[part];
    current[part] = next !== null && typeof next === 'object' ? { ...(next as object) } : {};
    current = current[part] as Record<string, unknown>;
  }
  current[parts[parts.length - 1]] = result;
  return root;
}

function sleep(seconds: number): Promise<void> {
  return seconds > 0 ? new Promise((resolve) => setTimeout(resolve, seconds * 1000)) : Promise.resolve();
}
