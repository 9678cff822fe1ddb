/**
 * Typed MLflow calls through the server
 * extension's MLflow proxy (`/jupyter-mlops/mlflow/api/2.0/mlflow/<endpoint>?project=<path>`),
 * which sends them to the project's tracking URI with the user's token.
 */

import { ServerConnection } from '@jupyterlab/services';

import { MLOpsResponseError, requestAPI } from '../request';
import {
  IArtifact,
  IExperiment,
  ILoggedModel,
  IMetric,
  IModelVersion,
  IRegisteredModel,
  IRun
} from './types';

export * from './types';

/**
 * Call one MLflow REST endpoint of a project through the proxy.
 *
 * @param settings - server connection settings
 * @param project - project path (selects the project's tracking URI)
 * @param endpoint - endpoint under `api/2.0/mlflow/`, e.g. `runs/search`
 * @param query - query parameters (a key may repeat)
 * @param body - JSON body for POST and DELETE
 * @param method - HTTP method (default: POST with a body, else GET)
 * @returns the decoded answer
 */
export async function mlflowCall<T>(
  settings: ServerConnection.ISettings,
  project: string,
  endpoint: string,
  query: [string, string][] = [],
  body?: unknown,
  method?: 'GET' | 'POST' | 'DELETE'
): Promise<T> {
  const params = new URLSearchParams([['project', project], ...query]);
  const init: RequestInit = {
    method: method ?? (body === undefined ? 'GET' : 'POST')
  };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
  }
  return requestAPI<T>(
    `mlflow/api/2.0/mlflow/${endpoint}?${params.toString()}`,
    settings,
    init
  );
}

/** Typed MLflow calls bound to one project. */
export class ProjectMLflow {
  /**
   * @param settings - server connection settings
   * @param project - project path
   */
  constructor(
    readonly settings: ServerConnection.ISettings,
    readonly project: string
  ) {}

  /** Experiments of the project (active ones), newest first. */
  async experiments(): Promise<IExperiment[]> {
    const answer = await this.call<{ experiments?: IExperiment[] }>(
      'experiments/search',
      [],
      { max_results: 1000, order_by: ['last_update_time DESC'] }
    );
    return answer.experiments ?? [];
  }

  /**
   * Runs of an experiment.
   *
   * @param experimentId - experiment id
   * @param filter - MLflow search filter, e.g. `metrics.accuracy > 0.9`
   * @param orderBy - MLflow order clause, e.g. `attributes.start_time DESC`
   * @returns up to 500 runs
   */
  async runs(
    experimentId: string,
    filter: string,
    orderBy: string
  ): Promise<IRun[]> {
    const answer = await this.call<{ runs?: IRun[] }>('runs/search', [], {
      experiment_ids: [experimentId],
      filter,
      order_by: orderBy ? [orderBy] : [],
      max_results: 500
    });
    return answer.runs ?? [];
  }

  /** One run. */
  async run(runId: string): Promise<IRun> {
    const answer = await this.call<{ run: IRun }>('runs/get', [
      ['run_id', runId]
    ]);
    return answer.run;
  }

  /**
   * Metric history of several runs, downsampled by MLflow on the server (evenly over steps,
   * first and last steps kept) to at most `maxResults` points per run.
   *
   * @param runIds - runs (at most 100)
   * @param key - metric name
   * @param maxResults - points per run, 1..2500
   * @param steps - optional `[start, end]` step window (a zoom)
   * @returns points tagged with their run id
   */
  async history(
    runIds: string[],
    key: string,
    maxResults = 2500,
    steps?: [number, number]
  ): Promise<IMetric[]> {
    const query: [string, string][] = [
      ...runIds.map(id => ['run_ids', id] as [string, string]),
      ['metric_key', key],
      ['max_results', String(maxResults)]
    ];
    if (steps) {
      query.push(['start_step', String(Math.floor(steps[0]))]);
      query.push(['end_step', String(Math.ceil(steps[1]))]);
    }
    try {
      const answer = await this.call<{ metrics?: IMetric[] }>(
        'metrics/get-history-bulk-interval',
        query
      );
      return answer.metrics ?? [];
    } catch (error) {
      // Stores without interval sampling: the full history, one run at a time.
      if (
        !(error instanceof MLOpsResponseError) ||
        error.response.status === 403
      ) {
        throw error;
      }
      const all: IMetric[] = [];
      for (const runId of runIds) {
        const answer = await this.call<{ metrics?: IMetric[] }>(
          'metrics/get-history',
          [
            ['run_id', runId],
            ['metric_key', key]
          ]
        );
        all.push(...(answer.metrics ?? []).map(m => ({ ...m, run_id: runId })));
      }
      return all;
    }
  }

  /** Artifacts of a run under a folder. */
  async artifacts(runId: string, path = ''): Promise<IArtifact[]> {
    const query: [string, string][] = [['run_id', runId]];
    if (path) {
      query.push(['path', path]);
    }
    const answer = await this.call<{ files?: IArtifact[] }>(
      'artifacts/list',
      query
    );
    return answer.files ?? [];
  }

  /** Logged models (MLflow 3) produced by a run. */
  async loggedModels(
    experimentId: string,
    runId: string
  ): Promise<ILoggedModel[]> {
    try {
      const answer = await this.call<{ models?: ILoggedModel[] }>(
        'logged-models/search',
        [],
        {
          experiment_ids: [experimentId],
          filter: `source_run_id = '${runId.replace(/'/g, '')}'`,
          max_results: 50
        }
      );
      return answer.models ?? [];
    } catch (error) {
      // MLflow 2 servers have no logged models: models are then found in run tags.
      if (
        error instanceof MLOpsResponseError &&
        error.response.status === 404
      ) {
        return [];
      }
      throw error;
    }
  }

  /** Registered models of the project. */
  async registeredModels(): Promise<IRegisteredModel[]> {
    const answer = await this.call<{ registered_models?: IRegisteredModel[] }>(
      'registered-models/search',
      [['max_results', '200']]
    );
    return answer.registered_models ?? [];
  }

  /** Versions of one registered model, newest first. */
  async versions(name: string): Promise<IModelVersion[]> {
    const answer = await this.call<{ model_versions?: IModelVersion[] }>(
      'model-versions/search',
      [
        ['filter', `name = '${name.replace(/'/g, "\\'")}'`],
        ['max_results', '200']
      ]
    );
    return (answer.model_versions ?? []).sort(
      (a, b) => Number(b.version) - Number(a.version)
    );
  }

  /**
   * Register a model version: creates the registered model when it does not exist yet.
   *
   * @param name - full registered-model name (suffix included)
   * @param source - model URI (`models:/m-...` or `runs:/<run>/<path>`)
   * @param runId - source run
   * @param modelId - MLflow 3 logged model id, when known
   * @returns the new version
   */
  async register(
    name: string,
    source: string,
    runId: string,
    modelId?: string
  ): Promise<IModelVersion> {
    try {
      await this.call('registered-models/create', [], { name });
    } catch (error) {
      const exists =
        error instanceof MLOpsResponseError &&
        error.reason === 'resource_already_exists';
      if (!exists) {
        throw error;
      }
    }
    const body: Record<string, string> = { name, source, run_id: runId };
    if (modelId) {
      body.model_id = modelId;
    }
    const answer = await this.call<{ model_version: IModelVersion }>(
      'model-versions/create',
      [],
      body
    );
    return answer.model_version;
  }

  /** Point an alias (e.g. `champion`) at a version. */
  async setAlias(name: string, alias: string, version: string): Promise<void> {
    await this.call('registered-models/alias', [], { name, alias, version });
  }

  private call<T>(
    endpoint: string,
    query: [string, string][] = [],
    body?: unknown
  ): Promise<T> {
    return mlflowCall<T>(this.settings, this.project, endpoint, query, body);
  }
}
