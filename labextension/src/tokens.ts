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
}
