import { EXAMPLE_ACCOUNT } from '../support/example-account';
import {
  checkServiceUsername,
  parseServiceUsers,
  roleGrants,
  serviceUserStatements,
} from '../../lib/source/service-users';

const ARN = `arn:aws:secretsmanager:eu-west-1:${EXAMPLE_ACCOUNT}:secret:source-extract-GhIjKl`;

describe('parsing the ServiceUsers property', () => {
  test('an absent property and an empty array both mean no service users', () => {
    expect(parseServiceUsers(undefined)).toEqual([]);
    expect(parseServiceUsers('[]')).toEqual([]);
    expect(parseServiceUsers(' [ ] ')).toEqual([]);
  });

  test('entries keep their order, and SecretArn is trimmed', () => {
    expect(
      parseServiceUsers(JSON.stringify([{ SecretArn: ` ${ARN} `, Role: 'replication' }, { SecretArn: 'other', Role: 'extract' }])),
    ).toEqual([
      { secretArn: ARN, role: 'replication' },
      { secretArn: 'other', role: 'extract' },
    ]);
  });

  test('a SecretArn that differs only by surrounding spaces is still a duplicate', () => {
    expect(() =>
      parseServiceUsers(JSON.stringify([{ SecretArn: ARN, Role: 'extract' }, { SecretArn: `${ARN} `, Role: 'replication' }])),
    ).toThrow('ResourceProperties.ServiceUsers[1].SecretArn duplicates ResourceProperties.ServiceUsers[0].SecretArn');
  });

  test.each([
    [[{ SecretArn: ARN, Role: 'extract' }], 'an array'],
    [42, '42'],
    [null, 'null'],
  ])('a value that is not a JSON string (%j) is refused', (value, got) => {
    expect(() => parseServiceUsers(value)).toThrow(
      `ResourceProperties.ServiceUsers must be a JSON string of an array like [{"SecretArn":"arn:...","Role":"extract"}] (got ${got}).`,
    );
  });

  test('JSON null, a string or a number is not an array', () => {
    expect(() => parseServiceUsers('null')).toThrow('ResourceProperties.ServiceUsers must be a JSON array (got null)');
    expect(() => parseServiceUsers('"x"')).toThrow('ResourceProperties.ServiceUsers must be a JSON array (got "x")');
    expect(() => parseServiceUsers('[[]]')).toThrow('ResourceProperties.ServiceUsers[0] must be an object with "SecretArn" and "Role" (got an array).');
  });

  test('a Role in another case is refused', () => {
    expect(() => parseServiceUsers(JSON.stringify([{ SecretArn: ARN, Role: 'Extract' }]))).toThrow(
      'ResourceProperties.ServiceUsers[0].Role must be "extract" or "replication" (got "Extract").',
    );
  });
});

describe('service user names and statements', () => {
  test('names starting with "rds" are reserved for Amazon RDS', () => {
    for (const name of ['rdsadmin', 'rdsrepladmin', 'rds_superuser_role', 'rdsx']) {
      expect(() => checkServiceUsername(name, 'ctx', 'admin')).toThrow(`ctx: "username" "${name}" is reserved`);
    }
    expect(checkServiceUsername('undercurrent_extract', 'ctx', 'admin')).toBe('undercurrent_extract');
  });

  test('the admin user is refused in any case of the admin name', () => {
    expect(() => checkServiceUsername('master', 'ctx', 'Master')).toThrow('ctx: "username" is "master", the admin user');
  });

  test('each role grants exactly its privileges', () => {
    expect(roleGrants('extract', 'db')).toEqual(['SELECT ON `db`.*']);
    expect(roleGrants('replication', 'db')).toEqual(['SELECT ON `db`.*', 'REPLICATION CLIENT, REPLICATION SLAVE ON *.*']);
  });

  test('statements are never built from an unchecked name or database, even if a caller skipped the checks', () => {
    expect(() => serviceUserStatements({ username: "x'@'%", password: 'p', role: 'extract' }, 'db')).toThrow(
      'A service user name must match',
    );
    expect(() => serviceUserStatements({ username: 'x', password: 'p', role: 'extract' }, 'db`.*, *')).toThrow(
      'A database name must match',
    );
  });
});
