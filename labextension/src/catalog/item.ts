/**
 * The item view: one catalog item in the main area, with its description, model and data
 * properties, assets (download to the workspace), related items, MLflow links and the user's
 * access level.
 */

import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import { ServerConnection } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

import {
  cancelDownload,
  checkAccess,
  getDownload,
  getItem,
  startDownload
} from '../api';
import { element } from '../dom';
import { MLOpsResponseError } from '../request';
import {
  IAssetEntry,
  IDownloadJob,
  IPlatformInfo,
  IPropertyRow,
  IStacItem
} from '../tokens';
import {
  accessLabel,
  assetEntries,
  dataRows,
  descriptionBody,
  downloadPath,
  mlflowLinks,
  modelRows,
  relatedItems
} from './describe';
import {
  imageRoute,
  imageUrl,
  previewHref,
  repositoryFile,
  rewriteImages
} from './images';

/** What the item view needs from the application. */
export interface IItemViewOptions {
  /** Server connection settings. */
  serverSettings: ServerConnection.ISettings;
  /** Collection of the item. */
  collection: string;
  /** Item id (project path). */
  id: string;
  /** Markdown renderer (sanitizes untrusted HTML); optional. */
  rendermime: IRenderMimeRegistry | null;
  /** Platform description, once known. */
  info: () => IPlatformInfo | null;
  /** Open another item. */
  openItem: (collection: string, id: string) => void;
  /** Insert a code cell for the item into the active notebook. */
  insertCode: (item: IStacItem) => void;
  /** A file arrived in the workspace. */
  downloaded: (path: string) => void;
}

/** How often a running download is polled, in ms. */
const POLL_MS = 250;

/**
 * One catalog item, shown in the main area.
 */
export class ItemView extends Widget {
  /**
   * @param options - item coordinates and application hooks
   */
  constructor(private readonly options: IItemViewOptions) {
    super();
    this.id = `jp-mlops-item-${options.collection}-${options.id}`.replace(
      /[^A-Za-z0-9_-]/g,
      '-'
    );
    this.addClass('jp-mlops-ItemView');
    this.title.label = options.id;
    this.title.closable = true;
    this.node.tabIndex = -1;
    this.node.innerHTML =
      '<div class="jp-mlops-item-loading" role="status">Loading…</div>';
  }

  /** The loaded item, once available. */
  get item(): IStacItem | null {
    return this._item;
  }

  /** Fetch the item and its access level, then render. */
  async load(): Promise<void> {
    const { serverSettings, collection, id } = this.options;
    try {
      const item = await getItem(serverSettings, collection, id);
      this._item = item;
      this.title.label = item.properties.title ?? item.id;
      this.title.caption = item.id;
      this.render(item);
    } catch (error) {
      this.node.replaceChildren(
        this.el('div', 'jp-mlops-message', (error as Error).message)
      );
      return;
    }
    try {
      const access = await checkAccess(serverSettings, id);
      const badge = this.node.querySelector('.jp-mlops-access');
      if (badge) {
        badge.textContent = accessLabel(access.access_level);
        badge.setAttribute('data-level', String(access.access_level));
        badge.setAttribute(
          'title',
          `Your access: level ${access.access_level}`
        );
      }
    } catch {
      this.node.querySelector('.jp-mlops-access')?.remove();
    }
  }

  dispose(): void {
    for (const timer of this.timers) {
      clearTimeout(timer);
    }
    super.dispose();
  }

  private render(item: IStacItem): void {
    const root = this.el('div', 'jp-mlops-item');
    const header = this.el('header', 'jp-mlops-item-header');
    header.append(
      this.el('h1', 'jp-mlops-item-title', item.properties.title ?? item.id),
      this.el(
        'span',
        'jp-mlops-badge jp-mlops-collection',
        item.collection ?? ''
      ),
      this.el('span', 'jp-mlops-badge jp-mlops-access', '…')
    );
    const actions = this.el('div', 'jp-mlops-item-actions');
    const insert = this.el(
      'button',
      'jp-mlops-insert-code jp-mod-styled jp-mod-accept',
      'Insert code'
    ) as HTMLButtonElement;
    insert.title =
      'Insert a cell that opens this item into the active notebook';
    insert.addEventListener('click', () => this.options.insertCode(item));
    actions.append(insert);
    header.append(this.el('div', 'jp-mlops-item-id', item.id), actions);
    const preview = previewHref(item);
    const previewSrc = preview ? this.proxiedImage(preview, item) : null;
    if (previewSrc) {
      const image = document.createElement('img');
      image.className = 'jp-mlops-item-preview';
      image.alt = 'Preview';
      image.src = previewSrc;
      header.append(image);
    }
    root.append(header);

    const description = this.el('section', 'jp-mlops-item-description');
    root.append(description);
    void this.renderMarkdown(
      description,
      rewriteImages(descriptionBody(item), src => this.proxiedImage(src, item))
    );

    this.appendTable(root, 'Model', 'jp-mlops-model-table', modelRows(item));
    this.appendTable(root, 'Data', 'jp-mlops-data-table', dataRows(item));
    this.appendAssets(root, item);

    const related = relatedItems(item);
    if (related.length > 0) {
      const section = this.section(root, 'Related items', 'jp-mlops-related');
      const list = this.el('ul', 'jp-mlops-related-list');
      for (const entry of related) {
        const link = this.el('button', 'jp-mlops-related-link', entry.title);
        link.title = `${entry.rel}: ${entry.collection} / ${entry.id}`;
        link.addEventListener('click', () =>
          this.options.openItem(entry.collection, entry.id)
        );
        const li = this.el('li', '', `${entry.rel.replace('_', ' ')}: `);
        li.append(link);
        list.append(li);
      }
      section.append(list);
    }

    const gitlab = this.options.info()?.gitlab_url;
    if (gitlab) {
      const section = this.section(root, 'Project', 'jp-mlops-gitlab');
      const link = this.el('a', 'jp-mlops-gitlab-link', 'Open in GitLab');
      link.setAttribute('href', `${gitlab.replace(/\/+$/, '')}/${item.id}`);
      link.setAttribute('target', '_blank');
      link.setAttribute('rel', 'noopener noreferrer');
      section.append(link);
    }

    const links = mlflowLinks(item, this.options.info()?.mlflow_url ?? null);
    if (links.length > 0) {
      const section = this.section(root, 'MLflow', 'jp-mlops-mlflow');
      for (const [label, href] of links) {
        const row = this.el('div', 'jp-mlops-mlflow-link', `${label}: `);
        const code = this.el('code', '', href);
        row.append(code);
        section.append(row);
      }
    }
    this.node.replaceChildren(root);
  }

  private async renderMarkdown(host: HTMLElement, text: string): Promise<void> {
    const rendermime = this.options.rendermime;
    if (!text.trim()) {
      host.append(this.el('p', 'jp-mlops-empty', 'No description.'));
      return;
    }
    if (!rendermime) {
      host.append(this.el('pre', '', text));
      return;
    }
    const renderer = rendermime.createRenderer('text/markdown');
    await renderer.renderModel(
      new MimeModel({ data: { 'text/markdown': text }, trusted: false })
    );
    // Any image the rewrite did not catch (e.g. reference-style) must not load from elsewhere.
    const own = imageRoute(this.options.serverSettings.baseUrl);
    for (const image of Array.from(renderer.node.querySelectorAll('img'))) {
      const src = image.getAttribute('src') ?? '';
      if (!src.startsWith(own) && !src.startsWith('data:image/')) {
        image.replaceWith(document.createTextNode(image.alt));
      }
    }
    host.append(renderer.node);
  }

  /** An image source of the item as a URL on our image route, or null if it may not load. */
  private proxiedImage(src: string, item: IStacItem): string | null {
    if (src.startsWith('data:image/') && !src.startsWith('data:image/svg')) {
      return src;
    }
    const target = repositoryFile(
      src,
      item,
      this.options.info()?.sharinghub_url ?? null
    );
    return target
      ? imageUrl(this.options.serverSettings.baseUrl, target)
      : null;
  }

  private appendTable(
    root: HTMLElement,
    title: string,
    cls: string,
    rows: IPropertyRow[]
  ): void {
    if (rows.length === 0) {
      return;
    }
    const section = this.section(root, title, cls);
    const table = this.el('table', 'jp-mlops-props');
    for (const row of rows) {
      const tr = this.el('tr', '');
      tr.append(this.el('th', '', row.label), this.el('td', '', row.value));
      table.append(tr);
    }
    section.append(table);
  }

  private appendAssets(root: HTMLElement, item: IStacItem): void {
    const assets = assetEntries(item);
    if (assets.length === 0) {
      return;
    }
    const section = this.section(root, 'Assets', 'jp-mlops-assets');
    const list = this.el('ul', 'jp-mlops-asset-list');
    for (const asset of assets) {
      list.append(this.renderAsset(item, asset));
    }
    section.append(list);
  }

  private renderAsset(item: IStacItem, asset: IAssetEntry): HTMLElement {
    const li = this.el('li', 'jp-mlops-asset');
    li.dataset.assetKey = asset.key;
    const meta = [asset.type, asset.size].filter(Boolean).join(' · ');
    li.append(
      this.el('span', 'jp-mlops-asset-title', asset.title),
      this.el(
        'span',
        'jp-mlops-asset-meta',
        `${asset.key}${meta ? ` · ${meta}` : ''}`
      )
    );
    const download = this.el(
      'button',
      'jp-mlops-download jp-mod-styled',
      'Download to workspace'
    ) as HTMLButtonElement;
    const status = this.el('div', 'jp-mlops-download-status');
    status.setAttribute('role', 'status');
    download.addEventListener('click', () => {
      void this.download(item, asset, download, status, false);
    });
    li.append(download, status);
    return li;
  }

  private async download(
    item: IStacItem,
    asset: IAssetEntry,
    button: HTMLButtonElement,
    status: HTMLElement,
    overwrite: boolean
  ): Promise<void> {
    const path = downloadPath(item, asset.key);
    const settings = this.options.serverSettings;
    button.disabled = true;
    status.replaceChildren(
      this.el('span', '', `Starting download to ${path}…`)
    );
    let job: IDownloadJob;
    try {
      job = await startDownload(settings, asset.href, path, overwrite);
    } catch (error) {
      button.disabled = false;
      if (
        error instanceof MLOpsResponseError &&
        error.response.status === 409
      ) {
        const replace = this.el(
          'button',
          'jp-mlops-overwrite jp-mod-styled jp-mod-warn',
          'Overwrite'
        );
        replace.addEventListener('click', () => {
          void this.download(item, asset, button, status, true);
        });
        status.replaceChildren(
          this.el('span', '', `${path} already exists. `),
          replace
        );
      } else {
        status.replaceChildren(
          this.el('span', 'jp-mlops-error', (error as Error).message)
        );
      }
      return;
    }
    const progress = document.createElement('progress');
    progress.className = 'jp-mlops-progress';
    const label = this.el('span', 'jp-mlops-progress-label', '');
    const cancel = this.el(
      'button',
      'jp-mlops-cancel jp-mod-styled',
      'Cancel'
    ) as HTMLButtonElement;
    cancel.addEventListener('click', () => {
      cancel.disabled = true;
      void cancelDownload(settings, job.id).catch(() => undefined);
    });
    status.replaceChildren(progress, label, cancel);
    const show = (current: IDownloadJob) => {
      if (current.total) {
        progress.max = current.total;
        progress.value = current.bytes;
      } else {
        progress.removeAttribute('value');
      }
      label.textContent = ` ${current.bytes.toLocaleString('en-US')} bytes`;
    };
    show(job);
    while (job.status === 'running' && !this.isDisposed) {
      await new Promise<void>(resolve => {
        this.timers.add(setTimeout(resolve, POLL_MS));
      });
      try {
        job = await getDownload(settings, job.id);
      } catch (error) {
        job = { ...job, status: 'failed', message: (error as Error).message };
      }
      show(job);
    }
    button.disabled = false;
    if (job.status === 'done') {
      status.replaceChildren(
        this.el('span', 'jp-mlops-download-done', `Saved to ${job.path}`)
      );
      this.options.downloaded(job.path);
    } else if (job.status === 'cancelled') {
      status.replaceChildren(this.el('span', '', 'Download cancelled.'));
    } else {
      status.replaceChildren(
        this.el('span', 'jp-mlops-error', job.message ?? 'Download failed.')
      );
    }
  }

  private section(root: HTMLElement, title: string, cls: string): HTMLElement {
    const section = this.el('section', `jp-mlops-item-section ${cls}`);
    section.append(this.el('h2', '', title));
    root.append(section);
    return section;
  }

  private el(tag: string, cls: string, text?: string): HTMLElement {
    return element(tag, cls, text);
  }

  private _item: IStacItem | null = null;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
}
