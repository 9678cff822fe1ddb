/**
 * The experiments panel: a project's MLflow experiments, runs table (MLflow search syntax for
 * filter and sort), metric charts of several runs, run comparison, artifacts with download to
 * the workspace, and the model registry (register a run's model, aliases, versions).
 * Everything goes through the server extension's MLflow proxy; the browser never sees a token.
 */

import { Dialog, showDialog } from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

import { getDownload, startDownload } from '../api';
import { element as el } from '../dom';
import { MLOpsResponseError } from '../request';
import { IPlatformInfo } from '../tokens';
import { MetricChart } from './chart';
import {
  byRun,
  compareRows,
  displayName,
  durationText,
  IModelCandidate,
  ISortKey,
  metricText,
  modelCandidates,
  orderByClause,
  projectName,
  runColumns,
  suggestedModelName,
  userTags
} from './logic';
import {
  IArtifact,
  IExperiment,
  IRegisteredModel,
  IRun,
  ProjectMLflow
} from './mlflow';

/** How often runs are refreshed while one of them is running, in ms. */
export const LIVE_REFRESH_MS = 2000;

/** What the panel needs from the application. */
export interface IExperimentsPanelOptions {
  /** Server connection settings. */
  serverSettings: ServerConnection.ISettings;
  /** Platform description (MLflow URL for artifact downloads), once known. */
  info: () => IPlatformInfo | null;
  /** Ask the user for a project (the tracking picker); null when cancelled. */
  pickProject: () => Promise<{ path: string; id: number } | null>;
  /** A file arrived in the workspace. */
  downloaded: (path: string) => void;
}

/**
 * One project's experiments, in the main area.
 */
export class ExperimentsPanel extends Widget {
  /**
   * @param options - application hooks
   */
  constructor(private readonly options: IExperimentsPanelOptions) {
    super();
    this.id = 'jupyter-mlops-experiments';
    this.addClass('jp-mlops-ExperimentsPanel');
    this.title.label = 'Experiments';
    this.title.caption = 'MLflow experiments, runs and models';
    this.title.closable = true;
    this.node.innerHTML = `
      <header class="jp-mlops-exp-header">
        <h2 class="jp-mlops-exp-title">Experiments</h2>
        <span class="jp-mlops-exp-project" aria-live="polite"></span>
        <button type="button" class="jp-mlops-exp-pick jp-mod-styled">Change project…</button>
        <button type="button" class="jp-mlops-exp-refresh jp-mod-styled">Refresh</button>
      </header>
      <div class="jp-mlops-message" role="alert" hidden></div>
      <div class="jp-mlops-exp-body">
        <nav class="jp-mlops-exp-side">
          <h3>Experiments</h3>
          <ul class="jp-mlops-exp-list" aria-label="Experiments"></ul>
          <h3>Registered models</h3>
          <ul class="jp-mlops-models" aria-label="Registered models"></ul>
        </nav>
        <div class="jp-mlops-exp-main">
          <form class="jp-mlops-runs-search" role="search" aria-label="Run search">
            <input class="jp-mlops-runs-filter jp-mod-styled" type="search"
              aria-label="Filter runs (MLflow search syntax)"
              placeholder="metrics.accuracy > 0.9 and params.C = '1.0'" />
            <button type="submit" class="jp-mlops-runs-apply jp-mod-styled">Filter</button>
            <span class="jp-mlops-runs-summary" aria-live="polite"></span>
          </form>
          <div class="jp-mlops-runs-wrap">
            <table class="jp-mlops-runs" aria-label="Runs"></table>
          </div>
          <section class="jp-mlops-chart-section">
            <div class="jp-mlops-chart-controls">
              <label>Metric <select class="jp-mlops-chart-metric jp-mod-styled"
                aria-label="Metric to chart"></select></label>
              <label>X axis <select class="jp-mlops-chart-axis jp-mod-styled" aria-label="X axis">
                <option value="step">Step</option><option value="time">Time</option>
              </select></label>
              <span class="jp-mlops-chart-hint">Tick runs to overlay them; drag to zoom.</span>
            </div>
            <div class="jp-mlops-chart" aria-label="Metric history chart"></div>
          </section>
          <section class="jp-mlops-compare" hidden></section>
          <section class="jp-mlops-run-detail" hidden></section>
        </div>
      </div>`;
    this.chart = new MetricChart(this.query('.jp-mlops-chart'), window => {
      this.zoom = window;
      void this.drawChart(window === null);
    });
    this.query('form').addEventListener('submit', event => {
      event.preventDefault();
      void this.loadRuns();
    });
    this.query('.jp-mlops-exp-refresh').addEventListener('click', () => {
      void this.refresh();
    });
    this.query('.jp-mlops-exp-pick').addEventListener('click', () => {
      void this.options.pickProject().then(project => {
        if (project) {
          void this.showProject(project.path, project.id);
        }
      });
    });
    for (const selector of ['.jp-mlops-chart-metric', '.jp-mlops-chart-axis']) {
      this.query(selector).addEventListener('change', () => {
        this.zoom = null;
        void this.drawChart(true);
      });
    }
  }

  /** The project shown, if any. */
  get project(): string | null {
    return this.mlflow?.project ?? null;
  }

  /**
   * Show a project; optionally select an experiment by name.
   *
   * @param path - project path
   * @param projectId - GitLab project id (names get ` (<id>)`)
   * @param experiment - full experiment name to select
   */
  async showProject(
    path: string,
    projectId: number,
    experiment?: string
  ): Promise<void> {
    if (this.mlflow?.project !== path) {
      this.mlflow = new ProjectMLflow(this.options.serverSettings, path);
      this.experimentId = null;
      this.selected.clear();
      this.detailRun = null;
    }
    this.projectId = projectId;
    this.wantedExperiment = experiment ?? this.wantedExperiment;
    this.query('.jp-mlops-exp-project').textContent = path;
    this.title.label = `Experiments: ${path.split('/').pop()}`;
    await this.refresh();
  }

  /** Reload experiments, runs, chart and models. */
  async refresh(): Promise<void> {
    if (!this.mlflow) {
      this.message('Choose a project to see its experiments.');
      return;
    }
    try {
      this.experiments = await this.mlflow.experiments();
    } catch (error) {
      this.message((error as Error).message);
      return;
    }
    this.message('');
    const wanted = this.experiments.find(e => e.name === this.wantedExperiment);
    if (wanted) {
      this.experimentId = wanted.experiment_id;
      this.wantedExperiment = null;
    }
    if (!this.experiments.some(e => e.experiment_id === this.experimentId)) {
      this.experimentId = this.experiments[0]?.experiment_id ?? null;
    }
    this.renderExperiments();
    await Promise.all([this.loadRuns(), this.loadModels()]);
  }

  protected onResize(): void {
    this.chart.resize();
  }

  dispose(): void {
    this.stopLive();
    this.chart.destroy();
    super.dispose();
  }

  private renderExperiments(): void {
    const list = this.query('.jp-mlops-exp-list');
    list.replaceChildren();
    if (this.experiments.length === 0) {
      list.append(
        el('li', 'jp-mlops-empty', 'No experiment yet: track a notebook.')
      );
    }
    for (const experiment of this.experiments) {
      const button = el(
        'button',
        'jp-mlops-exp-item',
        displayName(experiment.name)
      );
      button.title = experiment.name;
      button.dataset.experimentId = experiment.experiment_id;
      button.setAttribute(
        'aria-pressed',
        String(experiment.experiment_id === this.experimentId)
      );
      button.addEventListener('click', () => {
        this.experimentId = experiment.experiment_id;
        this.selected.clear();
        this.detailRun = null;
        this.renderExperiments();
        void this.loadRuns();
      });
      const li = el('li', '');
      li.append(button);
      list.append(li);
    }
  }

  /** Search the runs of the selected experiment (filter and order by MLflow). */
  private async loadRuns(): Promise<void> {
    const mlflow = this.mlflow;
    if (!mlflow || !this.experimentId) {
      this.runs = [];
      this.renderRuns();
      return;
    }
    const filter = this.query<HTMLInputElement>(
      '.jp-mlops-runs-filter'
    ).value.trim();
    try {
      this.runs = await mlflow.runs(
        this.experimentId,
        filter,
        this.sort ? orderByClause(this.sort) : 'attributes.start_time DESC'
      );
    } catch (error) {
      this.message(
        error instanceof MLOpsResponseError && error.response.status === 400
          ? `Invalid filter: ${error.message}`
          : (error as Error).message
      );
      return;
    }
    this.message('');
    const ids = new Set(this.runs.map(r => r.info.run_id));
    for (const id of [...this.selected]) {
      if (!ids.has(id)) {
        this.selected.delete(id);
      }
    }
    if (this.selected.size === 0 && this.runs.length > 0) {
      this.selected.add(this.runs[0].info.run_id);
    }
    this.renderRuns();
    this.renderCompare();
    await this.drawChart(this.zoom === null);
    if (this.detailRun && ids.has(this.detailRun)) {
      await this.renderDetail(this.detailRun, false);
    }
    this.scheduleLive();
  }

  private renderRuns(): void {
    const table = this.query<HTMLTableElement>('.jp-mlops-runs');
    const columns = runColumns(this.runs);
    const now = Date.now();
    this.query('.jp-mlops-runs-summary').textContent =
      `${this.runs.length} run${this.runs.length === 1 ? '' : 's'}`;
    const head = el('thead', '');
    const row = el('tr', '');
    const header = (label: string, sort: ISortKey | null, cls = '') => {
      const th = el('th', cls);
      if (!sort) {
        th.textContent = label;
        return th;
      }
      const current =
        this.sort?.kind === sort.kind && this.sort.key === sort.key
          ? this.sort
          : null;
      const button = el(
        'button',
        'jp-mlops-sort-header',
        `${label}${current ? (current.desc ? ' ▼' : ' ▲') : ''}`
      );
      button.title = `Sort by ${orderByClause({ ...sort, desc: !current?.desc })}`;
      th.setAttribute(
        'aria-sort',
        current ? (current.desc ? 'descending' : 'ascending') : 'none'
      );
      button.addEventListener('click', () => {
        this.sort = { ...sort, desc: current ? !current.desc : true };
        void this.loadRuns();
      });
      th.append(button);
      return th;
    };
    row.append(
      header('', null, 'jp-mlops-col-select'),
      header('Run', { kind: 'attributes', key: 'run_name', desc: false }),
      header('Status', { kind: 'attributes', key: 'status', desc: false }),
      header('Started', { kind: 'attributes', key: 'start_time', desc: true }),
      header('Duration', null),
      ...columns.params.map(k =>
        header(k, { kind: 'params', key: k, desc: false }, 'jp-mlops-col-param')
      ),
      ...columns.metrics.map(k =>
        header(
          k,
          { kind: 'metrics', key: k, desc: true },
          'jp-mlops-col-metric'
        )
      ),
      header('Tags', null)
    );
    head.append(row);
    const body = el('tbody', '');
    for (const run of this.runs) {
      const tr = el('tr', 'jp-mlops-run');
      tr.dataset.runId = run.info.run_id;
      tr.dataset.status = run.info.status;
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.className = 'jp-mlops-run-select';
      box.checked = this.selected.has(run.info.run_id);
      box.setAttribute(
        'aria-label',
        `Compare ${run.info.run_name ?? run.info.run_id}`
      );
      box.addEventListener('change', () => {
        if (box.checked) {
          this.selected.add(run.info.run_id);
        } else {
          this.selected.delete(run.info.run_id);
        }
        this.renderCompare();
        this.zoom = null;
        void this.drawChart(true);
      });
      const select = el('td', 'jp-mlops-col-select');
      select.append(box);
      const name = el(
        'button',
        'jp-mlops-run-name',
        run.info.run_name ?? run.info.run_id
      );
      name.title = `Details of run ${run.info.run_id}`;
      name.addEventListener(
        'click',
        () => void this.renderDetail(run.info.run_id, true)
      );
      const nameCell = el('td', '');
      nameCell.append(name);
      const value = (
        list: { key: string; value: unknown }[] | undefined,
        key: string
      ) => list?.find(e => e.key === key)?.value;
      tr.append(
        select,
        nameCell,
        el(
          'td',
          `jp-mlops-run-status jp-mlops-status-${run.info.status.toLowerCase()}`,
          run.info.status
        ),
        el(
          'td',
          '',
          run.info.start_time
            ? new Date(run.info.start_time).toLocaleString()
            : ''
        ),
        el(
          'td',
          'jp-mlops-run-duration',
          durationText(run.info.start_time, run.info.end_time, now)
        ),
        ...columns.params.map(k =>
          el(
            'td',
            'jp-mlops-col-param',
            String(value(run.data.params, k) ?? '')
          )
        ),
        ...columns.metrics.map(k =>
          el(
            'td',
            'jp-mlops-col-metric',
            metricText(value(run.data.metrics, k) as number | undefined)
          )
        ),
        el(
          'td',
          'jp-mlops-run-tags',
          userTags(run.data.tags)
            .map(t => `${t.key}=${t.value}`)
            .join(', ')
        )
      );
      body.append(tr);
    }
    table.replaceChildren(head, body);
    this.renderMetricChoices(columns.metrics);
  }

  private renderMetricChoices(metrics: string[]): void {
    const select = this.query<HTMLSelectElement>('.jp-mlops-chart-metric');
    const current = select.value;
    select.replaceChildren(...metrics.map(m => new Option(m, m)));
    if (metrics.includes(current)) {
      select.value = current;
    }
  }

  /** Fetch the selected runs' history of the chosen metric and draw it. */
  private async drawChart(resetScales: boolean): Promise<void> {
    const mlflow = this.mlflow;
    const host = this.query('.jp-mlops-chart');
    const metric = this.query<HTMLSelectElement>(
      '.jp-mlops-chart-metric'
    ).value;
    const axis = this.query<HTMLSelectElement>('.jp-mlops-chart-axis').value as
      'step' | 'time';
    const runs = this.runs.filter(r => this.selected.has(r.info.run_id));
    if (!mlflow || !metric || runs.length === 0) {
      this.chart.destroy();
      host.dataset.state = 'empty';
      return;
    }
    host.dataset.state = 'loading';
    const requested = performance.now();
    const ticket = ++this.chartTicket;
    try {
      const steps = axis === 'step' && this.zoom ? this.zoom : undefined;
      const points = await mlflow.history(
        runs.map(r => r.info.run_id),
        metric,
        2500,
        steps
      );
      if (ticket !== this.chartTicket || this.isDisposed) {
        return;
      }
      const grouped = byRun(points);
      this.chart.render(
        {
          metric,
          axis,
          series: runs.map(run => ({
            runId: run.info.run_id,
            label: run.info.run_name ?? run.info.run_id.slice(0, 8),
            points: grouped.get(run.info.run_id) ?? []
          }))
        },
        resetScales
      );
      host.dataset.totalMs = (performance.now() - requested).toFixed(1);
      host.dataset.state = 'ready';
    } catch (error) {
      host.dataset.state = 'error';
      this.message((error as Error).message);
    }
  }

  private renderCompare(): void {
    const section = this.query('.jp-mlops-compare');
    const runs = this.runs.filter(r => this.selected.has(r.info.run_id));
    if (runs.length < 2) {
      section.hidden = true;
      return;
    }
    section.hidden = false;
    const table = el('table', 'jp-mlops-compare-table');
    const head = el('tr', '');
    head.append(el('th', '', ''));
    runs.forEach(r =>
      head.append(el('th', '', r.info.run_name ?? r.info.run_id))
    );
    table.append(head);
    for (const kind of ['params', 'metrics'] as const) {
      for (const entry of compareRows(runs, kind)) {
        const tr = el('tr', entry.differs ? 'jp-mlops-differs' : '');
        tr.append(
          el('th', '', `${kind === 'params' ? 'param' : 'metric'} ${entry.key}`)
        );
        entry.values.forEach(v => tr.append(el('td', '', v)));
        table.append(tr);
      }
    }
    section.replaceChildren(
      el('h3', '', `Comparing ${runs.length} runs`),
      table
    );
  }

  /** A run's artifacts (download to the workspace) and models (register). */
  private async renderDetail(runId: string, focus: boolean): Promise<void> {
    const mlflow = this.mlflow;
    const run = this.runs.find(r => r.info.run_id === runId);
    if (!mlflow || !run) {
      return;
    }
    this.detailRun = runId;
    const section = this.query('.jp-mlops-run-detail');
    section.hidden = false;
    section.dataset.runId = runId;
    let artifacts: IArtifact[] = [];
    let candidates: IModelCandidate[] = [];
    try {
      [artifacts, candidates] = await Promise.all([
        this.allArtifacts(mlflow, runId),
        mlflow
          .loggedModels(run.info.experiment_id, runId)
          .then(models => modelCandidates(run, models))
      ]);
    } catch (error) {
      this.message((error as Error).message);
    }
    const title = el('h3', '', `Run ${run.info.run_name ?? runId}`);
    const models = el('div', 'jp-mlops-run-models');
    if (candidates.length === 0) {
      models.append(el('p', 'jp-mlops-empty', 'This run logged no model.'));
    }
    for (const candidate of candidates) {
      const row = el('div', 'jp-mlops-run-model');
      const register = el(
        'button',
        'jp-mlops-register jp-mod-styled jp-mod-accept',
        'Register model…'
      );
      register.addEventListener(
        'click',
        () => void this.register(run, candidate)
      );
      row.append(el('span', '', `Model ${candidate.label} `), register);
      models.append(row);
    }
    const list = el('ul', 'jp-mlops-artifacts');
    if (artifacts.length === 0) {
      list.append(el('li', 'jp-mlops-empty', 'No artifacts.'));
    }
    for (const artifact of artifacts) {
      list.append(this.renderArtifact(run, artifact));
    }
    section.replaceChildren(title, models, el('h4', '', 'Artifacts'), list);
    if (focus) {
      section.scrollIntoView({ block: 'nearest' });
    }
  }

  /** Files of a run, folders walked (two levels, at most 200 files). */
  private async allArtifacts(
    mlflow: ProjectMLflow,
    runId: string
  ): Promise<IArtifact[]> {
    const files: IArtifact[] = [];
    const walk = async (path: string, depth: number) => {
      for (const entry of await mlflow.artifacts(runId, path)) {
        if (files.length >= 200) {
          return;
        }
        if (entry.is_dir) {
          if (depth < 2) {
            await walk(entry.path, depth + 1);
          }
        } else {
          files.push(entry);
        }
      }
    };
    await walk('', 0);
    return files;
  }

  private renderArtifact(run: IRun, artifact: IArtifact): HTMLElement {
    const li = el('li', 'jp-mlops-artifact');
    li.dataset.path = artifact.path;
    const size = artifact.file_size
      ? ` · ${Number(artifact.file_size).toLocaleString('en-US')} bytes`
      : '';
    const button = el(
      'button',
      'jp-mlops-artifact-download jp-mod-styled',
      'Download to workspace'
    ) as HTMLButtonElement;
    const status = el('span', 'jp-mlops-download-status');
    status.setAttribute('role', 'status');
    button.addEventListener(
      'click',
      () => void this.download(run, artifact, button, status)
    );
    li.append(
      el('span', 'jp-mlops-artifact-path', `${artifact.path}${size} `),
      button,
      status
    );
    return li;
  }

  private async download(
    run: IRun,
    artifact: IArtifact,
    button: HTMLButtonElement,
    status: HTMLElement
  ): Promise<void> {
    const mlflowUrl = this.options.info()?.mlflow_url;
    if (!mlflowUrl || !this.mlflow) {
      status.textContent = 'MLflow is not known yet.';
      return;
    }
    const tracking = `${mlflowUrl.replace(/\/+$/, '')}/${this.mlflow.project
      .split('/')
      .map(encodeURIComponent)
      .join('/')}/tracking/`;
    const href = `${tracking}get-artifact?${new URLSearchParams({
      path: artifact.path,
      run_uuid: run.info.run_id
    }).toString()}`;
    const folder = (run.info.run_name ?? run.info.run_id).replace(
      /[^A-Za-z0-9._-]+/g,
      '-'
    );
    const path = `mlflow-artifacts/${folder}/${artifact.path}`;
    button.disabled = true;
    status.textContent = ' Downloading…';
    try {
      let job = await startDownload(
        this.options.serverSettings,
        href,
        path,
        true
      );
      while (job.status === 'running' && !this.isDisposed) {
        await new Promise(resolve => setTimeout(resolve, 250));
        job = await getDownload(this.options.serverSettings, job.id);
      }
      if (job.status === 'done') {
        status.replaceChildren(
          el('span', 'jp-mlops-download-done', ` Saved to ${job.path}`)
        );
        this.options.downloaded(job.path);
      } else {
        status.textContent = ` ${job.message ?? 'Download failed.'}`;
      }
    } catch (error) {
      status.textContent = ` ${(error as Error).message}`;
    } finally {
      button.disabled = false;
    }
  }

  /** Ask for a name and an alias, then register the run's model. */
  private async register(run: IRun, candidate: IModelCandidate): Promise<void> {
    const mlflow = this.mlflow;
    const projectId = this.projectId;
    if (!mlflow || projectId === null) {
      return;
    }
    const body = new Widget();
    body.addClass('jp-mlops-register-form');
    body.node.innerHTML = `
      <label>Registered model name
        <input class="jp-mlops-register-name jp-mod-styled" type="text" /></label>
      <div class="jp-mlops-register-full"></div>
      <label>Alias (optional)
        <input class="jp-mlops-register-alias jp-mod-styled" type="text" value="champion" /></label>`;
    const name = body.node.querySelector(
      '.jp-mlops-register-name'
    ) as HTMLInputElement;
    const full = body.node.querySelector(
      '.jp-mlops-register-full'
    ) as HTMLElement;
    const alias = body.node.querySelector(
      '.jp-mlops-register-alias'
    ) as HTMLInputElement;
    name.value = suggestedModelName(mlflow.project, candidate.name);
    const preview = () => {
      try {
        full.textContent = `Registered as "${projectName(name.value, projectId)}"`;
      } catch (error) {
        full.textContent = (error as Error).message;
      }
    };
    name.addEventListener('input', preview);
    preview();
    const answer = await showDialog({
      title: `Register the model of run ${run.info.run_name ?? run.info.run_id}`,
      body,
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Register' })],
      focusNodeSelector: '.jp-mlops-register-name'
    });
    if (!answer.button.accept) {
      return;
    }
    const status = this.query('.jp-mlops-run-detail');
    try {
      const fullName = projectName(name.value, projectId);
      const version = await mlflow.register(
        fullName,
        candidate.source,
        run.info.run_id,
        candidate.modelId
      );
      const wantedAlias = alias.value.trim();
      if (wantedAlias) {
        await mlflow.setAlias(fullName, wantedAlias, version.version);
      }
      status.append(
        el(
          'p',
          'jp-mlops-registered',
          `Registered ${displayName(fullName)} version ${version.version}` +
            (wantedAlias ? ` as @${wantedAlias}` : '')
        )
      );
    } catch (error) {
      status.append(el('p', 'jp-mlops-error', (error as Error).message));
    }
    await this.loadModels();
  }

  /** Registered models of the project with their versions and aliases. */
  private async loadModels(): Promise<void> {
    const mlflow = this.mlflow;
    const list = this.query('.jp-mlops-models');
    if (!mlflow) {
      return;
    }
    let models: IRegisteredModel[];
    try {
      models = await mlflow.registeredModels();
    } catch (error) {
      list.replaceChildren(
        el('li', 'jp-mlops-error', (error as Error).message)
      );
      return;
    }
    const items = await Promise.all(
      models.map(async model => {
        const li = el('li', 'jp-mlops-model');
        li.dataset.name = model.name;
        li.append(el('strong', 'jp-mlops-model-name', displayName(model.name)));
        li.title = model.name;
        const aliases = new Map<string, string[]>();
        for (const a of model.aliases ?? []) {
          aliases.set(a.version, [...(aliases.get(a.version) ?? []), a.alias]);
        }
        const versions = await mlflow.versions(model.name).catch(() => []);
        const ul = el('ul', 'jp-mlops-model-versions');
        for (const v of versions) {
          const tags = (aliases.get(v.version) ?? [])
            .map(a => ` @${a}`)
            .join('');
          const vli = el(
            'li',
            'jp-mlops-model-version',
            `v${v.version}${tags}`
          );
          vli.dataset.version = v.version;
          vli.title = `${v.source ?? ''}${v.run_id ? ` · run ${v.run_id}` : ''}`;
          ul.append(vli);
        }
        li.append(ul);
        return li;
      })
    );
    if (items.length === 0) {
      items.push(el('li', 'jp-mlops-empty', 'None yet.'));
    }
    list.replaceChildren(...items);
  }

  /** Refresh while a run is running (the chart grows as training logs). */
  private scheduleLive(): void {
    this.stopLive();
    if (this.isDisposed || !this.runs.some(r => r.info.status === 'RUNNING')) {
      this.node.dataset.live = 'false';
      return;
    }
    this.node.dataset.live = 'true';
    this.liveTimer = setTimeout(() => {
      this.liveTimer = null;
      if (this.isVisible) {
        void this.loadRuns();
      } else {
        this.scheduleLive();
      }
    }, LIVE_REFRESH_MS);
  }

  private stopLive(): void {
    if (this.liveTimer !== null) {
      clearTimeout(this.liveTimer);
      this.liveTimer = null;
    }
  }

  private message(text: string): void {
    const box = this.query('.jp-mlops-message');
    box.textContent = text;
    box.hidden = !text;
  }

  private query<T extends HTMLElement = HTMLElement>(selector: string): T {
    return this.node.querySelector(selector) as T;
  }

  private mlflow: ProjectMLflow | null = null;
  private projectId: number | null = null;
  private experiments: IExperiment[] = [];
  private experimentId: string | null = null;
  private wantedExperiment: string | null = null;
  private runs: IRun[] = [];
  private readonly selected = new Set<string>();
  private sort: ISortKey | null = null;
  private detailRun: string | null = null;
  private zoom: [number, number] | null = null;
  private chartTicket = 0;
  private liveTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly chart: MetricChart;
}
