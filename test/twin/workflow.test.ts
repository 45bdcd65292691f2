import { QuickSightTwin } from '../../lib/twin/quicksight';
import { applyResultPath, errorMatches, renderParameters, runStateMachine, StatesError, type TaskHandler } from '../../lib/twin/workflow';
import { EXAMPLE_ACCOUNT, EXAMPLE_REGION } from '../support/example-account';

const GLUE = 'arn:aws:states:::glue:startJobRun.sync';

/**
 * A task handler that records each call and fails the named jobs the given number of times.
 * Each run also records `start <job>` and, after yielding to the event loop `ticks[job]` times
 * (1 by default), `end <job>`: the order of `events` is the order in which runs started and ended.
 */
function jobs(failures: Record<string, number> = {}, ticks: Record<string, number> = {}): { calls: string[]; events: string[]; handler: TaskHandler } {
  const calls: string[] = [];
  const events: string[] = [];
  const left = { ...failures };
  const handler: TaskHandler = async (_resource, parameters) => {
    const name = String(parameters.JobName);
    calls.push(name);
    events.push(`start ${name}`);
    for (let tick = 0; tick < (ticks[name] ?? 1); tick++) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    events.push(`end ${name}`);
    if ((left[name] ?? 0) > 0) {
      left[name] -= 1;
      throw new StatesError('States.TaskFailed', `${name} failed`);
    }
    return { JobRunState: 'SUCCEEDED' };
  };
  return { calls, events, handler };
}

const task = (job: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  Type: 'Task',
  Resource: GLUE,
  Parameters: { JobName: job },
  ResultPath: null,
  ...extra,
});

/** A Parallel state whose two branches run the jobs b (state B) and c (state C). */
const parallelBC = (extra: Record<string, unknown>): Record<string, unknown> => ({
  Type: 'Parallel',
  ...extra,
  Branches: [
    { StartAt: 'B', States: { B: task('b', { End: true }) } },
    { StartAt: 'C', States: { C: task('c', { End: true }) } },
  ],
});

const notify = {
  NotifyFailure: { Type: 'Task', Resource: 'arn:aws:states:::sns:publish', Parameters: { 'error.$': '$.failure.Error' }, ResultPath: null, Next: 'Failed' },
  Failed: { Type: 'Fail', Error: 'PipelineFailed', Cause: 'A pipeline job failed' },
};

describe('the state machine interpreter', () => {
  test('runs states in order and the branches of a Parallel state side by side', async () => {
    const { calls, events, handler } = jobs();
    const definition = {
      StartAt: 'A',
      States: {
        A: task('a', { Next: 'P' }),
        P: parallelBC({ ResultPath: null, Next: 'Done' }),
        Done: { Type: 'Succeed' },
      },
    };
    const result = await runStateMachine(definition, {}, handler, { executionId: 'x' });
    expect(result.status).toBe('SUCCEEDED');
    expect(calls).toEqual(['a', 'b', 'c']);
    // a ends before the branches start; both branches start before either ends (side by side).
    expect(events).toEqual(['start a', 'end a', 'start b', 'start c', 'end b', 'end c']);
    // The execution history, in the order it was recorded: P ends after both branches, Done after P.
    expect(result.history.map((e) => `${e.type} ${e.state}`)).toEqual([
      'StateEntered A',
      'StateSucceeded A',
      'StateEntered P',
      'StateEntered B',
      'StateEntered C',
      'StateSucceeded B',
      'StateSucceeded C',
      'StateSucceeded P',
      'StateEntered Done',
      'StateSucceeded Done',
    ]);
  });

  test('retries a failed task as its Retry says before its Catch sends it to the failure path', async () => {
    const { calls, handler } = jobs({ a: 5 });
    const definition = {
      StartAt: 'A',
      States: {
        A: task('a', {
          Next: 'Done',
          Retry: [{ ErrorEquals: ['States.TaskFailed'], IntervalSeconds: 60, BackoffRate: 2, MaxAttempts: 2 }],
          Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'NotifyFailure' }],
        }),
        Done: { Type: 'Succeed' },
        ...notify,
      },
    };
    const notified: unknown[] = [];
    const handler2: TaskHandler = async (resource, parameters, context) => {
      if (resource.endsWith('sns:publish')) {
        notified.push(parameters);
        return {};
      }
      return handler(resource, parameters, context);
    };
    const result = await runStateMachine(definition, {}, handler2, { executionId: 'x', delayScale: 0 });
    expect(calls).toEqual(['a', 'a', 'a']);
    expect(result.history.filter((e) => e.type === 'StateRetry').map((e) => e.detail)).toEqual([
      'States.TaskFailed (retry 1 after 60 s)',
      'States.TaskFailed (retry 2 after 120 s)',
    ]);
    expect(notified).toEqual([{ error: 'States.TaskFailed' }]);
    expect(result).toMatchObject({ status: 'FAILED', error: 'PipelineFailed' });
  });

  test('a retry that succeeds continues the run without notifying', async () => {
    const { calls, handler } = jobs({ a: 1 });
    const definition = {
      StartAt: 'A',
      States: {
        A: task('a', { Next: 'Done', Retry: [{ ErrorEquals: ['States.TaskFailed'], MaxAttempts: 1 }] }),
        Done: { Type: 'Succeed' },
      },
    };
    const result = await runStateMachine(definition, {}, handler, { executionId: 'x', delayScale: 0 });
    expect(calls).toEqual(['a', 'a']);
    expect(result.status).toBe('SUCCEEDED');
  });

  test('a failed Parallel branch fails the state after every branch ended', async () => {
    // b fails at once; c runs on for three more turns of the event loop.
    const { events, handler } = jobs({ b: 1 }, { b: 1, c: 4 });
    const definition = {
      StartAt: 'P',
      States: {
        P: parallelBC({ End: true }),
      },
    };
    const result = await runStateMachine(definition, {}, handler, { executionId: 'x' });
    expect(events).toEqual(['start b', 'start c', 'end b', 'end c']);
    // P fails only once c, which outlived b's failure, has ended.
    expect(result.history.map((e) => `${e.type} ${e.state}`)).toEqual([
      'StateEntered P',
      'StateEntered B',
      'StateEntered C',
      'StateFailed B',
      'StateSucceeded C',
      'StateFailed P',
    ]);
    expect(result).toMatchObject({ status: 'FAILED', error: 'States.TaskFailed', cause: 'b failed' });
  });

  test('stopAfter ends the execution as ABORTED once that state succeeded, past its Catch, after the branches beside it', async () => {
    const { calls, handler } = jobs({ c: 1 }, { b: 1, c: 3 });
    const definition = {
      StartAt: 'A',
      States: {
        A: task('a', { Next: 'P' }),
        P: parallelBC({ Next: 'D', Catch: [{ ErrorEquals: ['States.ALL'], Next: 'D' }] }),
        D: task('d', { End: true }),
      },
    };
    const atA = await runStateMachine(definition, {}, handler, { executionId: 'x', stopAfter: 'A' });
    expect(atA.status).toBe('ABORTED');
    expect(calls).toEqual(['a']);
    // B succeeds and stops the execution; C, beside it, fails afterwards: neither P's Catch nor D runs.
    const atB = await runStateMachine(definition, {}, handler, { executionId: 'y', stopAfter: 'B' });
    expect(atB.status).toBe('ABORTED');
    expect(calls).toEqual(['a', 'a', 'b', 'c']);
    // P ends neither way: the execution stopped inside it.
    expect(atB.history.map((e) => `${e.type} ${e.state}`).slice(2)).toEqual([
      'StateEntered P',
      'StateEntered B',
      'StateEntered C',
      'StateSucceeded B',
      'StateFailed C',
    ]);
  });

  test('stopAfter naming no state of the workflow is refused before anything runs', async () => {
    const { calls, handler } = jobs();
    const definition = { StartAt: 'A', States: { A: task('a', { End: true }) } };
    await expect(runStateMachine(definition, {}, handler, { executionId: 'x', stopAfter: 'RunExtract' })).rejects.toThrow(
      'The workflow has no state RunExtract; its states are A.',
    );
    expect(calls).toEqual([]);
  });

  test('a state type or field outside the subset fails the run and names it', async () => {
    const { handler } = jobs();
    const choice = await runStateMachine({ StartAt: 'X', States: { X: { Type: 'Choice', Choices: [] } } }, {}, handler, { executionId: 'x' });
    expect(choice).toMatchObject({ status: 'FAILED', error: 'Twin.Unsupported' });
    expect(choice.cause).toContain('Choices');
    const map = await runStateMachine({ StartAt: 'X', States: { X: { Type: 'Map', End: true } } }, {}, handler, { executionId: 'x' });
    expect(map.cause).toBe('state X is of type Map, which the twin does not interpret');
  });
});

describe('the interpreter\'s data flow', () => {
  test('ResultPath null keeps the input, $ replaces it and $.a.b sets a field', () => {
    expect(applyResultPath({ a: 1 }, { r: 2 }, null)).toEqual({ a: 1 });
    expect(applyResultPath({ a: 1 }, { r: 2 }, '$')).toEqual({ r: 2 });
    expect(applyResultPath({ a: 1 }, { r: 2 }, '$.failure.detail')).toEqual({ a: 1, failure: { detail: { r: 2 } } });
  });

  test('Parameters read the input and the context object through ".$" keys', () => {
    expect(renderParameters({ 'e.$': '$.failure.Error', 'id.$': '$$.Execution.Id', fixed: 'v' }, { failure: { Error: 'E' } }, 'exec-1')).toEqual({
      e: 'E',
      id: 'exec-1',
      fixed: 'v',
    });
  });

  test('the execution\'s name is the last part of its id, as the workflow\'s QuickSight ingestion ids read it', () => {
    const id = `arn:aws:states:${EXAMPLE_REGION}:${EXAMPLE_ACCOUNT}:execution:Workflow:twin-1a2b`;
    expect(renderParameters({ 'name.$': '$$.Execution.Name' }, {}, id)).toEqual({ name: 'twin-1a2b' });
  });

  test('States.ALL matches every error but States.Runtime', () => {
    expect(errorMatches(['States.ALL'], 'States.TaskFailed')).toBe(true);
    expect(errorMatches(['States.ALL'], 'States.Runtime')).toBe(false);
    expect(errorMatches(['States.TaskFailed'], 'Glue.ConcurrentRunsExceededException')).toBe(false);
  });
});

describe('the QuickSight stand-in', () => {
  const CREATE = 'arn:aws:states:::aws-sdk:quicksight:createIngestion';
  const quickSight = () =>
    new QuickSightTwin({ resourcesOfType: (type: string) => (type === 'AWS::QuickSight::DataSet' ? [{ properties: { DataSetId: 'sales' } }] : []) } as never);
  const context = { executionId: 'e', stateName: 'RefreshSales', attempt: 1 };

  test('records an import of a dataset of the assembly', async () => {
    const twin = quickSight();
    await expect(twin.tasks(CREATE, { DataSetId: 'sales', IngestionId: 'run-1', IngestionType: 'FULL_REFRESH' }, context)).resolves.toEqual({
      IngestionId: 'run-1',
      IngestionStatus: 'INITIALIZED',
    });
    expect(twin.ingestions).toEqual([{ dataSetId: 'sales', ingestionId: 'run-1', ingestionType: 'FULL_REFRESH' }]);
  });

  test.each([
    ['an unknown dataset', { DataSetId: 'orders', IngestionId: 'run-1' }, 'QuickSight.ResourceNotFoundException'],
    ['an ingestion id outside QuickSight\'s pattern', { DataSetId: 'sales', IngestionId: 'run.1' }, 'QuickSight.InvalidParameterValueException'],
  ])('refuses %s with QuickSight\'s error', async (_what, parameters, error) => {
    await expect(quickSight().tasks(CREATE, parameters, context)).rejects.toMatchObject({ error });
  });

  test('refuses an ingestion id used before for the dataset', async () => {
    const twin = quickSight();
    await twin.tasks(CREATE, { DataSetId: 'sales', IngestionId: 'run-1' }, context);
    await expect(twin.tasks(CREATE, { DataSetId: 'sales', IngestionId: 'run-1' }, context)).rejects.toMatchObject({ error: 'QuickSight.ResourceExistsException' });
  });
});
