/**
 * Pure logic of the experiments panel: table rows, sorting clauses, chart series, model
 * names. No DOM, no network: tested with jest.
 */

import { IKeyValue, IMetric, IRun, IStacItemLike } from './types';

/** The ` (<project id>)` suffix MLflow SharingHub requires on experiment and model names. */
const SUFFIX = /^(.*\S) \((\d+)\)$/;

/**
 * A name without its ` (<project id>)` suffix, for people.
 *
 * @param name - experiment or registered-model name
 * @returns the name people typed
 */
export function displayName(name: string): string {
  const match = SUFFIX.exec(name);
  return match ? match[1] : name;
}

/**
 * The name with the project's suffix, added once (as `jupyter_mlops.tracking.project_name`).
 *
 * @param name - what the user typed
 * @param projectId - GitLab project id
 * @returns the full name
 * @throws {Error} when the name is empty or carries another project's suffix
 */
export function projectName(name: string, projectId: number): string {
  const trimmed = name.trim();
  if (!trimmed) {
    throw new Error('The name is empty.');
  }
  const match = SUFFIX.exec(trimmed);
  if (!match) {
    return `${trimmed} (${projectId})`;
  }
  if (Number(match[2]) !== projectId) {
    throw new Error(
      `"${trimmed}" names project ${match[2]}, not project ${projectId}.`
    );
  }
  return trimmed;
}

/**
 * A human duration.
 *
 * @param start - start, Unix ms
 * @param end - end, Unix ms, or undefined while running
 * @param now - the current time, Unix ms
 * @returns e.g. `850ms`, `12.3s`, `4m 05s`, `2h 01m`
 */
export function durationText(
  start: number | undefined,
  end: number | undefined,
  now: number
): string {
  if (!start) {
    return '';
  }
  const ms = Math.max(0, (end || now) - start);
  if (ms < 1000) {
    return `${ms}ms`;
  }
  const seconds = ms / 1000;
  if (seconds < 60) {
    return `${seconds.toFixed(1)}s`;
  }
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) {
    return `${minutes}m ${String(Math.floor(seconds % 60)).padStart(2, '0')}s`;
  }
  return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, '0')}m`;
}

/** Tags MLflow sets itself; the table shows the user's own. */
export function userTags(tags: IKeyValue[] | undefined): IKeyValue[] {
  return (tags ?? []).filter(
    tag => !tag.key.startsWith('mlflow.') && tag.key !== 'project'
  );
}

/** The columns of a runs table: every param, metric and user tag key seen, sorted. */
export interface IRunColumns {
  /** Parameter names. */
  params: string[];
  /** Metric names. */
  metrics: string[];
  /** User tag names. */
  tags: string[];
}

/**
 * Collect the column keys of some runs.
 *
 * @param runs - runs
 * @returns sorted keys per kind
 */
export function runColumns(runs: IRun[]): IRunColumns {
  const params = new Set<string>();
  const metrics = new Set<string>();
  const tags = new Set<string>();
  for (const run of runs) {
    run.data.params?.forEach(p => params.add(p.key));
    run.data.metrics?.forEach(m => metrics.add(m.key));
    userTags(run.data.tags).forEach(t => tags.add(t.key));
  }
  const sorted = (set: Set<string>) => [...set].sort();
  return {
    params: sorted(params),
    metrics: sorted(metrics),
    tags: sorted(tags)
  };
}

/**
 * A metric value for a table cell: 4 significant digits, integers as they are.
 *
 * @param value - the value
 * @returns display text
 */
export function metricText(value: number | undefined): string {
  if (value === undefined || value === null) {
    return '';
  }
  if (Number.isInteger(value)) {
    return String(value);
  }
  return Number(value.toPrecision(4)).toString();
}

/** Sortable columns of the runs table: attribute, or a param/metric/tag name. */
export interface ISortKey {
  /** `attributes`, `params`, `metrics` or `tags`. */
  kind: 'attributes' | 'params' | 'metrics' | 'tags';
  /** Column name. */
  key: string;
  /** Descending. */
  desc: boolean;
}

/**
 * The MLflow `order_by` clause of a sort key, with backquotes for names MLflow cannot parse
 * bare (spaces, dashes, dots...).
 *
 * @param sort - the sort key
 * @returns e.g. ``metrics.`val-loss` DESC``
 */
export function orderByClause(sort: ISortKey): string {
  const name = /^[A-Za-z_][A-Za-z0-9_]*$/.test(sort.key)
    ? sort.key
    : `\`${sort.key.replace(/`/g, '')}\``;
  return `${sort.kind}.${name} ${sort.desc ? 'DESC' : 'ASC'}`;
}

/** One chart input: the points of one run. */
export interface IRunSeries {
  /** Run id. */
  runId: string;
  /** Label in the legend. */
  label: string;
  /** Points. */
  points: IMetric[];
}

/** Data for a chart with one shared x axis: xs, then one y array per run (null = no point). */
export type AlignedSeries = [number[], ...(number | null)[][]];

/**
 * Merge several runs' points onto one sorted x axis (what uPlot draws).
 *
 * @param series - runs' points
 * @param axis - `step`, or `time` (seconds since the epoch, from the timestamps)
 * @returns the shared xs and one column per run
 */
export function alignSeries(
  series: IRunSeries[],
  axis: 'step' | 'time'
): AlignedSeries {
  const xOf = (m: IMetric) =>
    axis === 'step' ? (m.step ?? 0) : m.timestamp / 1000;
  if (series.length === 1) {
    // One run whose xs already increase (the usual case): no merge needed.
    const xs = series[0].points.map(xOf);
    if (xs.every((x, i) => i === 0 || x > xs[i - 1])) {
      return [xs, series[0].points.map(p => p.value)];
    }
  }
  const xs = new Set<number>();
  for (const s of series) {
    for (const point of s.points) {
      xs.add(xOf(point));
    }
  }
  const sorted = Float64Array.from(xs).sort();
  const index = new Map<number, number>();
  sorted.forEach((x, i) => index.set(x, i));
  const columns = series.map(s => {
    const column: (number | null)[] = new Array(sorted.length).fill(null);
    for (const point of s.points) {
      column[index.get(xOf(point)) as number] = point.value;
    }
    return column;
  });
  return [Array.from(sorted), ...columns];
}

/**
 * Group bulk-history points by run, each sorted along the axis.
 *
 * @param points - points carrying `run_id`
 * @returns points per run id
 */
export function byRun(points: IMetric[]): Map<string, IMetric[]> {
  const runs = new Map<string, IMetric[]>();
  for (const point of points) {
    const id = point.run_id ?? '';
    let list = runs.get(id);
    if (!list) {
      list = [];
      runs.set(id, list);
    }
    list.push(point);
  }
  for (const list of runs.values()) {
    list.sort(
      (a, b) => (a.step ?? 0) - (b.step ?? 0) || a.timestamp - b.timestamp
    );
  }
  return runs;
}

/** A model a run produced that can be registered. */
export interface IModelCandidate {
  /** Label for people. */
  label: string;
  /** Model URI to register. */
  source: string;
  /** MLflow 3 logged model id, if any. */
  modelId?: string;
  /** Suggested registered-model name (without suffix). */
  name: string;
}

/**
 * The models of a run: MLflow 3 logged models, else MLflow 2's `mlflow.log-model.history` tag.
 *
 * @param run - the run
 * @param logged - logged models whose source run is this run
 * @returns candidates, newest first
 */
export function modelCandidates(
  run: IRun,
  logged: { info: { model_id: string; name: string } }[]
): IModelCandidate[] {
  const candidates: IModelCandidate[] = logged.map(model => ({
    label: `${model.info.name} (${model.info.model_id})`,
    source: `models:/${model.info.model_id}`,
    modelId: model.info.model_id,
    name: model.info.name
  }));
  if (candidates.length > 0) {
    return candidates;
  }
  const history = run.data.tags?.find(
    t => t.key === 'mlflow.log-model.history'
  );
  if (history) {
    try {
      const entries = JSON.parse(history.value) as { artifact_path?: string }[];
      for (const entry of entries.reverse()) {
        if (entry.artifact_path) {
          candidates.push({
            label: entry.artifact_path,
            source: `runs:/${run.info.run_id}/${entry.artifact_path}`,
            name: entry.artifact_path
          });
        }
      }
    } catch {
      // A tag that is not JSON: no candidate from it.
    }
  }
  return candidates;
}

/**
 * Registered-model name suggested for a run's model: `<project name>-<model name>`,
 * lowercase words joined by dashes, without the suffix.
 *
 * @param projectPath - project path
 * @param modelName - logged model name
 * @returns the suggestion
 */
export function suggestedModelName(
  projectPath: string,
  modelName: string
): string {
  const project = projectPath.split('/').pop() ?? projectPath;
  const model = modelName && modelName !== 'model' ? `-${modelName}` : '';
  return `${project}${model}`.toLowerCase().replace(/[^a-z0-9._-]+/g, '-');
}

/**
 * Filter and order projects for the tracking picker: every word of the text must appear in
 * the title or path (case-insensitive); titles sort alphabetically.
 *
 * @param items - catalog items (models)
 * @param text - what the user typed
 * @returns the matching items
 */
export function filterProjects<T extends IStacItemLike>(
  items: T[],
  text: string
): T[] {
  const words = text.toLowerCase().split(/\s+/).filter(Boolean);
  const title = (item: T) => String(item.properties.title ?? item.id);
  return items
    .filter(item => {
      const haystack = `${title(item)} ${item.id}`.toLowerCase();
      return words.every(word => haystack.includes(word));
    })
    .sort((a, b) => title(a).localeCompare(title(b)));
}

/**
 * Values that differ between compared runs, for highlighting.
 *
 * @param runs - the compared runs
 * @param kind - `params` or `metrics`
 * @returns key -> one display value per run, and whether they differ
 */
export function compareRows(
  runs: IRun[],
  kind: 'params' | 'metrics'
): { key: string; values: string[]; differs: boolean }[] {
  const keys = new Set<string>();
  runs.forEach(run => run.data[kind]?.forEach(entry => keys.add(entry.key)));
  return [...keys].sort().map(key => {
    const values = runs.map(run => {
      const entry = (
        run.data[kind] as (IKeyValue | IMetric)[] | undefined
      )?.find(e => e.key === key);
      if (!entry) {
        return '';
      }
      return kind === 'metrics'
        ? metricText((entry as IMetric).value)
        : String(entry.value);
    });
    return { key, values, differs: new Set(values).size > 1 };
  });
}
