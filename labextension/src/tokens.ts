/**
 * Shared identifiers and the shapes of the data exchanged with the server extension.
 */

/** Id of the main plugin; also the key of its settings. */
export const PLUGIN_ID = 'jupyter-mlops:plugin';

/** Namespace of the server extension's REST routes. */
export const API_NAMESPACE = 'jupyter-mlops';

/**
 * Answer of `GET /jupyter-mlops/info`: who we talk to, never a secret.
 */
export interface IPlatformInfo {
  /** Version of the server extension. */
  version: string;
  /** Whether the platform is the embedded local one. */
  embedded: boolean;
  /** Connection state of the platform. */
  status: 'starting' | 'ready' | 'failed' | 'unconfigured';
  /** SharingHub-compatible catalog base URL, or null when unknown. */
  sharinghub_url: string | null;
  /** MLflow base URL, or null when there is none. */
  mlflow_url: string | null;
  /** GitLab base URL, or null when there is none. */
  gitlab_url: string | null;
  /** Why the platform is unavailable, when it is. */
  message?: string;
  /** Set when the frontend and server extension versions differ. */
  version_mismatch?: string;
}

/** One STAC link. */
export interface IStacLink {
  /** Relation type, e.g. `next`. */
  rel: string;
  /** Target URL. */
  href: string;
  /** Media type. */
  type?: string;
  /** Human title. */
  title?: string;
}

/** A STAC item as the catalog returns it. */
export interface IStacItem {
  /** Item id: the project's full path. */
  id: string;
  /** Collection (category) the item was found in. */
  collection?: string;
  /** GeoJSON geometry of the spatial extent, or null. */
  geometry: GeoJSON.Geometry | null;
  /** Bounding box `[minx, miny, maxx, maxy]`, when the item has an extent. */
  bbox?: number[];
  /** STAC properties (title, description, sharinghub:*, mlm:*, ...). */
  properties: { title?: string; description?: string; [key: string]: unknown };
  /** Links. */
  links: IStacLink[];
  /** Assets by key (full items; search previews may omit them). */
  assets?: { [key: string]: IStacAsset };
}

/** One STAC asset. */
export interface IStacAsset {
  /** Download URL (on the platform; the server extension adds the token). */
  href: string;
  /** Human title. */
  title?: string;
  /** Media type. */
  type?: string;
  /** Roles, e.g. `data`, `mlm:model`. */
  roles?: string[];
  /** Size in bytes (file extension). */
  'file:size'?: number;
  /** Other asset fields (mlm:artifact_type, ...). */
  [key: string]: unknown;
}

/** A page of search results. */
export interface ISearchResult {
  /** The items of this page. */
  features: IStacItem[];
  /** Total number of matching items, when the server knows it. */
  numberMatched?: number | null;
  /** Number of items in this page. */
  numberReturned?: number;
  /** Links; `next` points back at the proxy route. */
  links: IStacLink[];
}

/** Parameters of a catalog search (STAC API item search, GET form). */
export interface ISearchParams {
  /** Collection ids; empty means all collections. */
  collections?: string[];
  /** `[minx, miny, maxx, maxy]` in WGS84. */
  bbox?: number[];
  /** Free text. */
  q?: string;
  /** Page size. */
  limit?: number;
  /** STAC datetime: an instant or an interval `start/end`, `..` for an open end. */
  datetime?: string;
  /** Sort fields, e.g. `-properties.datetime` (a leading `-` sorts descending). */
  sortby?: string;
}

/** What the user has entered in the search form; pure data, turned into ISearchParams. */
export interface ISearchForm {
  /** Free text. */
  text: string;
  /** Ticked collections; empty means all. */
  collections: string[];
  /** Drawn bounding box `[minx, miny, maxx, maxy]`, or null. */
  bbox: number[] | null;
  /** Start date `YYYY-MM-DD`, or empty. */
  start: string;
  /** End date `YYYY-MM-DD`, or empty. */
  end: string;
  /** Sort key (see SORT_OPTIONS), or empty for relevance / server order. */
  sort: string;
}

/** Answer of `GET /jupyter-mlops/catalog/check/<project>`: the user's access to a project. */
export interface IAccessCheck {
  /** GitLab project id. */
  id: number;
  /** Project name. */
  name: string;
  /** Project path. */
  path: string;
  /** GitLab-style access level: 1 none/guest ... 4 maintainer. */
  access_level: number;
  /** Categories (collections) of the project. */
  categories: string[];
}

/** A download of a platform file into the workspace (`/jupyter-mlops/downloads`). */
export interface IDownloadJob {
  /** Job id. */
  id: string;
  /** Source href. */
  href?: string;
  /** Workspace-relative target path. */
  path: string;
  /** Job state. */
  status: 'running' | 'done' | 'failed' | 'cancelled';
  /** Bytes written so far. */
  bytes: number;
  /** Total bytes, when known. */
  total: number | null;
  /** Why it failed, when it did. */
  message?: string;
}

/** One row of a readable property table. */
export interface IPropertyRow {
  /** Human label. */
  label: string;
  /** Value as display text. */
  value: string;
}

/** An item another item links to (e.g. `derived_from`). */
export interface IRelatedItem {
  /** Relation type. */
  rel: string;
  /** Collection id. */
  collection: string;
  /** Item id (project path). */
  id: string;
  /** Display title. */
  title: string;
}

/** One asset as the item view lists it. */
export interface IAssetEntry {
  /** Asset key (often the file path in the project). */
  key: string;
  /** Title, or the key. */
  title: string;
  /** Media type. */
  type: string;
  /** Human size, or empty. */
  size: string;
  /** Source href. */
  href: string;
  /** Whether it is an ONNX model (gets an onnxruntime snippet). */
  onnx: boolean;
}

/** Paging state of a result list. */
export interface IPagingState {
  /** Ids of the items shown, in order, without duplicates. */
  ids: string[];
  /** Total matched, when the server knows it. */
  matched: number | null;
  /** Whether another page exists. */
  hasMore: boolean;
}

/** Arguments of the item commands (`jupyter-mlops:open-item`, `jupyter-mlops:insert-item-code`). */
export interface IOpenItemArgs {
  /** Collection id. */
  collection: string;
  /** Item id (project path). */
  id: string;
}

/** Body of `POST /jupyter-mlops/publish`: the keyword arguments of `jupyter_mlops.publish`. */
export interface IPublishRequest {
  /** Display name (the project path defaults to its slug). */
  name: string;
  /** `model` or `dataset`. */
  kind: 'model' | 'dataset';
  /** Group or user namespace; empty for the user's own. */
  namespace?: string;
  /** One-line description. */
  description?: string;
  /** `private`, `internal` or `public`; empty for the platform's default. */
  visibility?: string;
  /** SPDX licence id. */
  license?: string;
  /** `[west, south, east, north]`. */
  bbox?: number[];
  /** `[start, end]` ISO dates (either may be null). */
  temporal?: (string | null)[];
  /** Keywords. */
  keywords?: string[];
  /** Related projects by collection, e.g. `{dataset: 'group/data'}`. */
  related?: Record<string, string[]>;
  /** Workspace-relative files and folders. */
  files?: string[];
  /** `models:/<name>/<version>`. */
  mlflow_model?: string;
  /** Project whose MLflow holds `mlflow_model` (default: the published project). */
  mlflow_project?: string;
  /** MLM fields without prefix (architecture, tasks, framework, accelerator...). */
  mlm?: Record<string, unknown>;
  /** Validate and answer the plan only. */
  dry_run?: boolean;
}

/** One file of a publication plan. */
export interface IPlannedFile {
  /** Path in the project. */
  path: string;
  /** Size in bytes. */
  size: number;
  /** Whether it goes through Git LFS. */
  lfs: boolean;
}

/** Answer of a dry run: what would be published. */
export interface IPublishPlan {
  /** Project path (the item id). */
  path: string;
  /** Collection of the item. */
  collection: string;
  /** Visibility the project will have. */
  visibility: string;
  /** The STAC item the catalog will show. */
  item: IStacItem;
  /** Files with sizes. */
  files: IPlannedFile[];
  /** Bytes in all. */
  total_size: number;
  /** Bytes through Git LFS. */
  lfs_size: number;
}

/** One progress report of a publication. */
export interface IPublishEvent {
  /** Step: validate, check, project, compare, lfs, commit, index, done. */
  step: string;
  /** A sentence (empty for byte progress). */
  message: string;
  /** Bytes done, for transfers. */
  done: number | null;
  /** Bytes in all, for transfers. */
  total: number | null;
}

/** What a publication did. */
export interface IPublishResult {
  /** Project path (the item id). */
  path: string;
  /** Collection of the item. */
  collection: string;
  /** Project page on GitLab, when there is one. */
  web_url: string | null;
  /** Whether the project was created (else updated). */
  created: boolean;
  /** Files written by this run. */
  committed: string[];
  /** Files already up to date. */
  unchanged: string[];
}

/** A 400 of the publish route: the first bad field and all errors. */
export interface IPublishFieldError {
  /** Field name, e.g. `mlm.tasks[0]` or `bbox`. */
  field: string;
  /** What is wrong. */
  message: string;
}
