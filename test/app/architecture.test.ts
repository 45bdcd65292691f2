import * as fs from 'fs';
import * as path from 'path';
import { Stack } from 'aws-cdk-lib';
import { DEPLOY_ORDER } from '../../lib/platform';
import { STACK_KEYS, synthPlatform, SynthesizedPlatform } from '../support/platform';

describe('the stack dependency graph', () => {
  let platform: SynthesizedPlatform;
  let stacks: Stack[];

  beforeAll(() => {
    platform = synthPlatform('prod');
    stacks = STACK_KEYS.map((key) => platform[key]);
  });

  test('has one stack per lifecycle stage and undercurrent, named by the deploy order', () => {
    expect(stacks.map((s) => s.node.id)).toEqual([...DEPLOY_ORDER]);
  });

  test('has no cycle', () => {
    const visiting = new Set<Stack>();
    const done = new Set<Stack>();
    const visit = (stack: Stack, trail: string[]): void => {
      if (done.has(stack)) {
        return;
      }
      if (visiting.has(stack)) {
        throw new Error(`dependency cycle: ${[...trail, stack.node.id].join(' -> ')}`);
      }
      visiting.add(stack);
      stack.dependencies.forEach((dep) => visit(dep, [...trail, stack.node.id]));
      visiting.delete(stack);
      done.add(stack);
    };
    expect(() => stacks.forEach((s) => visit(s, []))).not.toThrow();
  });

  test('lets every stack deploy after everything it depends on, in the documented order', () => {
    for (const stack of stacks) {
      const position = DEPLOY_ORDER.indexOf(stack.node.id as (typeof DEPLOY_ORDER)[number]);
      for (const dep of stack.dependencies) {
        expect([stack.node.id, DEPLOY_ORDER.indexOf(dep.node.id as never) < position]).toEqual([stack.node.id, true]);
      }
    }
  });

  test('depends on exactly what each stage receives by props (the results bucket brings its key from Foundation)', () => {
    const graph = Object.fromEntries(stacks.map((s) => [s.node.id, s.dependencies.map((d) => d.node.id).sort()]));
    expect(graph).toEqual({
      Foundation: [],
      Storage: ['Foundation'],
      Source: ['Foundation'],
      Ingestion: ['Foundation', 'Source', 'Storage'],
      Transform: ['Foundation', 'Storage'],
      Serving: ['Foundation', 'Storage'],
      Orchestration: ['Foundation', 'Ingestion', 'Transform'],
    });
  });

  test('is stated in the same order in the README', () => {
    const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
    expect(readme).toContain(`Deploy order: ${DEPLOY_ORDER.join(' -> ')}`);
  });
});
