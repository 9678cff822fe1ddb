import { ServerConnection } from '@jupyterlab/services';

import { MLOpsResponseError, requestAPI } from './request';
import { IPlatformInfo, ISearchParams, ISearchResult } from './tokens';

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
 * Build the query string of a catalog search.
 *
 * @param params - search parameters
 * @returns the encoded query, without `?`
 */
export function searchQuery(params: ISearchParams): string {
  const query = new URLSearchParams();
  if (params.collections && params.collections.length > 0) {
    query.set('collections', params.collections.join(','));
  }
  if (params.bbox) {
    query.set('bbox', params.bbox.map(v => v.toFixed(6)).join(','));
  }
  if (params.q && params.q.trim()) {
    query.set('q', params.q.trim());
  }
  if (params.limit) {
    query.set('limit', String(params.limit));
  }
  return query.toString();
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
  const next = result.links.find(link => link.rel === 'next');
  if (!next) {
    return null;
  }
  const query = next.href.includes('?')
    ? next.href.slice(next.href.indexOf('?'))
    : '';
  return requestAPI<ISearchResult>(`catalog/search${query}`, settings);
}
