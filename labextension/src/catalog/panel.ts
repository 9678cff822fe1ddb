import { ServerConnection } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

import {
  MissingServerExtensionError,
  getInfo,
  nextPage,
  searchCatalog
} from '../api';
import { IPlatformInfo, ISearchResult, IStacItem } from '../tokens';
import { CatalogMap } from './map';

/** User preferences of the panel (from the settings registry). */
export interface ICatalogOptions {
  /** Results per page. */
  pageSize: number;
  /** Collections selected when the panel opens. */
  defaultCollections: string[];
  /** Optional tile URL template for the map. */
  tileUrl: string;
}

/** Collections offered as toggles: id and label. */
const COLLECTIONS: [string, string][] = [
  ['ai-model', 'Models'],
  ['dataset', 'Datasets']
];

/**
 * The catalog sidebar: a search form, a map of footprints and a result list.
 */
export class CatalogPanel extends Widget {
  /**
   * @param serverSettings - server connection settings
   * @param version - frontend version, for the handshake
   * @param options - user preferences
   */
  constructor(
    private readonly serverSettings: ServerConnection.ISettings,
    private readonly version: string,
    private options: ICatalogOptions
  ) {
    super();
    this.addClass('jp-mlops-CatalogPanel');
    this.node.innerHTML = `
      <div class="jp-mlops-header">
        <h2 class="jp-mlops-title">MLOps catalog</h2>
        <div class="jp-mlops-platform" role="status"></div>
      </div>
      <form class="jp-mlops-search" role="search" aria-label="Catalog search">
        <input class="jp-mlops-text jp-mod-styled" type="search"
          aria-label="Search text" placeholder="Search models and datasets" />
        <fieldset class="jp-mlops-collections">
          <legend>Collections</legend>
        </fieldset>
        <label class="jp-mlops-inview">
          <input type="checkbox" class="jp-mlops-inview-toggle" /> Only in map view
        </label>
        <button type="submit" class="jp-mlops-search-button jp-mod-styled jp-mod-accept">
          Search
        </button>
      </form>
      <div class="jp-mlops-message" role="alert" hidden></div>
      <div class="jp-mlops-map" aria-label="Map of results"></div>
      <div class="jp-mlops-summary" aria-live="polite"></div>
      <ul class="jp-mlops-results" aria-label="Search results"></ul>
      <button type="button" class="jp-mlops-more jp-mod-styled" hidden>Load more</button>
    `;
    const fieldset = this.query('.jp-mlops-collections');
    for (const [id, label] of COLLECTIONS) {
      const wrapper = document.createElement('label');
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.value = id;
      box.checked = options.defaultCollections.includes(id);
      wrapper.append(box, ` ${label}`);
      fieldset.append(wrapper);
    }
    this.query('form').addEventListener('submit', event => {
      event.preventDefault();
      void this.search();
    });
    this.query('.jp-mlops-more').addEventListener('click', () => {
      void this.loadMore();
    });
    this.map = new CatalogMap(this.query('.jp-mlops-map'), id =>
      this.select(id, false)
    );
    this.map.setTileUrl(options.tileUrl);
  }

  /** Apply new preferences. */
  configure(options: ICatalogOptions): void {
    this.options = options;
    this.map.setTileUrl(options.tileUrl);
  }

  /** Ask the server extension for the platform; retry while it starts. */
  async connect(): Promise<IPlatformInfo | null> {
    const status = this.query('.jp-mlops-platform');
    try {
      const info = await getInfo(this.serverSettings, this.version);
      if (info.status === 'starting') {
        status.textContent = 'Starting the local platform…';
        await new Promise(resolve => setTimeout(resolve, 1000));
        return this.connect();
      }
      if (info.status !== 'ready') {
        this.showMessage(info.message ?? 'The platform is unavailable.');
        status.textContent = 'Platform unavailable';
        return info;
      }
      status.textContent = info.embedded
        ? 'Local demo platform'
        : `Platform: ${info.sharinghub_url}`;
      if (info.version_mismatch) {
        this.showMessage(info.version_mismatch);
      }
      return info;
    } catch (error) {
      status.textContent = 'Not connected';
      this.showMessage(
        error instanceof MissingServerExtensionError
          ? error.message
          : `Cannot reach the jupyter-mlops server extension: ${(error as Error).message}`
      );
      return null;
    }
  }

  /** Run a search with the current form values. */
  async search(): Promise<void> {
    const collections = Array.from(
      this.node.querySelectorAll<HTMLInputElement>(
        '.jp-mlops-collections input:checked'
      )
    ).map(box => box.value);
    const inView = this.query<HTMLInputElement>(
      '.jp-mlops-inview-toggle'
    ).checked;
    this.showMessage('');
    this.setBusy(true);
    try {
      const result = await searchCatalog(this.serverSettings, {
        collections,
        q: this.query<HTMLInputElement>('.jp-mlops-text').value,
        bbox: inView ? this.map.viewBbox() : undefined,
        limit: this.options.pageSize
      });
      this.items = [];
      this.render(result, false);
      if (!inView) {
        this.map.fitToResults();
      }
    } catch (error) {
      this.showMessage((error as Error).message);
    } finally {
      this.setBusy(false);
    }
  }

  /** Fetch and append the next page. */
  async loadMore(): Promise<void> {
    if (!this.last) {
      return;
    }
    this.setBusy(true);
    try {
      const result = await nextPage(this.serverSettings, this.last);
      if (result) {
        this.render(result, true);
      }
    } catch (error) {
      this.showMessage((error as Error).message);
    } finally {
      this.setBusy(false);
    }
  }

  protected onAfterShow(): void {
    this.map.refreshSize();
  }

  protected onResize(): void {
    this.map.refreshSize();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.map.dispose();
    super.dispose();
  }

  private render(result: ISearchResult, append: boolean): void {
    this.last = result;
    this.items = append ? [...this.items, ...result.features] : result.features;
    this.map.showItems(result.features, append);
    const list = this.query('.jp-mlops-results');
    if (!append) {
      list.replaceChildren();
    }
    for (const item of result.features) {
      list.append(this.renderItem(item));
    }
    const matched = result.numberMatched;
    const shown = this.items.length;
    this.query('.jp-mlops-summary').textContent =
      shown === 0
        ? 'No results'
        : matched !== undefined && matched !== null
          ? `${matched} matched, showing ${shown}`
          : `Showing ${shown}`;
    this.query('.jp-mlops-more').hidden = !result.links.some(
      link => link.rel === 'next'
    );
  }

  private renderItem(item: IStacItem): HTMLLIElement {
    const entry = document.createElement('li');
    entry.className = 'jp-mlops-result';
    entry.dataset.itemId = item.id;
    entry.tabIndex = 0;
    const title = document.createElement('span');
    title.className = 'jp-mlops-result-title';
    title.textContent = item.properties.title ?? item.id;
    const meta = document.createElement('span');
    meta.className = 'jp-mlops-result-meta';
    meta.textContent = `${item.collection ?? ''} · ${item.id}`;
    entry.append(title, meta);
    entry.addEventListener('click', () => this.select(item.id, true));
    entry.addEventListener('keydown', event => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        this.select(item.id, true);
      }
    });
    entry.addEventListener('mouseenter', () => this.map.highlight(item.id));
    entry.addEventListener('mouseleave', () =>
      this.map.highlight(this.selected)
    );
    return entry;
  }

  private select(id: string, zoom: boolean): void {
    this.selected = id;
    this.map.highlight(id, zoom);
    this.node.querySelectorAll('.jp-mlops-result').forEach(entry => {
      entry.classList.toggle(
        'jp-mod-selected',
        (entry as HTMLElement).dataset.itemId === id
      );
    });
  }

  private showMessage(text: string): void {
    const message = this.query('.jp-mlops-message');
    message.textContent = text;
    message.hidden = !text;
  }

  private setBusy(busy: boolean): void {
    this.node.classList.toggle('jp-mod-busy', busy);
    this.query<HTMLButtonElement>('.jp-mlops-search-button').disabled = busy;
  }

  private query<T extends HTMLElement = HTMLElement>(selector: string): T {
    return this.node.querySelector(selector) as T;
  }

  private readonly map: CatalogMap;
  private items: IStacItem[] = [];
  private last: ISearchResult | null = null;
  private selected: string | null = null;
}
