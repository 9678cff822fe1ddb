/**
 * Command ids of jupyter-mlops, `jupyter-mlops:<verb-noun>`.
 */
export namespace CommandIDs {
  /** Open (reveal) the catalog panel in the left sidebar. */
  export const openCatalog = 'jupyter-mlops:open-catalog';
  /** Open one catalog item in the main area; args {@link IOpenItemArgs}. */
  export const openItem = 'jupyter-mlops:open-item';
  /** Insert a cell opening an item into the active notebook; args {@link IOpenItemArgs}. */
  export const insertItemCode = 'jupyter-mlops:insert-item-code';
  /** Open the Publish panel (publish workspace files as a catalog project). */
  export const openPublish = 'jupyter-mlops:open-publish';
  /** Track the current notebook's MLflow runs in a project (a second call stops). */
  export const trackNotebook = 'jupyter-mlops:track-notebook';
  /** Open the experiments panel; args `{project?, experiment?}`. */
  export const openExperiments = 'jupyter-mlops:open-experiments';
  /** Log the current notebook as an MLflow run (tracking must be active). */
  export const logNotebook = 'jupyter-mlops:log-notebook';
}
