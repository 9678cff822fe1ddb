/**
 * Pure state logic of the catalog panel: from form values to search parameters, paging,
 * and the summary line. No DOM and no Leaflet here, so jest tests it directly.
 */

import {
  IPagingState,
  ISearchForm,
  ISearchParams,
  ISearchResult
} from '../tokens';

/** Sort choices offered to the user: `sortby` value and label (empty = server order). */
export const SORT_OPTIONS: [string, string][] = [
  ['', 'Relevance'],
  ['properties.title', 'Title (A–Z)'],
  ['-properties.updated', 'Recently updated'],
  ['-properties.start_datetime', 'Newest data'],
  ['properties.start_datetime', 'Oldest data']
];

/** An empty search form. */
export function emptyForm(collections: string[] = []): ISearchForm {
  return { text: '', collections, bbox: null, start: '', end: '', sort: '' };
}

/**
 * STAC `datetime` for a date range; an open side becomes `..`.
 *
 * @param start - start date `YYYY-MM-DD` or empty
 * @param end - end date `YYYY-MM-DD` or empty
 * @returns the interval, or undefined when both sides are open
 */
export function datetimeRange(start: string, end: string): string | undefined {
  const from = start.trim();
  const to = end.trim();
  if (!from && !to) {
    return undefined;
  }
  const left = from ? `${from}T00:00:00Z` : '..';
  const right = to ? `${to}T23:59:59Z` : '..';
  return `${left}/${right}`;
}

/**
 * Validate the form; the first problem found, as a message for the user.
 *
 * @param form - form values
 * @returns an error message, or null when the form can be searched
 */
export function formError(form: ISearchForm): string | null {
  if (form.start && form.end && form.start > form.end) {
    return 'The start date is after the end date.';
  }
  if (form.bbox) {
    const [w, s, e, n] = form.bbox;
    if (![w, s, e, n].every(Number.isFinite) || s > n) {
      return 'The bounding box is not valid.';
    }
  }
  return null;
}

/**
 * Round a bounding box to 6 decimals and clamp it to WGS84.
 *
 * @param bbox - `[minx, miny, maxx, maxy]`, corners in any order
 * @returns a normalized bbox
 */
export function normalizeBbox(bbox: number[]): number[] {
  const clamp = (v: number, lo: number, hi: number) =>
    Math.round(Math.max(lo, Math.min(hi, v)) * 1e6) / 1e6;
  const [x1, y1, x2, y2] = bbox;
  return [
    clamp(Math.min(x1, x2), -180, 180),
    clamp(Math.min(y1, y2), -90, 90),
    clamp(Math.max(x1, x2), -180, 180),
    clamp(Math.max(y1, y2), -90, 90)
  ];
}

/**
 * Turn form values into search parameters.
 *
 * @param form - form values
 * @param pageSize - results per page
 * @returns the parameters of the first page
 */
export function buildSearchParams(
  form: ISearchForm,
  pageSize: number
): ISearchParams {
  const params: ISearchParams = { limit: pageSize };
  if (form.collections.length > 0) {
    params.collections = [...form.collections];
  }
  if (form.text.trim()) {
    params.q = form.text.trim();
  }
  if (form.bbox) {
    params.bbox = normalizeBbox(form.bbox);
  }
  const datetime = datetimeRange(form.start, form.end);
  if (datetime) {
    params.datetime = datetime;
  }
  if (form.sort) {
    params.sortby = form.sort;
  }
  return params;
}

/**
 * Build the query string of a catalog search.
 *
 * @param params - search parameters
 * @returns the encoded query, without `?`
 */
export function searchQuery(params: ISearchParams): string {
  const query = new URLSearchParams();
  if (params.collections && params.collections.length > 0) {
    query.set('collections', params.collections.join(','));
  }
  if (params.bbox) {
    query.set('bbox', params.bbox.map(v => String(v)).join(','));
  }
  if (params.q && params.q.trim()) {
    query.set('q', params.q.trim());
  }
  if (params.datetime) {
    query.set('datetime', params.datetime);
  }
  if (params.sortby) {
    query.set('sortby', params.sortby);
  }
  if (params.limit) {
    query.set('limit', String(params.limit));
  }
  return query.toString();
}

/**
 * The query of a page's `next` link (already pointed at the proxy route by the server).
 *
 * @param result - a page of results
 * @returns `?...` to append to `catalog/search`, or null at the end
 */
export function nextQuery(result: ISearchResult): string | null {
  const next = result.links.find(link => link.rel === 'next');
  if (!next) {
    return null;
  }
  const at = next.href.indexOf('?');
  return at >= 0 ? next.href.slice(at) : '';
}

/**
 * Fold a page into the paging state; items already shown are not repeated.
 *
 * @param state - the current state, or null for a first page
 * @param page - the page received
 * @returns the new state
 */
export function applyPage(
  state: IPagingState | null,
  page: ISearchResult
): IPagingState {
  const ids = state ? [...state.ids] : [];
  const seen = new Set(ids);
  for (const item of page.features) {
    if (!seen.has(item.id)) {
      seen.add(item.id);
      ids.push(item.id);
    }
  }
  const matched =
    typeof page.numberMatched === 'number'
      ? page.numberMatched
      : (state?.matched ?? null);
  return { ids, matched, hasMore: nextQuery(page) !== null };
}

/**
 * The summary line: "N matched, showing M".
 *
 * @param state - paging state
 * @returns display text
 */
export function summaryText(state: IPagingState): string {
  const shown = state.ids.length;
  if (shown === 0) {
    return 'No results';
  }
  return state.matched !== null
    ? `${state.matched} matched, showing ${shown}`
    : `Showing ${shown}`;
}
