import { IModelVersion } from '../experiments/types';
import { IPublishFieldError, IPublishRequest } from '../tokens';

/** What the user has entered in the publish form; pure data, turned into a request. */
export interface IPublishForm {
  kind: 'model' | 'dataset';
  name: string;
  namespace: string;
  description: string;
  visibility: string;
  license: string;
  keywords: string;
  start: string;
  end: string;
  /** Related project paths, one per line, optionally `collection: path`. */
  related: string;
  files: string[];
  /** `models:/<name>/<version>` or ''. */
  mlflowModel: string;
  /** Project whose MLflow holds `mlflowModel`, or ''. */
  mlflowProject: string;
  bbox: number[] | null;
  architecture: string;
  tasks: string[];
  framework: string;
  frameworkVersion: string;
  accelerator: string;
}

/** MLM tasks (STAC MLM v1.5 enumeration). */
export const MLM_TASKS = [
  'classification',
  'scene-classification',
  'regression',
  'segmentation',
  'semantic-segmentation',
  'instance-segmentation',
  'object-detection',
  'detection',
  'similarity-search',
  'super-resolution',
  'generative'
];

/** MLM accelerators (STAC MLM v1.5 enumeration). */
export const MLM_ACCELERATORS = [
  'amd64',
  'cuda',
  'xla',
  'amd-rocm',
  'intel-ipex-cpu',
  'intel-ipex-gpu',
  'macos-arm'
];

const splitList = (text: string): string[] =>
  text
    .split(/[,\n]/)
    .map(part => part.trim())
    .filter(Boolean);

/**
 * Turn the form into the body of `POST /jupyter-mlops/publish` (empty fields left out).
 *
 * @param form - the form values
 * @returns the request body
 */
export function publishRequest(form: IPublishForm): IPublishRequest {
  const body: IPublishRequest = { name: form.name.trim(), kind: form.kind };
  const text: [keyof IPublishRequest, string][] = [
    ['namespace', form.namespace],
    ['description', form.description],
    ['visibility', form.visibility],
    ['license', form.license],
    ['mlflow_model', form.mlflowModel],
    ['mlflow_project', form.mlflowProject]
  ];
  for (const [key, value] of text) {
    if (value.trim()) {
      (body as unknown as Record<string, string>)[key] = value.trim();
    }
  }
  const keywords = splitList(form.keywords);
  if (keywords.length) {
    body.keywords = keywords;
  }
  if (form.start || form.end) {
    body.temporal = [form.start || null, form.end || null];
  }
  if (form.bbox) {
    body.bbox = form.bbox.map(value => Math.round(value * 1e6) / 1e6);
  }
  if (form.files.length) {
    body.files = [...form.files];
  }
  const related: Record<string, string[]> = {};
  for (const line of form.related.split('\n')) {
    const entry = line.trim();
    if (!entry) {
      continue;
    }
    const match = /^([a-z-]+)\s*:\s*(.+)$/.exec(entry);
    const collection = match ? match[1] : 'dataset';
    const path = match ? match[2].trim() : entry;
    (related[collection] ??= []).push(path);
  }
  if (Object.keys(related).length) {
    body.related = related;
  }
  if (form.kind === 'model') {
    const mlm: Record<string, unknown> = {};
    if (form.architecture.trim()) {
      mlm.architecture = form.architecture.trim();
    }
    if (form.tasks.length) {
      mlm.tasks = [...form.tasks];
    }
    if (form.framework.trim()) {
      mlm.framework = form.framework.trim();
    }
    if (form.frameworkVersion.trim()) {
      mlm.framework_version = form.frameworkVersion.trim();
    }
    if (form.accelerator) {
      mlm.accelerator = form.accelerator;
    }
    body.mlm = mlm;
  }
  return body;
}

/**
 * The form control a server-side field error belongs to (`mlm.tasks[0]` -> `tasks`).
 *
 * @param error - a field error of the publish route
 * @returns the `data-field` name of the form control, or `general`
 */
export function formField(error: IPublishFieldError): string {
  const head = error.field.split(/[.[]/)[0];
  if (head === 'mlm') {
    const key = error.field.slice(4).split(/[.[]/)[0];
    const mapping: Record<string, string> = {
      architecture: 'architecture',
      tasks: 'tasks',
      framework: 'framework',
      framework_version: 'frameworkVersion',
      accelerator: 'accelerator'
    };
    return mapping[key] ?? 'mlm';
  }
  const mapping: Record<string, string> = {
    bbox: 'bbox',
    geometry: 'bbox',
    temporal: 'start',
    files: 'files',
    mlflow_model: 'mlflowModel',
    mlflow_project: 'mlflowModel',
    related: 'related',
    keywords: 'keywords',
    name: 'name',
    path: 'name',
    namespace: 'namespace',
    visibility: 'visibility',
    license: 'license',
    description: 'description'
  };
  return mapping[head] ?? 'general';
}

/**
 * Label of a version in the list: number, aliases, status when not ready, date.
 *
 * @param version - the model version
 * @returns e.g. `v3 · @champion · 2026-11-27`
 */
export function versionLabel(version: IModelVersion): string {
  const parts = [`v${version.version}`];
  for (const alias of version.aliases ?? []) {
    parts.push(`@${alias}`);
  }
  if (version.status && version.status !== 'READY') {
    parts.push(version.status.toLowerCase().replace(/_/g, ' '));
  }
  if (version.creation_timestamp) {
    parts.push(new Date(version.creation_timestamp).toISOString().slice(0, 10));
  }
  return parts.join(' · ');
}

/**
 * `models:/<name>/<version>` for a chosen registered model and version.
 *
 * @param name - registered model name (with its project suffix)
 * @param version - version number
 * @returns the model URI, or '' when either is missing
 */
export function modelReference(name: string, version: string): string {
  return name && version ? `models:/${name}/${version}` : '';
}
