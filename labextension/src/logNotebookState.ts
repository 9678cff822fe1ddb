/**
 * Pure logic of "Log this notebook": the Python expressions sent to the kernel
 * (`jupyter_mlops.notebook_logging.simple_variables()` and `.log_notebook(...)`), reading the
 * kernel's answers, and the notebook's path as the kernel sees it. No DOM: tested with jest.
 */

import { pythonString, userExpressionData } from './trackingState';

/** MIME type of the kernel's variable list. */
export const VARIABLES_MIME = 'application/vnd.jupyter-mlops.variables+json';
/** MIME type of the logged run the kernel answers. */
export const LOGGED_MIME = 'application/vnd.jupyter-mlops.logged-run+json';

/** The kernel-side module. */
const MODULE = "__import__('jupyter_mlops.notebook_logging').notebook_logging";

/** Expression listing the kernel's simple variables. */
export const VARIABLES_EXPRESSION = `${MODULE}.simple_variables()`;

/** A kernel variable that can be logged as a parameter. */
export interface IKernelVariable {
  /** Variable name. */
  name: string;
  /** Python type name (`int`, `float`, `str`, `bool`). */
  type: string;
  /** Short repr of its value. */
  repr: string;
}

/** The run the kernel logged (no secret in it). */
export interface ILoggedRun {
  /** Run id. */
  run_id: string;
  /** Run name. */
  run_name: string;
  /** Experiment id. */
  experiment_id: string;
  /** Full experiment name (suffix included). */
  experiment: string;
  /** Project path. */
  project: string;
  /** The run in MLflow's UI. */
  run_url: string;
  /** Artifact paths logged. */
  artifacts: string[];
  /** Parameters logged, name -> value. */
  params: { [name: string]: string };
  /** Git tags logged (empty outside of a repository). */
  git: { [tag: string]: string };
}

/**
 * The expression logging a notebook with the selected variables as parameters.
 *
 * @param path - the notebook's path as the kernel sees it
 * @param names - selected variable names
 * @returns a Python expression
 */
export function logNotebookExpression(path: string, names: string[]): string {
  const params = `[${names.map(pythonString).join(', ')}]`;
  return `${MODULE}.log_notebook(${pythonString(path)}, ${params})`;
}

/**
 * Where the kernel finds a notebook: the server root joined with the notebook's path, or, when
 * the root is unknown, the file name (kernels start in the notebook's directory).
 *
 * @param serverRoot - the server's root directory (page config `serverRoot`), may be empty
 * @param path - the notebook's path relative to the server root
 * @returns the path for the kernel
 */
export function kernelPath(serverRoot: string, path: string): string {
  if (!serverRoot) {
    return path.split('/').pop() ?? path;
  }
  return `${serverRoot.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

/** An execute reply's content, as far as these expressions need it. */
export interface IReplyContent {
  status: string;
  ename?: string;
  evalue?: string;
  user_expressions?: { [key: string]: unknown };
}

/**
 * The JSON document of one MIME type that the `result` user expression evaluated to.
 *
 * @param content - the execute reply content
 * @param mime - the MIME type
 * @returns the document
 * @throws {Error} with the Python error name and message when the expression failed
 */
export function expressionData<T>(content: IReplyContent, mime: string): T {
  return userExpressionData<T>(content, 'result', mime);
}

/**
 * The kernel's simple variables from its reply.
 *
 * @param content - the execute reply content
 * @returns the variables
 */
export function readVariables(content: IReplyContent): IKernelVariable[] {
  return expressionData<{ variables: IKernelVariable[] }>(
    content,
    VARIABLES_MIME
  ).variables;
}

/**
 * The logged run from the kernel's reply.
 *
 * @param content - the execute reply content
 * @returns the run
 */
export function readLoggedRun(content: IReplyContent): ILoggedRun {
  return expressionData<ILoggedRun>(content, LOGGED_MIME);
}

/**
 * The notification text of a logged run.
 *
 * @param run - the run
 * @returns e.g. `Notebook logged as run bright-fox with 2 parameters (git abc1234).`
 */
export function loggedText(run: ILoggedRun): string {
  const count = Object.keys(run.params).length;
  const commit = run.git['mlflow.source.git.commit'];
  const dirty = run.git['jupyter_mlops.git.dirty'] === 'true' ? ', dirty' : '';
  return (
    `Notebook logged as run ${run.run_name} with ${count} parameter` +
    (count === 1 ? '' : 's') +
    (commit ? ` (git ${commit.slice(0, 7)}${dirty})` : '') +
    '.'
  );
}
