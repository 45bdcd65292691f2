import * as fs from 'fs';
import * as path from 'path';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { DEPLOY_ORDER } from '../../lib/app';
import { STACK_KEYS, synthPlatform, SynthesizedPlatform, synthStages } from '../support/platform';

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

  test('depends on exactly what each stage receives by props (the results bucket brings its key from Foundation; the workflow refreshes the QuickSight datasets of Serving)', () => {
    const graph = Object.fromEntries(stacks.map((s) => [s.node.id, s.dependencies.map((d) => d.node.id).sort()]));
    expect(graph).toEqual({
      Foundation: [],
      Storage: ['Foundation'],
      Source: ['Foundation'],
      Ingestion: ['Foundation', 'Source', 'Storage'],
      Transform: ['Foundation', 'Storage'],
      Serving: ['Foundation', 'Ingestion', 'Storage'],
      Orchestration: ['Foundation', 'Ingestion', 'Serving', 'Transform'],
    });
  });

  test('is stated in the same order in the README', () => {
    const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
    expect(readme).toContain(`Deploy order: ${DEPLOY_ORDER.join(' -> ')}`);
  });

  test('every stack a documented cdk command names is one the CLI selects (by construct id, not stack name)', () => {
    const ids = [...stacks, synthPlatform('prod', { context: { accountBaseline: 'true' } }).account!].map((s) => s.node.id);
    const root = path.join(__dirname, '..', '..');
    const docs = ['README.md', ...fs.readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
    const named: string[] = [];
    for (const doc of docs) {
      const text = fs.readFileSync(path.join(root, doc), 'utf8').replace(/\\\n\s*/g, ' ');
      for (const [, args] of text.matchAll(/\bcdk (?:deploy|destroy|diff|synth)([^\n`#]*)/g)) {
        // Drop `-c key=value`, `-o <dir>`, flags, `[optional ...]` and `<placeholders>`; what is left selects stacks.
        const words = args.replace(/\[[^\]]*\]/g, ' ').trim().split(/\s+/).filter(Boolean);
        for (let i = 0; i < words.length; i++) {
          if (['-c', '--context', '-o', '--output', '--require-approval'].includes(words[i])) {
            i++;
          } else if (!words[i].startsWith('-') && !words[i].startsWith('<')) {
            named.push(`${doc}: ${words[i]}`);
          }
        }
      }
    }
    expect(named).toEqual(expect.arrayContaining(['README.md: Account', 'docs/serving.md: Orchestration']));
    expect(named.filter((n) => !ids.includes(n.split(': ')[1]))).toEqual([]);
  });
});

/**
 * A stack's template is its own: the constructs of one stack never add statements to another
 * stack's policies (bucket, key, topic, role), attach policies to its roles, or change its
 * resources. Since stacks depend only on the stacks before them (DEPLOY_ORDER), that is exactly
 * "a stack's template is the same whether or not the stacks after it are built".
 *
 * The one exception, listed here: the cross-stack exports CDK adds to a stack's Outputs when a
 * later stack references one of its values (`Fn::ImportValue`). They describe the stack's own
 * resources and change none of them; CloudFormation needs them to hand values across stacks.
 */
describe.each(['dev', 'prod'] as const)('in %s, no stack writes into another stack\'s template', (envName) => {
  const withoutExports = (template: Record<string, unknown>): Record<string, unknown> => {
    const outputs = Object.fromEntries(
      Object.entries((template.Outputs ?? {}) as Record<string, { Export?: unknown }>).filter(([, output]) => output.Export === undefined),
    );
    const rest = Object.fromEntries(Object.entries(template).filter(([section]) => section !== 'Outputs'));
    return Object.keys(outputs).length > 0 ? { ...rest, Outputs: outputs } : rest;
  };

  let full: SynthesizedPlatform;
  beforeAll(() => {
    full = synthPlatform(envName);
  });

  test.each(DEPLOY_ORDER.slice(0, -1).map((stage, index) => [stage, index + 1] as const))(
    '%s is the same template without the stacks after it',
    (_stage, count) => {
      const key = STACK_KEYS[count - 1];
      const alone = synthStages(envName, count)[key]!;
      expect(withoutExports(Template.fromStack(alone).toJSON())).toEqual(withoutExports(full.template(key).toJSON()));
    },
  );
});
