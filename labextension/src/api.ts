import { ServerConnection } from '@jupyterlab/services';

import { MLOpsResponseError, requestAPI } from './request';
import { nextQuery, searchQuery } from './catalog/state';
import {
  IAccessCheck,
  IDownloadJob,
  IPlatformInfo,
  ISearchParams,
  ISearchResult,
  IStacItem
} from './tokens';

export { searchQuery };

/** Encode each segment of a project path, keeping the slashes. */
function pathSegments(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/** Message shown when the server extension does not answer at all. */
export const MISSING_SERVER_EXTENSION =
  'The jupyter-mlops server extension is not installed or not enabled. ' +
  'Install it with "pip install jupyter-mlops", check "jupyter server extension list", ' +
  'then restart JupyterLab.';

/**
 * The server extension is missing (its routes answer 404).
 */
export class MissingServerExtensionError extends Error {
  constructor() {
    super(MISSING_SERVER_EXTENSION);
  }
}

/**
 * Version handshake and platform description.
 *
 * @param settings - server connection settings
 * @param version - version of this frontend
 * @returns the platform information
 * @throws {MissingServerExtensionError} when the server extension is absent
 */
export async function getInfo(
  settings: ServerConnection.ISettings,
  version: string
): Promise<IPlatformInfo> {
  try {
    return await requestAPI<IPlatformInfo>(
      `info?version=${encodeURIComponent(version)}`,
      settings
    );
  } catch (error) {
    if (error instanceof MLOpsResponseError && error.response.status === 404) {
      throw new MissingServerExtensionError();
    }
    throw error;
  }
}

/**
 * Search the catalog through the server extension.
 *
 * @param settings - server connection settings
 * @param params - search parameters
 * @returns one page of results
 */
export async function searchCatalog(
  settings: ServerConnection.ISettings,
  params: ISearchParams
): Promise<ISearchResult> {
  return requestAPI<ISearchResult>(
    `catalog/search?${searchQuery(params)}`,
    settings
  );
}

/**
 * Fetch the next page of a search by following its `next` link, which the server
 * extension has already pointed at its own proxy route.
 *
 * @param settings - server connection settings
 * @param result - the current page
 * @returns the next page, or null at the end
 */
export async function nextPage(
  settings: ServerConnection.ISettings,
  result: ISearchResult
): Promise<ISearchResult | null> {
  const query = nextQuery(result);
  if (query === null) {
    return null;
  }
  return requestAPI<ISearchResult>(`catalog/search${query}`, settings);
}

/**
 * Fetch the full STAC item (search results may be previews).
 *
 * @param settings - server connection settings
 * @param collection - collection id
 * @param id - item id (project path)
 * @returns the item
 */
export async function getItem(
  settings: ServerConnection.ISettings,
  collection: string,
  id: string
): Promise<IStacItem> {
  return requestAPI<IStacItem>(
    `catalog/collections/${encodeURIComponent(collection)}/items/${pathSegments(id)}`,
    settings
  );
}

/**
 * The user's access to a project (the permission badge).
 *
 * @param settings - server connection settings
 * @param project - project path
 * @returns the check result
 */
export async function checkAccess(
  settings: ServerConnection.ISettings,
  project: string
): Promise<IAccessCheck> {
  return requestAPI<IAccessCheck>(
    `catalog/check/${pathSegments(project)}`,
    settings
  );
}

/**
 * Start downloading a platform file into the workspace.
 *
 * @param settings - server connection settings
 * @param href - asset href from an item
 * @param path - workspace-relative target file
 * @param overwrite - replace an existing file (else 409)
 * @returns the running job
 */
export async function startDownload(
  settings: ServerConnection.ISettings,
  href: string,
  path: string,
  overwrite = false
): Promise<IDownloadJob> {
  return requestAPI<IDownloadJob>('downloads', settings, {
    method: 'POST',
    body: JSON.stringify({ href, path, overwrite })
  });
}

/**
 * Progress of a download.
 *
 * @param settings - server connection settings
 * @param id - job id
 * @returns the job
 */
export async function getDownload(
  settings: ServerConnection.ISettings,
  id: string
): Promise<IDownloadJob> {
  return requestAPI<IDownloadJob>(
    `downloads/${encodeURIComponent(id)}`,
    settings
  );
}

/**
 * Cancel a download.
 *
 * @param settings - server connection settings
 * @param id - job id
 * @returns the job, cancelled
 */
export async function cancelDownload(
  settings: ServerConnection.ISettings,
  id: string
): Promise<IDownloadJob> {
  return requestAPI<IDownloadJob>(
    `downloads/${encodeURIComponent(id)}`,
    settings,
    { method: 'DELETE' }
  );
}
