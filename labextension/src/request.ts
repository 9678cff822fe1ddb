import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { API_NAMESPACE } from './tokens';

/**
 * Error of a call to the server extension, with the stable JSON error shape.
 */
export class MLOpsResponseError extends ServerConnection.ResponseError {
  /**
   * @param response - the failed response
   * @param message - human message from the `{message, reason}` body
   * @param reason - stable machine word from the body
   */
  constructor(
    response: Response,
    message: string,
    readonly reason: string
  ) {
    super(response, message);
  }
}

/**
 * Call a route of the jupyter-mlops server extension.
 *
 * @param endPoint - path under `<baseUrl>/jupyter-mlops/`, with its query string
 * @param serverSettings - the server connection settings of the application
 * @param init - fetch options
 * @returns the decoded JSON body
 * @throws {MLOpsResponseError} when the server answers an error status
 * @throws {ServerConnection.NetworkError} when the server cannot be reached
 */
export async function requestAPI<T>(
  endPoint: string,
  serverSettings: ServerConnection.ISettings,
  init: RequestInit = {}
): Promise<T> {
  const url = URLExt.join(serverSettings.baseUrl, API_NAMESPACE, endPoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, serverSettings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }
  const text = await response.text();
  let data: unknown = text;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      // Not JSON (e.g. an HTML error page): keep a short excerpt only.
      data = text.slice(0, 200);
    }
  }
  if (!response.ok) {
    const body = (typeof data === 'object' && data) || {};
    const message =
      (body as { message?: string }).message ??
      `HTTP ${response.status} ${response.statusText}`;
    const reason = (body as { reason?: string }).reason ?? 'error';
    throw new MLOpsResponseError(response, message, reason);
  }
  return data as T;
}
