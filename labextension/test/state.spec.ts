import {
  applyPage,
  buildSearchParams,
  datetimeRange,
  emptyForm,
  formError,
  nextQuery,
  normalizeBbox,
  searchQuery,
  summaryText
} from '../src/catalog/state';
import { ISearchResult, IStacItem } from '../src/tokens';

const item = (id: string): IStacItem => ({
  id,
  geometry: null,
  properties: {},
  links: []
});

const page = (
  ids: string[],
  matched: number | null,
  next?: string
): ISearchResult => ({
  features: ids.map(item),
  numberMatched: matched,
  links: next ? [{ rel: 'next', href: next }] : []
});

describe('search parameters from the form', () => {
  it('sends only what the user set', () => {
    // Given an empty form
    // When
    const params = buildSearchParams(emptyForm(), 20);
    // Then
    expect(params).toEqual({ limit: 20 });
    expect(searchQuery(params)).toBe('limit=20');
  });

  it('sends collections, trimmed text, rounded bbox, date range and sort', () => {
    // Given
    const form = {
      text: '  flood ',
      collections: ['dataset', 'ai-model'],
      bbox: [-64.1234567, -13.2, -66.0000001, -15],
      start: '2018-01-01',
      end: '',
      sort: '-properties.updated'
    };
    // When
    const query = new URLSearchParams(searchQuery(buildSearchParams(form, 5)));
    // Then
    expect(query.get('collections')).toBe('dataset,ai-model');
    expect(query.get('q')).toBe('flood');
    expect(query.get('bbox')).toBe('-66,-15,-64.123457,-13.2');
    expect(query.get('datetime')).toBe('2018-01-01T00:00:00Z/..');
    expect(query.get('sortby')).toBe('-properties.updated');
    expect(query.get('limit')).toBe('5');
  });

  it('turns dates into open or closed STAC intervals', () => {
    expect(datetimeRange('', '')).toBeUndefined();
    expect(datetimeRange('', '2020-05-01')).toBe('../2020-05-01T23:59:59Z');
    expect(datetimeRange('2019-01-01', '2019-12-31')).toBe(
      '2019-01-01T00:00:00Z/2019-12-31T23:59:59Z'
    );
  });

  it('clamps boxes drawn past the poles and the antimeridian', () => {
    expect(normalizeBbox([-200, -95, 10, 91])).toEqual([-180, -90, 10, 90]);
  });

  it('refuses a reversed date range with a message', () => {
    const form = { ...emptyForm(), start: '2020-02-01', end: '2020-01-01' };
    expect(formError(form)).toBe('The start date is after the end date.');
    expect(formError({ ...form, end: '2020-03-01' })).toBeNull();
  });
});

describe('paging', () => {
  it('follows the next link query and stops at the end', () => {
    expect(
      nextQuery(
        page(['a'], 3, '/jupyter-mlops/catalog/search?token=next:a&limit=1')
      )
    ).toBe('?token=next:a&limit=1');
    expect(nextQuery(page(['a'], 3))).toBeNull();
  });

  it('accumulates pages without duplicates and keeps the matched count', () => {
    // Given a first page
    const first = applyPage(null, page(['a', 'b'], 3, '/x?token=2'));
    expect(summaryText(first)).toBe('3 matched, showing 2');
    expect(first.hasMore).toBe(true);
    // When the next page repeats an item and omits numberMatched
    const second = applyPage(first, page(['b', 'c'], null));
    // Then
    expect(second.ids).toEqual(['a', 'b', 'c']);
    expect(summaryText(second)).toBe('3 matched, showing 3');
    expect(second.hasMore).toBe(false);
  });

  it('says so when nothing matched or the total is unknown', () => {
    expect(summaryText(applyPage(null, page([], 0)))).toBe('No results');
    expect(summaryText(applyPage(null, page(['a'], null)))).toBe('Showing 1');
  });
});
