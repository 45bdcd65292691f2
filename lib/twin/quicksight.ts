import { TwinAssembly } from './assembly';
import { StatesError, type TaskHandler } from './workflow';

/** The workflow's task that starts a SPICE import of a dataset (lib/orchestration/orchestration-stack.ts). */
const CREATE_INGESTION = /^arn:[^:]+:states:::aws-sdk:quicksight:createIngestion$/;
/** QuickSight's pattern of an ingestion id (CreateIngestion API reference). */
const INGESTION_ID = /^[a-zA-Z0-9-_]{1,128}$/;

/** One SPICE import the workflow asked for. */
export interface Ingestion {
  readonly dataSetId: string;
  readonly ingestionId: string;
  readonly ingestionType: string;
}

/**
 * The QuickSight stand-in: answers the workflow's `createIngestion` tasks as QuickSight's API
 * would for the datasets of the assembly (an unknown dataset, an ingestion id outside
 * QuickSight's pattern or used twice is refused with QuickSight's error), and records them. No
 * import runs: SPICE has no local equivalent; the refresh of a real account is alarmed on.
 */
export class QuickSightTwin {
  readonly ingestions: Ingestion[] = [];
  readonly dataSetIds: readonly string[];

  constructor(assembly: TwinAssembly) {
    this.dataSetIds = assembly.resourcesOfType('AWS::QuickSight::DataSet').map((d) => String(d.properties.DataSetId));
  }

  /** Whether the task is QuickSight's. */
  handles(resource: string): boolean {
    return CREATE_INGESTION.test(resource);
  }

  readonly tasks: TaskHandler = async (resource, parameters) => {
    if (!this.handles(resource)) {
      throw new StatesError('Twin.Unsupported', `task resource ${resource} is not modelled by the QuickSight twin`);
    }
    const dataSetId = String(parameters.DataSetId);
    const ingestionId = String(parameters.IngestionId);
    if (!this.dataSetIds.includes(dataSetId)) {
      throw new StatesError('QuickSight.ResourceNotFoundException', `dataset ${dataSetId} is not in the assembly (${this.dataSetIds.join(', ')})`);
    }
    if (!INGESTION_ID.test(ingestionId)) {
      throw new StatesError('QuickSight.InvalidParameterValueException', `ingestion id "${ingestionId}" does not match ${INGESTION_ID.source}`);
    }
    if (this.ingestions.some((i) => i.dataSetId === dataSetId && i.ingestionId === ingestionId)) {
      throw new StatesError('QuickSight.ResourceExistsException', `dataset ${dataSetId} already has ingestion ${ingestionId}`);
    }
    this.ingestions.push({ dataSetId, ingestionId, ingestionType: String(parameters.IngestionType) });
    return { IngestionId: ingestionId, IngestionStatus: 'INITIALIZED' };
  };
}
