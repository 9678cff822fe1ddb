/**
 * The MLflow model version picker of the Publish panel: a model project (from the catalog),
 * one of its registered models, one of their versions. The choice becomes `mlflow_model`
 * (`models:/<name>/<version>`) and `mlflow_project` of the publish request; the server reads
 * that version as the user from the project's tracking URI.
 */

import { ServerConnection } from '@jupyterlab/services';

import { displayName } from '../experiments/logic';
import { ProjectMLflow } from '../experiments/mlflow';
import { modelProjects } from '../trackingPicker';
import { modelReference, versionLabel } from './form';

/** What the picker holds for the publish request. */
export interface IMLflowChoice {
  /** `models:/<name>/<version>`, or '' when no version is chosen. */
  model: string;
  /** Path of the project whose MLflow holds it, or ''. */
  project: string;
}

/** The picker; its markup lives in the panel (see `PICKER_HTML`). */
export class MLflowVersionPicker {
  /**
   * @param node - the element holding the picker markup
   * @param settings - server connection settings
   * @param changed - called when the choice changes
   */
  constructor(
    private readonly node: HTMLElement,
    private readonly settings: ServerConnection.ISettings,
    private readonly changed: () => void
  ) {
    this.projectInput.addEventListener('change', () => {
      void this.showProject(this.projectInput.value.trim());
    });
    this.modelSelect.addEventListener('change', () => {
      void this.showModel(this.modelSelect.value);
    });
    this.versionSelect.addEventListener('change', () => this.changed());
  }

  /** The current choice. */
  get value(): IMLflowChoice {
    const model = modelReference(
      this.modelSelect.value,
      this.versionSelect.value
    );
    return { model, project: model ? this.shownProject : '' };
  }

  /** Fill the project suggestions with the user's model projects (once). */
  async loadProjects(): Promise<void> {
    if (this.projectsLoaded) {
      return;
    }
    this.projectsLoaded = true;
    try {
      const items = await modelProjects(this.settings);
      this.query('datalist').replaceChildren(
        ...items.map(item => {
          const option = document.createElement('option');
          option.value = item.id;
          option.label = item.properties.title ?? item.id;
          return option;
        })
      );
    } catch (error) {
      this.projectsLoaded = false;
      this.status(`Cannot list model projects: ${(error as Error).message}`);
    }
  }

  /**
   * List the registered models of a project.
   *
   * @param path - project path; '' clears the picker
   */
  async showProject(path: string): Promise<void> {
    this.shownProject = path;
    const serial = ++this.serial;
    this.fill(this.modelSelect, [], 'No model');
    this.fill(this.versionSelect, [], '');
    this.changed();
    if (!path) {
      this.status('');
      return;
    }
    this.status(`Loading the registered models of ${path}…`);
    this.mlflow = new ProjectMLflow(this.settings, path);
    try {
      const models = await this.mlflow.registeredModels();
      if (serial !== this.serial) {
        return;
      }
      this.fill(
        this.modelSelect,
        models.map(model => [model.name, displayName(model.name)]),
        models.length ? 'Choose a registered model' : 'No model'
      );
      this.status(
        models.length
          ? `${models.length} registered model${models.length === 1 ? '' : 's'} in ${path}`
          : `${path} has no registered model yet.`
      );
    } catch (error) {
      if (serial === this.serial) {
        this.status(
          `Cannot read the models of ${path}: ${(error as Error).message}`
        );
      }
    }
  }

  /**
   * List the versions of a registered model, newest first, and choose the newest.
   *
   * @param name - registered model name; '' clears the versions
   */
  async showModel(name: string): Promise<void> {
    const serial = ++this.serial;
    this.fill(this.versionSelect, [], '');
    this.changed();
    if (!name || !this.mlflow) {
      return;
    }
    try {
      const versions = await this.mlflow.versions(name);
      if (serial !== this.serial) {
        return;
      }
      this.fill(
        this.versionSelect,
        versions.map(version => [version.version, versionLabel(version)]),
        versions.length ? '' : 'No version'
      );
      this.changed();
    } catch (error) {
      if (serial === this.serial) {
        this.status(
          `Cannot read the versions of ${displayName(name)}: ${(error as Error).message}`
        );
      }
    }
  }

  private fill(
    select: HTMLSelectElement,
    options: [string, string][],
    empty: string
  ): void {
    const nodes = options.map(([value, label]) => new Option(label, value));
    if (empty) {
      nodes.unshift(new Option(empty, ''));
    }
    select.replaceChildren(...nodes);
    select.disabled = options.length === 0;
  }

  private status(text: string): void {
    this.query('.jp-mlops-mlflow-status').textContent = text;
  }

  private get projectInput(): HTMLInputElement {
    return this.query<HTMLInputElement>('.jp-mlops-mlflow-project');
  }

  private get modelSelect(): HTMLSelectElement {
    return this.query<HTMLSelectElement>('.jp-mlops-mlflow-model');
  }

  private get versionSelect(): HTMLSelectElement {
    return this.query<HTMLSelectElement>('.jp-mlops-mlflow-version');
  }

  private query<T extends HTMLElement = HTMLElement>(selector: string): T {
    return this.node.querySelector(selector) as T;
  }

  private mlflow: ProjectMLflow | null = null;
  private shownProject = '';
  private projectsLoaded = false;
  private serial = 0;
}

/** The picker's markup, inside the panel's form (`data-field="mlflowModel"`). */
export const PICKER_HTML = `
  <fieldset class="jp-mlops-publish-field jp-mlops-mlflow-picker" data-field="mlflowModel">
    <legend>MLflow model version</legend>
    <input class="jp-mlops-mlflow-project jp-mod-styled" list="jp-mlops-mlflow-projects"
      aria-label="Project whose MLflow has the model" placeholder="model project (group/name)" />
    <datalist id="jp-mlops-mlflow-projects"></datalist>
    <select class="jp-mlops-mlflow-model jp-mod-styled" aria-label="Registered model" disabled>
      <option value="">No model</option></select>
    <select class="jp-mlops-mlflow-version jp-mod-styled" aria-label="Model version" disabled>
    </select>
    <div class="jp-mlops-mlflow-status" aria-live="polite"></div>
    <span class="jp-mlops-field-error" role="alert"></span>
  </fieldset>`;
