/**
 * Shapes of MLflow entities as MLflow's REST API 2.0 returns them, and of the tracking state a
 * kernel reports. Pure types, shared by the panel, the tracking button and the tests.
 */

/** A key/value pair (params, tags). */
export interface IKeyValue {
  /** Key. */
  key: string;
  /** Value. */
  value: string;
}

/** One metric value (latest in a run, or one point of a history). */
export interface IMetric {
  /** Metric name. */
  key: string;
  /** Value. */
  value: number;
  /** Unix time in ms. */
  timestamp: number;
  /** Step. */
  step?: number;
  /** Run the point belongs to (bulk history). */
  run_id?: string;
}

/** An MLflow experiment. */
export interface IExperiment {
  /** Id. */
  experiment_id: string;
  /** Name (with the ` (<project id>)` suffix on SharingHub). */
  name: string;
  /** `active` or `deleted`. */
  lifecycle_stage?: string;
  /** Last update, Unix ms. */
  last_update_time?: number;
  /** Tags. */
  tags?: IKeyValue[];
}

/** Run status values. */
export type RunStatus =
  'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED';

/** An MLflow run. */
export interface IRun {
  /** Run metadata. */
  info: {
    run_id: string;
    run_name?: string;
    experiment_id: string;
    status: RunStatus;
    start_time?: number;
    end_time?: number;
    artifact_uri?: string;
    lifecycle_stage?: string;
  };
  /** Run data. */
  data: { metrics?: IMetric[]; params?: IKeyValue[]; tags?: IKeyValue[] };
  /** Inputs/outputs; MLflow 3 lists the run's logged models in outputs. */
  outputs?: { model_outputs?: { model_id: string; step?: number }[] };
}

/** An MLflow 3 logged model (what autolog's `log_model` creates). */
export interface ILoggedModel {
  /** Model info. */
  info: {
    model_id: string;
    name: string;
    experiment_id: string;
    source_run_id?: string;
    artifact_uri?: string;
    model_uri?: string;
    creation_timestamp_ms?: number;
  };
}

/** One file or folder of a run's artifacts. */
export interface IArtifact {
  /** Path relative to the run's artifact root. */
  path: string;
  /** Folder or file. */
  is_dir: boolean;
  /** Size in bytes (files). */
  file_size?: number | string;
}

/** A version of a registered model. */
export interface IModelVersion {
  /** Registered model name. */
  name: string;
  /** Version number (as text). */
  version: string;
  /** Source URI. */
  source?: string;
  /** Run it came from. */
  run_id?: string;
  /** Creation, Unix ms. */
  creation_timestamp?: number;
  /** READY, PENDING_REGISTRATION, FAILED_REGISTRATION. */
  status?: string;
  /** Aliases pointing at this version. */
  aliases?: string[];
}

/** A registered model. */
export interface IRegisteredModel {
  /** Name, with the ` (<project id>)` suffix on SharingHub. */
  name: string;
  /** Aliases. */
  aliases?: { alias: string; version: string }[];
  /** Latest versions per stage. */
  latest_versions?: IModelVersion[];
  /** Last update, Unix ms. */
  last_updated_timestamp?: number;
}

/** The part of a catalog item the project picker uses. */
export interface IStacItemLike {
  /** Item id: the project path. */
  id: string;
  /** Properties; `title` is shown. */
  properties: { title?: string; [key: string]: unknown };
}

/**
 * Where a kernel logs, as `jupyter_mlops.notebook_tracking.state()` reports it (MIME type
 * `application/vnd.jupyter-mlops.tracking+json`). Never holds a secret.
 */
export interface ITrackingState {
  /** Whether the kernel is tracking. */
  active: boolean;
  /** Project path. */
  project: string | null;
  /** GitLab project id. */
  project_id: number | null;
  /** Project tracking URI. */
  tracking_uri: string | null;
  /** Full experiment name (suffix included). */
  experiment: string | null;
  /** Experiment id, once the experiment exists. */
  experiment_id: string | null;
  /** Latest run of this kernel in the experiment. */
  run_id: string | null;
  /** Its name. */
  run_name: string | null;
  /** Its status. */
  run_status: string | null;
  /** Frameworks with autologging on. */
  autolog: string[];
  /** Whether resilient (spooled) logging is on. */
  resilient: boolean;
}
