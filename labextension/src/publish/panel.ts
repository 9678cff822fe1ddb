import { Contents, ServerConnection } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

import { planPublication, publish, PublishError } from '../api';
import { formatBytes } from '../catalog/describe';
import { CatalogMap } from '../catalog/map';
import { IPublishFieldError, IPublishPlan, IPublishResult } from '../tokens';
import {
  formField,
  IPublishForm,
  MLM_ACCELERATORS,
  MLM_TASKS,
  publishRequest
} from './form';
import { MLflowVersionPicker, PICKER_HTML } from './mlflowPicker';

/** Delay between the last keystroke and the live validation (ms). */
const VALIDATE_DELAY = 600;

/** What the panel needs from the application. */
export interface IPublishPanelOptions {
  /** Server connection settings. */
  serverSettings: ServerConnection.ISettings;
  /** The workspace contents (for the file picker). */
  contents: Contents.IManager;
  /** Open a catalog item in the main area. */
  openItem: (collection: string, id: string) => void;
}

/**
 * The Publish panel: a form with the fields of `jupyter_mlops.publish`, the spatial extent
 * drawn on a map, a workspace file picker, live validation through dry runs, progress while
 * publishing and a link to the new catalog item.
 */
export class PublishPanel extends Widget {
  constructor(private readonly options: IPublishPanelOptions) {
    super();
    this.addClass('jp-mlops-PublishPanel');
    this.node.innerHTML = `
      <div class="jp-mlops-header"><h2 class="jp-mlops-title">Publish to the catalog</h2></div>
      <form class="jp-mlops-publish-form" aria-label="Publish form">
        <fieldset class="jp-mlops-kind"><legend>Kind</legend>
          <label><input type="radio" name="kind" value="model" checked /> Model</label>
          <label><input type="radio" name="kind" value="dataset" /> Dataset</label>
        </fieldset>
        ${field('name', 'Name', '<input class="jp-mod-styled" required placeholder="e.g. Flood mapping U-Net" />')}
        ${field('namespace', 'Namespace', '<input class="jp-mod-styled" placeholder="your own namespace" />')}
        ${field('description', 'Description', '<textarea class="jp-mod-styled" rows="2"></textarea>')}
        ${field(
          'visibility',
          'Visibility',
          `<select class="jp-mod-styled"><option value="">platform default</option>
          <option>private</option><option>internal</option><option>public</option></select>`
        )}
        ${field('license', 'License (SPDX)', '<input class="jp-mod-styled" placeholder="MIT" />')}
        ${field('keywords', 'Keywords', '<input class="jp-mod-styled" placeholder="sentinel-2, flood" />')}
        <div class="jp-mlops-dates">
          ${field('start', 'From', '<input type="date" class="jp-mod-styled" />')}
          ${field('end', 'to', '<input type="date" class="jp-mod-styled" />')}
        </div>
        <div class="jp-mlops-publish-field" data-field="bbox">
          <span class="jp-mlops-label">Spatial extent: draw a box on the map</span>
          <div class="jp-mlops-publish-map" aria-label="Map of the spatial extent"></div>
          <div class="jp-mlops-bbox-status" aria-live="polite">No extent</div>
          <span class="jp-mlops-field-error" role="alert"></span>
        </div>
        <div class="jp-mlops-publish-field" data-field="files">
          <span class="jp-mlops-label">Files</span>
          <ul class="jp-mlops-selected-files" aria-label="Selected files"></ul>
          <div class="jp-mlops-file-browser" aria-label="Workspace files">
            <div class="jp-mlops-cwd"></div>
            <ul class="jp-mlops-file-list"></ul>
          </div>
          <span class="jp-mlops-field-error" role="alert"></span>
        </div>
        ${PICKER_HTML}
        ${field('related', 'Related projects', '<textarea class="jp-mod-styled" rows="2" placeholder="dataset: group/dataset"></textarea>')}
        <fieldset class="jp-mlops-mlm"><legend>Model (STAC MLM)</legend>
          ${field('architecture', 'Architecture', '<input class="jp-mod-styled" placeholder="U-Net, ResNet-50, MLP" />')}
          <div class="jp-mlops-publish-field" data-field="tasks">
            <span class="jp-mlops-label">Tasks</span>
            <div class="jp-mlops-tasks">${MLM_TASKS.map(
              task =>
                `<label><input type="checkbox" value="${task}" /> ${task}</label>`
            ).join('')}</div>
            <span class="jp-mlops-field-error" role="alert"></span>
          </div>
          ${field('framework', 'Framework', '<input class="jp-mod-styled" placeholder="from the ONNX file" />')}
          ${field('frameworkVersion', 'Framework version', '<input class="jp-mod-styled" placeholder="2.3.0" />')}
          ${field(
            'accelerator',
            'Accelerator',
            `<select class="jp-mod-styled"><option value="">default (amd64)</option>${MLM_ACCELERATORS.map(
              a => `<option>${a}</option>`
            ).join('')}</select>`
          )}
        </fieldset>
        <div class="jp-mlops-field-error jp-mlops-general-error" data-for="general" role="alert"></div>
        <div class="jp-mlops-publish-plan" aria-live="polite"></div>
        <button type="submit" class="jp-mlops-publish-button jp-mod-styled jp-mod-accept">Publish</button>
        <progress class="jp-mlops-publish-progress" max="1" value="0" hidden></progress>
        <div class="jp-mlops-publish-status" role="status" aria-live="polite"></div>
        <div class="jp-mlops-publish-result" hidden></div>
      </form>
    `;
    const form = this.query<HTMLFormElement>('form');
    form.addEventListener('submit', event => {
      event.preventDefault();
      void this.publish();
    });
    form.addEventListener('input', () => this.scheduleValidation());
    form.addEventListener('change', () => {
      this.query('.jp-mlops-mlm').hidden = this.kind() !== 'model';
      this.scheduleValidation();
    });
    this.mlflowPicker = new MLflowVersionPicker(
      this.query('.jp-mlops-mlflow-picker'),
      options.serverSettings,
      () => this.scheduleValidation(0)
    );
    this.map = new CatalogMap(this.query('.jp-mlops-publish-map'), {
      select: () => undefined,
      bbox: bbox => {
        this.bbox = bbox;
        this.query('.jp-mlops-bbox-status').textContent = bbox
          ? `Box ${bbox.map(v => v.toFixed(2)).join(', ')}`
          : 'No extent';
        this.scheduleValidation(0);
      }
    });
  }

  /** The current form values. */
  get values(): IPublishForm {
    const value = (name: string) =>
      this.query<HTMLInputElement>(`[data-field="${name}"] .jp-mod-styled`)
        .value;
    return {
      kind: this.kind(),
      name: value('name'),
      namespace: value('namespace'),
      description: value('description'),
      visibility: value('visibility'),
      license: value('license'),
      keywords: value('keywords'),
      start: value('start'),
      end: value('end'),
      related: value('related'),
      files: [...this.files],
      mlflowModel: this.mlflowPicker.value.model,
      mlflowProject: this.mlflowPicker.value.project,
      bbox: this.bbox,
      architecture: value('architecture'),
      tasks: Array.from(
        this.node.querySelectorAll<HTMLInputElement>(
          '.jp-mlops-tasks input:checked'
        )
      ).map(box => box.value),
      framework: value('framework'),
      frameworkVersion: value('frameworkVersion'),
      accelerator: value('accelerator')
    };
  }

  /** The last valid plan, if any. */
  get plan(): IPublishPlan | null {
    return this.lastPlan;
  }

  /** List a workspace folder in the file picker. */
  async browse(path = ''): Promise<void> {
    this.cwd = path;
    const list = this.query('.jp-mlops-file-list');
    this.query('.jp-mlops-cwd').textContent = `/${path}`;
    let listing: Contents.IModel;
    try {
      listing = await this.options.contents.get(path, { content: true });
    } catch (error) {
      list.replaceChildren(entry(`Cannot list ${path}: ${error}`));
      return;
    }
    const rows: HTMLElement[] = [];
    if (path) {
      const up = entry('..', 'jp-mlops-folder');
      up.addEventListener('click', () => {
        void this.browse(path.split('/').slice(0, -1).join('/'));
      });
      rows.push(up);
    }
    const children = (listing.content as Contents.IModel[])
      .filter(child => !child.name.startsWith('.'))
      .sort(
        (a, b) =>
          Number(b.type === 'directory') - Number(a.type === 'directory') ||
          a.name.localeCompare(b.name)
      );
    for (const child of children) {
      const row = entry('');
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.checked = this.files.has(child.path);
      box.setAttribute('aria-label', `Publish ${child.path}`);
      box.addEventListener('change', () =>
        this.toggleFile(child.path, box.checked)
      );
      const name = document.createElement('span');
      name.textContent =
        child.type === 'directory' ? `${child.name}/` : child.name;
      if (child.type === 'directory') {
        name.classList.add('jp-mlops-folder');
        name.addEventListener('click', () => void this.browse(child.path));
      }
      row.append(box, ' ', name);
      rows.push(row);
    }
    list.replaceChildren(...rows);
  }

  /** Validate now (a dry run) and show the plan or the errors. */
  async validate(): Promise<IPublishPlan | null> {
    const body = publishRequest(this.values);
    const serial = ++this.serial;
    if (!body.name) {
      this.showErrors([{ field: 'name', message: 'A name is required.' }]);
      return null;
    }
    try {
      const plan = await planPublication(this.options.serverSettings, body);
      if (serial === this.serial) {
        this.showErrors([]);
        this.showPlan(plan);
      }
      return plan;
    } catch (error) {
      if (serial === this.serial) {
        this.showPlan(null);
        this.showErrors(fieldErrors(error));
      }
      return null;
    }
  }

  /** Publish the form's contents, showing progress, then a link to the item. */
  async publish(): Promise<IPublishResult | null> {
    const plan = await this.validate();
    if (!plan) {
      return null;
    }
    const button = this.query<HTMLButtonElement>('.jp-mlops-publish-button');
    const progress = this.query<HTMLProgressElement>(
      '.jp-mlops-publish-progress'
    );
    const status = this.query('.jp-mlops-publish-status');
    const resultBox = this.query('.jp-mlops-publish-result');
    button.disabled = true;
    progress.hidden = false;
    progress.removeAttribute('value');
    resultBox.hidden = true;
    try {
      const result = await publish(
        this.options.serverSettings,
        publishRequest(this.values),
        event => {
          if (event.total) {
            progress.max = event.total;
            progress.value = event.done ?? 0;
            status.textContent = `Uploading ${formatBytes(event.done ?? 0)} of ${formatBytes(event.total)}`;
          } else if (event.message) {
            status.textContent = event.message;
          }
        }
      );
      status.textContent = `${result.created ? 'Created' : 'Updated'} ${result.path}: ${
        result.committed.length
      } file(s) written, ${result.unchanged.length} unchanged.`;
      this.showResult(result);
      return result;
    } catch (error) {
      status.textContent = '';
      this.showErrors(fieldErrors(error));
      return null;
    } finally {
      button.disabled = false;
      progress.hidden = true;
    }
  }

  protected onAfterShow(): void {
    this.map.refreshSize();
    if (this.cwd === null) {
      void this.browse('');
    }
    void this.mlflowPicker.loadProjects();
  }

  protected onResize(): void {
    this.map.refreshSize();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    if (this.debounce !== null) {
      clearTimeout(this.debounce);
    }
    this.map.dispose();
    super.dispose();
  }

  private kind(): 'model' | 'dataset' {
    return this.node.querySelector<HTMLInputElement>(
      'input[name="kind"]:checked'
    )?.value === 'dataset'
      ? 'dataset'
      : 'model';
  }

  private toggleFile(path: string, on: boolean): void {
    if (on) {
      this.files.add(path);
    } else {
      this.files.delete(path);
    }
    const list = this.query('.jp-mlops-selected-files');
    list.replaceChildren(
      ...[...this.files].sort().map(file => {
        const row = entry(file);
        const remove = document.createElement('button');
        remove.type = 'button';
        remove.className = 'jp-mlops-remove-file jp-mod-styled';
        remove.textContent = '×';
        remove.setAttribute('aria-label', `Remove ${file}`);
        remove.addEventListener('click', () => {
          this.toggleFile(file, false);
          void this.browse(this.cwd ?? '');
        });
        row.append(' ', remove);
        return row;
      })
    );
    this.scheduleValidation(0);
  }

  private scheduleValidation(delay = VALIDATE_DELAY): void {
    if (this.debounce !== null) {
      clearTimeout(this.debounce);
    }
    this.debounce = window.setTimeout(() => {
      this.debounce = null;
      void this.validate();
    }, delay);
  }

  private showErrors(errors: IPublishFieldError[]): void {
    this.node
      .querySelectorAll('.jp-mlops-field-error')
      .forEach(node => (node.textContent = ''));
    this.node
      .querySelectorAll('.jp-mod-invalid')
      .forEach(node => node.classList.remove('jp-mod-invalid'));
    for (const error of errors) {
      const name = formField(error);
      const holder =
        this.node.querySelector(`[data-field="${name}"]`) ??
        this.node.querySelector('.jp-mlops-mlm');
      const target =
        name === 'general' || !holder
          ? this.query('.jp-mlops-general-error')
          : (holder.querySelector('.jp-mlops-field-error') ??
            this.query('.jp-mlops-general-error'));
      holder?.classList.add('jp-mod-invalid');
      target.textContent =
        name === 'general' ? error.message : `${error.field}: ${error.message}`;
    }
  }

  private showPlan(plan: IPublishPlan | null): void {
    this.lastPlan = plan;
    const box = this.query('.jp-mlops-publish-plan');
    if (!plan) {
      box.replaceChildren();
      return;
    }
    const title = document.createElement('p');
    title.className = 'jp-mlops-plan-title';
    title.textContent = `Valid: ${plan.path} in ${plan.collection} (${plan.visibility}), ${formatBytes(
      plan.total_size
    )}${plan.lfs_size ? `, ${formatBytes(plan.lfs_size)} through Git LFS` : ''}`;
    const list = document.createElement('ul');
    list.className = 'jp-mlops-plan-files';
    for (const file of plan.files) {
      list.append(
        entry(
          `${file.path} (${formatBytes(file.size)}${file.lfs ? ', LFS' : ''})`
        )
      );
    }
    box.replaceChildren(title, list);
  }

  private showResult(result: IPublishResult): void {
    const box = this.query('.jp-mlops-publish-result');
    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'jp-mlops-open-published jp-mod-styled';
    open.textContent = `Open ${result.path} in the catalog`;
    open.addEventListener('click', () =>
      this.options.openItem(result.collection, result.path)
    );
    const parts: Node[] = [open];
    if (result.web_url) {
      const link = document.createElement('a');
      link.href = result.web_url;
      link.target = '_blank';
      link.rel = 'noopener';
      link.textContent = 'GitLab project';
      parts.push(document.createTextNode(' '), link);
    }
    box.replaceChildren(...parts);
    box.hidden = false;
  }

  private query<T extends HTMLElement = HTMLElement>(selector: string): T {
    return this.node.querySelector(selector) as T;
  }

  /** The MLflow model version picker. */
  readonly mlflowPicker: MLflowVersionPicker;
  private readonly map: CatalogMap;
  private readonly files = new Set<string>();
  private bbox: number[] | null = null;
  private cwd: string | null = null;
  private debounce: number | null = null;
  private serial = 0;
  private lastPlan: IPublishPlan | null = null;
}

/** A labelled form control with its error slot; `data-field` names it. */
function field(name: string, label: string, control: string): string {
  return `<label class="jp-mlops-publish-field" data-field="${name}">
    <span class="jp-mlops-label">${label}</span>${control}
    <span class="jp-mlops-field-error" role="alert"></span></label>`;
}

function entry(text: string, className = ''): HTMLLIElement {
  const item = document.createElement('li');
  item.textContent = text;
  if (className) {
    item.className = className;
  }
  return item;
}

/** Field errors of a failed call (one general error when the server named no field). */
function fieldErrors(error: unknown): IPublishFieldError[] {
  if (error instanceof PublishError && error.errors.length) {
    return error.errors;
  }
  return [{ field: 'general', message: (error as Error).message }];
}
