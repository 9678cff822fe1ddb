import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { MLOpsResponseError, requestAPI } from './request';
import { nextQuery, searchQuery } from './catalog/state';
import {
  API_NAMESPACE,
  IAccessCheck,
  IDownloadJob,
  IPlatformInfo,
  IPublishEvent,
  IPublishFieldError,
  IPublishPlan,
  IPublishRequest,
  IPublishResult,
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

/**
 * Validate a publication and get its plan (item, files, sizes); nothing is uploaded.
 *
 * @param settings - server connection settings
 * @param body - the publication
 * @returns the plan
 * @throws {PublishError} when a field is invalid (its `errors` name the fields)
 */
export async function planPublication(
  settings: ServerConnection.ISettings,
  body: IPublishRequest
): Promise<IPublishPlan> {
  const response = await publishRequest(settings, { ...body, dry_run: true });
  return (await response.json()) as IPublishPlan;
}

/**
 * Publish, reporting progress events as they stream in.
 *
 * @param settings - server connection settings
 * @param body - the publication
 * @param onEvent - called with each progress event
 * @returns what the publication did
 * @throws {PublishError} when it is refused or fails
 */
export async function publish(
  settings: ServerConnection.ISettings,
  body: IPublishRequest,
  onEvent: (event: IPublishEvent) => void
): Promise<IPublishResult> {
  const response = await publishRequest(settings, body, {
    Accept: 'application/x-ndjson'
  });
  let result: IPublishResult | undefined;
  let failure: { message: string; reason: string } | undefined;
  await readLines(response, line => {
    const data = JSON.parse(line) as {
      event?: IPublishEvent;
      result?: IPublishResult;
      error?: { message: string; reason: string };
    };
    if (data.event) {
      onEvent(data.event);
    }
    result = data.result ?? result;
    failure = data.error ?? failure;
  });
  if (result) {
    return result;
  }
  throw new PublishError(
    failure?.message ?? 'The publication ended without a result.',
    failure?.reason ?? 'error',
    []
  );
}

/** A refused or failed publication; `errors` name invalid fields. */
export class PublishError extends Error {
  constructor(
    message: string,
    readonly reason: string,
    readonly errors: IPublishFieldError[]
  ) {
    super(message);
  }
}

async function publishRequest(
  settings: ServerConnection.ISettings,
  body: IPublishRequest,
  headers: Record<string, string> = {}
): Promise<Response> {
  const url = URLExt.join(settings.baseUrl, API_NAMESPACE, 'publish');
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(
      url,
      { method: 'POST', body: JSON.stringify(body), headers },
      settings
    );
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }
  if (!response.ok) {
    let data: {
      message?: string;
      reason?: string;
      errors?: IPublishFieldError[];
    } = {};
    try {
      data = await response.json();
    } catch {
      // not JSON: keep the status line
    }
    throw new PublishError(
      data.message ?? `HTTP ${response.status} ${response.statusText}`,
      data.reason ?? 'error',
      data.errors ?? []
    );
  }
  return response;
}

/** Read a streamed body line by line, as the lines arrive. */
async function readLines(
  response: Response,
  onLine: (line: string) => void
): Promise<void> {
  if (!response.body) {
    (await response.text()).split('\n').filter(Boolean).forEach(onLine);
    return;
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) {
      break;
    }
    buffer += decoder.decode(value, { stream: true });
    let newline = buffer.indexOf('\n');
    while (newline >= 0) {
      const line = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      if (line) {
        onLine(line);
      }
      newline = buffer.indexOf('\n');
    }
  }
  if (buffer.trim()) {
    onLine(buffer.trim());
  }
}
