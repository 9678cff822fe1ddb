import { ServerConnection } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

import {
  MissingServerExtensionError,
  getInfo,
  nextPage,
  searchCatalog
} from '../api';
import {
  IPagingState,
  IPlatformInfo,
  ISearchForm,
  ISearchResult,
  IStacItem
} from '../tokens';
import { CatalogMap } from './map';
import {
  SORT_OPTIONS,
  applyPage,
  buildSearchParams,
  formError,
  summaryText
} from './state';

/** User preferences of the panel (from the settings registry). */
export interface ICatalogOptions {
  /** Results per page. */
  pageSize: number;
  /** Collections selected when the panel opens. */
  defaultCollections: string[];
  /** Optional tile URL template for the map. */
  tileUrl: string;
}

/** Delay between the user's last change and the automatic search, in ms. */
export const SEARCH_DEBOUNCE_MS = 400;

/** Most result entries the list shows; the map still draws every footprint. */
export const LIST_LIMIT = 500;

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
   * @param openItem - open an item view (a result opened twice, or its "Open" button)
   */
  constructor(
    private readonly serverSettings: ServerConnection.ISettings,
    private readonly version: string,
    private options: ICatalogOptions,
    private readonly openItem: (collection: string, id: string) => void = () =>
      undefined
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
        <div class="jp-mlops-dates">
          <label>From <input type="date" class="jp-mlops-start jp-mod-styled"
            aria-label="Start date" /></label>
          <label>to <input type="date" class="jp-mlops-end jp-mod-styled"
            aria-label="End date" /></label>
        </div>
        <label class="jp-mlops-sort-label">Sort
          <select class="jp-mlops-sort jp-mod-styled" aria-label="Sort results"></select>
        </label>
        <div class="jp-mlops-bbox-status" aria-live="polite"></div>
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
    const sort = this.query<HTMLSelectElement>('.jp-mlops-sort');
    for (const [value, label] of SORT_OPTIONS) {
      sort.append(new Option(label, value));
    }
    const form = this.query('form');
    form.addEventListener('submit', event => {
      event.preventDefault();
      void this.search();
    });
    // Results follow the form as the user works: typing, ticking, picking dates or a sort.
    form.addEventListener('input', () => this.scheduleSearch());
    form.addEventListener('change', () => this.scheduleSearch());
    this.query('.jp-mlops-more').addEventListener('click', () => {
      void this.loadMore();
    });
    this.map = new CatalogMap(this.query('.jp-mlops-map'), {
      select: id => this.select(id, false),
      hover: id => this.hoverEntry(id),
      bbox: bbox => {
        this.showBbox(bbox);
        this.scheduleSearch(0);
      }
    });
    this.map.setTileUrl(options.tileUrl);
  }

  /** Apply new preferences. */
  configure(options: ICatalogOptions): void {
    this.options = options;
    this.map.setTileUrl(options.tileUrl);
  }

  /** The platform, once the handshake has answered. */
  get info(): IPlatformInfo | null {
    return this._info;
  }

  /** Current form values, as pure data. */
  formValues(): ISearchForm {
    const value = (selector: string) =>
      this.query<HTMLInputElement>(selector).value;
    return {
      text: value('.jp-mlops-text'),
      collections: Array.from(
        this.node.querySelectorAll<HTMLInputElement>(
          '.jp-mlops-collections input:checked'
        )
      ).map(box => box.value),
      bbox: this.map.bbox,
      start: value('.jp-mlops-start'),
      end: value('.jp-mlops-end'),
      sort: value('.jp-mlops-sort')
    };
  }

  /**
   * Search after a pause in the user's changes.
   *
   * @param delay - ms to wait; 0 searches on the next tick
   */
  scheduleSearch(delay = SEARCH_DEBOUNCE_MS): void {
    if (this.debounce !== null) {
      clearTimeout(this.debounce);
    }
    this.debounce = setTimeout(() => {
      this.debounce = null;
      void this.search();
    }, delay);
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
      this._info = info;
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

  /** Run a search with the current form values; a newer search supersedes older ones. */
  async search(): Promise<void> {
    if (this.debounce !== null) {
      clearTimeout(this.debounce);
      this.debounce = null;
    }
    const form = this.formValues();
    const problem = formError(form);
    this.showMessage(problem ?? '');
    if (problem) {
      return;
    }
    const generation = ++this.generation;
    this.setBusy(true);
    try {
      const result = await searchCatalog(
        this.serverSettings,
        buildSearchParams(form, this.options.pageSize)
      );
      if (generation !== this.generation) {
        return;
      }
      this.render(result, false);
      if (!form.bbox) {
        this.map.fitToResults();
      }
    } catch (error) {
      if (generation === this.generation) {
        this.showMessage((error as Error).message);
      }
    } finally {
      if (generation === this.generation) {
        this.setBusy(false);
      }
    }
  }

  /** Fetch and append the next page. */
  async loadMore(): Promise<void> {
    if (!this.last) {
      return;
    }
    const generation = this.generation;
    this.setBusy(true);
    try {
      const result = await nextPage(this.serverSettings, this.last);
      if (result && generation === this.generation) {
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
    if (this.debounce !== null) {
      clearTimeout(this.debounce);
    }
    this.map.dispose();
    super.dispose();
  }

  private render(result: ISearchResult, append: boolean): void {
    this.last = result;
    this.paging = applyPage(append ? this.paging : null, result);
    const known = new Set(append ? this.items.map(item => item.id) : []);
    const fresh = result.features.filter(item => !known.has(item.id));
    this.items = append ? [...this.items, ...fresh] : fresh;
    this.map.showItems(fresh, append);
    const list = this.query('.jp-mlops-results');
    if (!append) {
      list.replaceChildren();
    }
    // The map shows every footprint; the list stops at LIST_LIMIT entries (a server may answer
    // pages far larger than the page size asked for).
    list.querySelector('.jp-mlops-list-more')?.remove();
    const room = Math.max(0, LIST_LIMIT - list.childElementCount);
    const entries = document.createDocumentFragment();
    for (const item of fresh.slice(0, room)) {
      entries.append(this.renderItem(item));
    }
    const hidden = this.items.length - Math.min(this.items.length, LIST_LIMIT);
    if (hidden > 0) {
      const more = document.createElement('li');
      more.className = 'jp-mlops-list-more';
      more.textContent = `${hidden} more on the map; narrow the search to list them.`;
      entries.append(more);
    }
    list.append(entries);
    this.query('.jp-mlops-summary').textContent = summaryText(this.paging);
    this.query('.jp-mlops-more').hidden = !this.paging.hasMore;
  }

  private showBbox(bbox: number[] | null): void {
    this.query('.jp-mlops-bbox-status').textContent = bbox
      ? `In box ${bbox.map(v => v.toFixed(2)).join(', ')}`
      : '';
  }

  private hoverEntry(id: string | null): void {
    this.node.querySelectorAll('.jp-mlops-result').forEach(entry => {
      entry.classList.toggle(
        'jp-mod-hover',
        (entry as HTMLElement).dataset.itemId === id
      );
    });
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
    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'jp-mlops-open jp-mod-styled';
    open.textContent = 'Open';
    open.title = `Open ${title.textContent}`;
    open.tabIndex = -1;
    open.addEventListener('click', event => {
      event.stopPropagation();
      this.open(item);
    });
    entry.append(title, meta, open);
    entry.setAttribute('role', 'button');
    entry.setAttribute(
      'aria-label',
      `${title.textContent}: Enter opens, Space selects`
    );
    entry.addEventListener('click', () => this.select(item.id, true));
    entry.addEventListener('dblclick', () => this.open(item));
    entry.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        event.preventDefault();
        this.open(item);
      } else if (event.key === ' ') {
        event.preventDefault();
        this.select(item.id, true);
      } else if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
        event.preventDefault();
        const sibling =
          event.key === 'ArrowDown'
            ? entry.nextElementSibling
            : entry.previousElementSibling;
        (sibling as HTMLElement | null)?.focus();
      }
    });
    entry.addEventListener('mouseenter', () => this.map.highlight(item.id));
    entry.addEventListener('mouseleave', () =>
      this.map.highlight(this.selected)
    );
    return entry;
  }

  private open(item: IStacItem): void {
    this.select(item.id, false);
    this.openItem(item.collection ?? 'ai-model', item.id);
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
  private paging: IPagingState | null = null;
  private generation = 0;
  private debounce: ReturnType<typeof setTimeout> | null = null;
  private _info: IPlatformInfo | null = null;
}
