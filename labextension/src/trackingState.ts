/**
 * Pure logic of one-click tracking: the Python code sent to a kernel, reading its answer, and
 * the status bar text. No DOM and no JupyterLab: tested with jest.
 */

import { displayName } from './experiments/logic';
import { ITrackingState } from './experiments/types';

/** MIME type of the state document the kernel answers. */
export const TRACKING_MIME = 'application/vnd.jupyter-mlops.tracking+json';

/** The kernel-side module. */
const MODULE = 'jupyter_mlops.notebook_tracking';

/** Expression evaluated after each tracking call (no import side effect when unused). */
export const STATE_EXPRESSION = `__import__('${MODULE}').notebook_tracking.state()`;

/**
 * A Python string literal for any text (JSON string syntax is valid Python).
 *
 * @param text - the text
 * @returns the literal
 */
export function pythonString(text: string): string {
  return JSON.stringify(text);
}

/**
 * Code that starts tracking in a kernel.
 *
 * @param project - project path
 * @param experiment - experiment name without suffix (empty: the project's name)
 * @returns Python code
 */
export function startCode(project: string, experiment: string): string {
  const name = experiment.trim() ? pythonString(experiment.trim()) : 'None';
  return `__import__('${MODULE}').notebook_tracking.start(${pythonString(project)}, ${name})`;
}

/** Code that stops tracking in a kernel. */
export const STOP_CODE = `__import__('${MODULE}').notebook_tracking.stop()`;

/**
 * Read the tracking state from an execute reply's `user_expressions`.
 *
 * @param content - the execute reply content
 * @returns the state
 * @throws {Error} with the Python error name and message when the code or expression failed
 */
export function stateFromReply(content: IExpressionReply): ITrackingState {
  return userExpressionData<ITrackingState>(content, 'state', TRACKING_MIME);
}

/** The content of an execute reply that evaluated user expressions. */
export interface IExpressionReply {
  status: string;
  ename?: string;
  evalue?: string;
  user_expressions?: { [key: string]: unknown };
}

/**
 * The `mime` data of user expression `key` in an execute reply.
 *
 * @param content - the execute reply content
 * @param key - the user expression's name
 * @param mime - the MIME type
 * @returns the document
 * @throws {Error} with the Python error name and message when the code or expression failed
 */
export function userExpressionData<T>(
  content: IExpressionReply,
  key: string,
  mime: string
): T {
  if (content.status !== 'ok') {
    throw new Error(kernelError(content.ename, content.evalue));
  }
  const result = content.user_expressions?.[key] as
    | {
        status: string;
        data?: { [mime: string]: unknown };
        ename?: string;
        evalue?: string;
      }
    | undefined;
  if (!result || result.status !== 'ok' || !result.data?.[mime]) {
    throw new Error(kernelError(result?.ename, result?.evalue));
  }
  return result.data[mime] as T;
}

/**
 * A sentence for a failed kernel call.
 *
 * @param ename - Python error name
 * @param evalue - Python error message
 * @returns the message
 */
export function kernelError(ename?: string, evalue?: string): string {
  if (ename === 'ModuleNotFoundError' || ename === 'ImportError') {
    return (
      "jupyter-mlops (with MLflow) is not installed in this notebook's kernel: run " +
      '"%pip install jupyter-mlops[tracking]" in the notebook, then try again.'
    );
  }
  return evalue
    ? `${ename ?? 'Error'}: ${evalue}`
    : 'The kernel could not configure tracking.';
}

/**
 * One line for the status bar.
 *
 * @param state - a kernel's state
 * @returns e.g. `MLflow: demo/model › land cover › run bright-fox (RUNNING)`
 */
export function statusText(state: ITrackingState | null): string {
  if (!state?.active) {
    return '';
  }
  const parts = [`MLflow: ${state.project}`];
  if (state.experiment) {
    parts.push(displayName(state.experiment));
  }
  if (state.run_id) {
    parts.push(
      `run ${state.run_name ?? state.run_id.slice(0, 8)} (${state.run_status ?? '?'})`
    );
  }
  return parts.join(' › ');
}
