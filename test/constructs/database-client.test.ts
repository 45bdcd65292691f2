import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { databaseClientSecurityGroup } from '../../lib/shared/database-client';
import { testApp } from '../support/platform';

describe('databaseClientSecurityGroup', () => {
  let databaseStack: Stack;
  let clientStack: Stack;
  let database: ec2.SecurityGroup;

  beforeAll(() => {
    const app = testApp();
    databaseStack = new Stack(app, 'Database');
    const vpc = new ec2.Vpc(databaseStack, 'Vpc', { subnetConfiguration: [{ name: 'Data', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    database = new ec2.SecurityGroup(databaseStack, 'Db', { vpc, allowAllOutbound: false });
    databaseClientSecurityGroup(databaseStack, 'Setup', { vpc, databaseSecurityGroup: database, port: 3407, what: 'Setup' });
    clientStack = new Stack(app, 'Client');
    databaseClientSecurityGroup(clientStack, 'Extract', {
      vpc,
      databaseSecurityGroup: database,
      port: 3407,
      what: 'Extract',
      selfReferencing: true,
    });
  });

  test('the client group sends only HTTPS and the database port to the database group, and admits nothing from outside', () => {
    const template = Template.fromStack(databaseStack);
    const groupId = databaseStack.getLogicalId(database.node.defaultChild as ec2.CfnSecurityGroup);
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: 'Setup: the database port and HTTPS to AWS APIs only',
      SecurityGroupEgress: [Match.objectLike({ CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443 })],
      SecurityGroupIngress: Match.absent(),
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
      DestinationSecurityGroupId: { 'Fn::GetAtt': [groupId, 'GroupId'] },
      IpProtocol: 'tcp',
      FromPort: 3407,
      ToPort: 3407,
    });
  });

  test('in the database stack, the database group admits the client on the port only', () => {
    Template.fromStack(databaseStack).hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp',
      FromPort: 3407,
      ToPort: 3407,
      Description: 'Setup reaches the database',
      SourceSecurityGroupId: Match.anyValue(),
      CidrIp: Match.absent(),
    });
  });

  test('from another stack, the admitting rule lives in the client stack, so the database stack never depends on it', () => {
    const template = Template.fromStack(clientStack);
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: { 'Fn::ImportValue': Match.anyValue() },
      FromPort: 3407,
      ToPort: 3407,
      Description: 'Extract reaches the database',
    });
    expect(databaseStack.dependencies).toEqual([]);
    expect(clientStack.dependencies).toEqual([databaseStack]);
  });

  test('a self-referencing client (Glue) also admits and reaches itself on all TCP ports', () => {
    const template = Template.fromStack(clientStack);
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp',
      FromPort: 0,
      ToPort: 65535,
      Description: 'Workers of the same job',
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
      IpProtocol: 'tcp',
      FromPort: 0,
      ToPort: 65535,
      Description: 'Workers of the same job',
    });
  });
});
