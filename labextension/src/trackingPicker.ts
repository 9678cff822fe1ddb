/**
 * The project picker of one-click tracking: the user's `ai-model` projects from the catalog,
 * searchable, and the experiment name (the ` (<project id>)` suffix is added for the user).
 */

import { Dialog, showDialog } from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

import { nextPage, searchCatalog } from './api';
import { filterProjects } from './experiments/logic';
import { IStacItem } from './tokens';

/** Most projects listed (pages of the catalog are followed up to this). */
export const PICKER_LIMIT = 500;

/** What the user chose. */
export interface ITrackingChoice {
  /** Project path. */
  project: string;
  /** Experiment name without suffix. */
  experiment: string;
}

/** The dialog body: search box, project list, experiment name. */
class PickerBody extends Widget {
  constructor(
    experiment: string,
    private readonly createProject: (() => void) | null
  ) {
    super();
    this.addClass('jp-mlops-TrackingPicker');
    this.node.innerHTML = `
      <input class="jp-mlops-picker-search jp-mod-styled" type="search"
        aria-label="Search projects" placeholder="Search your model projects" />
      <div class="jp-mlops-picker-status" role="status">Loading projects…</div>
      <ul class="jp-mlops-picker-list" role="listbox" aria-label="Model projects"></ul>
      <label class="jp-mlops-picker-experiment-label">Experiment
        <input class="jp-mlops-picker-experiment jp-mod-styled" type="text" /></label>
      <div class="jp-mlops-picker-note">The project id is added to the name for you.</div>`;
    this.experimentInput.value = experiment;
    this.searchInput.addEventListener('input', () => this.renderList());
    if (this.createProject) {
      const create = document.createElement('button');
      create.type = 'button';
      create.className = 'jp-mlops-picker-create jp-mod-styled';
      create.textContent = 'Create a model project…';
      create.addEventListener('click', () => this.createProject?.());
      this.node.append(create);
    }
  }

  get searchInput(): HTMLInputElement {
    return this.node.querySelector(
      '.jp-mlops-picker-search'
    ) as HTMLInputElement;
  }

  get experimentInput(): HTMLInputElement {
    return this.node.querySelector(
      '.jp-mlops-picker-experiment'
    ) as HTMLInputElement;
  }

  setItems(items: IStacItem[], error?: string): void {
    this.items = items;
    const status = this.node.querySelector(
      '.jp-mlops-picker-status'
    ) as HTMLElement;
    status.textContent =
      error ?? `${items.length} model project${items.length === 1 ? '' : 's'}`;
    this.renderList();
  }

  getValue(): ITrackingChoice | null {
    if (!this.chosen) {
      return null;
    }
    return {
      project: this.chosen,
      experiment: this.experimentInput.value.trim()
    };
  }

  private renderList(): void {
    const list = this.node.querySelector(
      '.jp-mlops-picker-list'
    ) as HTMLElement;
    list.replaceChildren();
    for (const item of filterProjects(this.items, this.searchInput.value)) {
      const li = document.createElement('li');
      li.className = 'jp-mlops-picker-project';
      li.setAttribute('role', 'option');
      li.tabIndex = 0;
      li.dataset.project = item.id;
      li.setAttribute('aria-selected', String(item.id === this.chosen));
      const title = document.createElement('span');
      title.className = 'jp-mlops-picker-title';
      title.textContent = item.properties.title ?? item.id;
      const path = document.createElement('span');
      path.className = 'jp-mlops-picker-path';
      path.textContent = item.id;
      li.append(title, path);
      const choose = () => {
        this.chosen = item.id;
        list
          .querySelectorAll('[aria-selected]')
          .forEach(node =>
            node.setAttribute('aria-selected', String(node === li))
          );
      };
      li.addEventListener('click', choose);
      li.addEventListener('keydown', event => {
        if (event.key === ' ' || event.key === 'Enter') {
          event.preventDefault();
          choose();
        }
      });
      list.append(li);
    }
  }

  private items: IStacItem[] = [];
  private chosen: string | null = null;
}

/**
 * The `ai-model` projects the user sees in the catalog (pages followed up to a limit).
 *
 * @param settings - server connection settings
 * @returns the items
 */
export async function modelProjects(
  settings: ServerConnection.ISettings
): Promise<IStacItem[]> {
  let page = await searchCatalog(settings, {
    collections: ['ai-model'],
    limit: 100
  });
  const items = [...page.features];
  while (items.length < PICKER_LIMIT) {
    const next = await nextPage(settings, page);
    if (!next || next.features.length === 0) {
      break;
    }
    items.push(...next.features);
    page = next;
  }
  return items;
}

/**
 * Ask which project (and experiment) a notebook should log to.
 *
 * @param settings - server connection settings
 * @param experiment - default experiment name (the notebook's name)
 * @param createProject - opens the publish panel to create a project, when available
 * @param title - dialog title
 * @param action - label of the accept button
 * @returns the choice, or null when cancelled
 */
export async function pickTrackingProject(
  settings: ServerConnection.ISettings,
  experiment: string,
  createProject: (() => void) | null,
  title = 'Track this notebook with MLflow',
  action = 'Start tracking'
): Promise<ITrackingChoice | null> {
  const body = new PickerBody(experiment, createProject);
  modelProjects(settings).then(
    items => body.setItems(items),
    error => body.setItems([], (error as Error).message)
  );
  const answer = await showDialog({
    title,
    body,
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: action })],
    focusNodeSelector: '.jp-mlops-picker-search'
  });
  return answer.button.accept ? answer.value : null;
}
