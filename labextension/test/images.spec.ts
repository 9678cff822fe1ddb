/**
 * Image sources of an item mapped onto the server extension's image route.
 */

import {
  imageUrl,
  itemRef,
  previewHref,
  repositoryFile,
  rewriteImages
} from '../src/catalog/images';
import { IStacItem } from '../src/tokens';

const CATALOG = 'http://127.0.0.1:8123';
const BASE = 'http://localhost:8888/user/alice/';

function item(extra: Partial<IStacItem> = {}): IStacItem {
  return {
    type: 'Feature',
    id: 'demo/eurosat-rgb-samples',
    collection: 'dataset',
    geometry: null,
    bbox: undefined,
    properties: {},
    links: [],
    assets: {
      'samples.csv': {
        href: `${CATALOG}/api/download/demo/eurosat-rgb-samples/repository/samples.csv?ref=main`
      }
    },
    ...extra
  } as unknown as IStacItem;
}

describe('repositoryFile', () => {
  it('resolves README-relative paths in the item project at its branch', () => {
    // Given / When
    const target = repositoryFile(
      './docs/../docs/classes.png',
      item(),
      CATALOG
    );
    // Then
    expect(target).toEqual({
      project: 'demo/eurosat-rgb-samples',
      file: 'docs/classes.png',
      ref: 'main'
    });
  });

  it('keeps relative paths inside the project', () => {
    expect(repositoryFile('../../etc/a.png', item(), CATALOG)?.file).toBe(
      'etc/a.png'
    );
  });

  it('maps catalog download URLs and drops their other parameters', () => {
    const src = `${CATALOG}/api/download/demo/other/repository/img/a%20b.png?ref=v1&cache=300&gitlab_token=secret`;
    expect(repositoryFile(src, item(), CATALOG)).toEqual({
      project: 'demo/other',
      file: 'img/a b.png',
      ref: 'v1'
    });
  });

  it('refuses other hosts, other schemes and other catalog routes', () => {
    for (const src of [
      'https://evil.example/api/download/demo/x/repository/a.png',
      '//evil.example/api/download/demo/x/repository/a.png',
      'javascript:alert(1)',
      `${CATALOG}/api/stac/collections`,
      ''
    ]) {
      expect(repositoryFile(src, item(), CATALOG)).toBeNull();
    }
  });
});

describe('imageUrl', () => {
  it('builds the route under the JupyterHub prefix with encoded segments', () => {
    expect(
      imageUrl(BASE, { project: 'demo/x', file: 'img/a b.png', ref: 'main' })
    ).toBe(
      'http://localhost:8888/user/alice/jupyter-mlops/catalog/image/demo/x/repository/img/a%20b.png?ref=main'
    );
  });
});

describe('rewriteImages', () => {
  it('rewrites Markdown and HTML images and drops the ones that may not load', () => {
    // Given
    const markdown = [
      '![Legend](docs/classes.png "Classes")',
      '<img alt="x" src="docs/x.png">',
      '![Elsewhere](https://evil.example/a.png)',
      '[a link](docs/classes.png)'
    ].join('\n');
    const proxied = (src: string) => {
      const target = repositoryFile(src, item(), CATALOG);
      return target ? imageUrl(BASE, target) : null;
    };
    // When
    const rewritten = rewriteImages(markdown, proxied).split('\n');
    // Then
    expect(rewritten[0]).toBe(
      '![Legend](http://localhost:8888/user/alice/jupyter-mlops/catalog/image/demo/eurosat-rgb-samples/repository/docs/classes.png?ref=main "Classes")'
    );
    expect(rewritten[1]).toContain(
      'src="http://localhost:8888/user/alice/jupyter-mlops/catalog/image/demo/eurosat-rgb-samples/repository/docs/x.png?ref=main"'
    );
    expect(rewritten[2]).toBe('Elsewhere');
    expect(rewritten[3]).toBe('[a link](docs/classes.png)');
  });
});

describe('previewHref and itemRef', () => {
  it('finds the preview link, else a thumbnail asset', () => {
    const withLink = item({
      links: [{ rel: 'preview', href: 'preview.png' }]
    } as Partial<IStacItem>);
    expect(previewHref(withLink)).toBe('preview.png');
    const withAsset = item();
    withAsset.assets!['preview.jpg'] = {
      href: `${CATALOG}/api/download/demo/eurosat-rgb-samples/repository/preview.jpg?ref=main`,
      roles: ['thumbnail']
    } as never;
    expect(previewHref(withAsset)).toContain('preview.jpg');
    expect(previewHref(item())).toBeNull();
    expect(itemRef(item())).toBe('main');
  });
});
