/**
 * vantage6 5 run actions (`AlgorithmStepType` in vantage6-common 5.0.3 `enum.py`; the 5.x
 * contract §3.2, §5.5): what a run does decides what its container gets — a source database or
 * the session's dataframes, a container token or none — and what the node does with its output.
 */
export const Action = {
  DataExtraction: 'data_extraction',
  Preprocessing: 'preprocessing',
  FederatedCompute: 'federated_compute',
  CentralCompute: 'central_compute',
  Postprocessing: 'postprocessing',
} as const;

export type Action = (typeof Action)[keyof typeof Action];

const ACTIONS: ReadonlySet<string> = new Set(Object.values(Action));

export function isAction(value: unknown): value is Action {
  return typeof value === 'string' && ACTIONS.has(value);
}

/** Extraction and preprocessing write a session dataframe (parquet) and may reach no network at all. */
export function producesDataframe(action: Action): boolean {
  return action === Action.DataExtraction || action === Action.Preprocessing;
}

/** Only a central compute run gets a container token (upstream `container_manager.py`): the others never call the hub. */
export function getsContainerToken(action: Action): boolean {
  return action === Action.CentralCompute;
}
