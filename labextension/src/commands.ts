/**
 * Command ids of jupyter-mlops, `jupyter-mlops:<verb-noun>`.
 */
export namespace CommandIDs {
  /** Open (reveal) the catalog panel in the left sidebar. */
  export const openCatalog = 'jupyter-mlops:open-catalog';
}
