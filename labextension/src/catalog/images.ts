/**
 * Images of an item (README images, the preview thumbnail) read through the server extension's
 * `catalog/image/<project>/repository/<file>?ref=` route: the browser never fetches from the
 * platform itself and no token ever sits in an image URL. Pure functions, tested with jest.
 */

import { URLExt } from '@jupyterlab/coreutils';

import { IStacItem } from '../tokens';

/** Server extension namespace (as in `request.ts`). */
const NAMESPACE = 'jupyter-mlops';

/** A project file behind the catalog's download route. */
export interface IRepositoryFile {
  /** Project path (`group/project`). */
  project: string;
  /** File path inside the repository. */
  file: string;
  /** Branch, tag or commit, when known. */
  ref: string | null;
}

const DOWNLOAD_PATH = /^\/api\/download\/(.+?)\/repository\/(.+)$/;

/**
 * The branch the item's files come from, read from one of its download hrefs.
 *
 * @param item - a STAC item
 * @returns the `ref` of its first repository download href, or null
 */
export function itemRef(item: IStacItem): string | null {
  for (const asset of Object.values(item.assets ?? {})) {
    try {
      const url = new URL(asset.href, 'http://catalog.invalid/');
      if (DOWNLOAD_PATH.test(url.pathname) && url.searchParams.get('ref')) {
        return url.searchParams.get('ref');
      }
    } catch {
      // not a URL: try the next asset
    }
  }
  return null;
}

/**
 * Which project file an image source of the item means, or null when it is not one of the
 * catalog's project files (another host, another scheme): such images are not loaded.
 *
 * @param src - the image source as written in the README or the item
 * @param item - the item (its id is the project path)
 * @param catalogUrl - the catalog base URL from `/jupyter-mlops/info`, or null
 * @returns the repository file, or null
 */
export function repositoryFile(
  src: string,
  item: IStacItem,
  catalogUrl: string | null
): IRepositoryFile | null {
  const source = src.trim();
  if (!source) {
    return null;
  }
  const absolute =
    /^[a-z][a-z0-9+.-]*:/i.test(source) || source.startsWith('//');
  if (absolute || source.startsWith('/')) {
    let url: URL;
    let catalog: URL;
    try {
      catalog = new URL(catalogUrl ?? '');
      url = new URL(source, catalog);
    } catch {
      return null;
    }
    const prefix = catalog.pathname.replace(/\/+$/, '');
    if (url.origin !== catalog.origin || !url.pathname.startsWith(prefix)) {
      return null;
    }
    const match = DOWNLOAD_PATH.exec(url.pathname.slice(prefix.length));
    if (!match) {
      return null;
    }
    return {
      project: decodeURIComponent(match[1]),
      file: decodeURIComponent(match[2]),
      ref: url.searchParams.get('ref') ?? itemRef(item)
    };
  }
  // Relative to the repository root: resolve "./" and "../" without leaving the project.
  const url = new URL(source, 'http://repository.invalid/');
  const file = decodeURIComponent(url.pathname.replace(/^\/+/, ''));
  if (!file) {
    return null;
  }
  return { project: item.id, file, ref: itemRef(item) };
}

/**
 * Prefix of every URL of the image route.
 *
 * @param baseUrl - the Jupyter server's base URL
 * @returns `<baseUrl>/jupyter-mlops/catalog/image/`
 */
export function imageRoute(baseUrl: string): string {
  return `${URLExt.join(baseUrl, NAMESPACE, 'catalog', 'image')}/`;
}

/**
 * URL of a repository file on the server extension's image route (base-URL and prefix safe).
 *
 * @param baseUrl - the Jupyter server's base URL (`ServerConnection.ISettings.baseUrl`)
 * @param target - the project file
 * @returns the URL
 */
export function imageUrl(baseUrl: string, target: IRepositoryFile): string {
  const encode = (path: string) =>
    path.split('/').map(segment => encodeURIComponent(segment));
  const url = URLExt.join(
    imageRoute(baseUrl),
    ...encode(target.project),
    'repository',
    ...encode(target.file)
  );
  return target.ref ? `${url}?ref=${encodeURIComponent(target.ref)}` : url;
}

/**
 * Rewrite the image sources of a Markdown text (`![alt](src "title")` and HTML `<img src>`)
 * before it is rendered, so the browser never starts a request to their original place.
 * Images that cannot go through the proxy become their alt text.
 *
 * @param markdown - README Markdown
 * @param proxied - maps a source to its proxied URL, or null to drop the image
 * @returns Markdown with rewritten images
 */
export function rewriteImages(
  markdown: string,
  proxied: (src: string) => string | null
): string {
  const markdownImage =
    /!\[([^\]]*)\]\(\s*<?([^\s)>]+)>?(\s+(?:"[^"]*"|'[^']*'))?\s*\)/g;
  const htmlImage = /(<img\b[^>]*?\bsrc\s*=\s*)(["'])(.*?)\2/gi;
  return markdown
    .replace(markdownImage, (_all, alt: string, src: string, title = '') => {
      const url = proxied(src);
      return url ? `![${alt}](${url}${title})` : alt;
    })
    .replace(htmlImage, (_all, head: string, quote: string, src: string) => {
      const url = proxied(src);
      return `${head}${quote}${url ?? ''}${quote}`;
    });
}

/**
 * The item's preview image (`rel=preview` link or a `thumbnail` asset), if it has one.
 *
 * @param item - a STAC item
 * @returns its href, or null
 */
export function previewHref(item: IStacItem): string | null {
  const link = (item.links ?? []).find(l => l.rel === 'preview');
  if (link) {
    return link.href;
  }
  const thumbnail = Object.values(item.assets ?? {}).find(asset =>
    (asset.roles ?? []).includes('thumbnail')
  );
  return thumbnail?.href ?? null;
}
