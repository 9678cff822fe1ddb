/**
 * Pure extraction of what the item view shows: MLM / ml-model properties as readable rows,
 * EO / label / scientific properties, assets, related items, access levels and download paths.
 * No DOM here, so jest tests it directly.
 */

import {
  IAssetEntry,
  IPropertyRow,
  IRelatedItem,
  IStacAsset,
  IStacItem
} from '../tokens';

type Props = { [key: string]: unknown };

/** Upstream SharingHub access levels (0-4) and their labels. */
export const ACCESS_LEVELS: { [level: number]: string } = {
  0: 'No access',
  1: 'Guest',
  2: 'Read only',
  3: 'Contributor',
  4: 'Administrator'
};

/**
 * Label of an access level from `catalog/check`.
 *
 * @param level - 0..4
 * @returns display text
 */
export function accessLabel(level: number): string {
  return ACCESS_LEVELS[level] ?? `Level ${level}`;
}

/**
 * Human size of a byte count.
 *
 * @param bytes - size in bytes
 * @returns e.g. `1.5 MB`
 */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) {
    return '';
  }
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0
    ? `${value} B`
    : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** Display text of any property value: lists joined, objects summarized. */
export function displayValue(value: unknown): string {
  if (value === null || value === undefined) {
    return '';
  }
  if (Array.isArray(value)) {
    return value.map(displayValue).filter(Boolean).join(', ');
  }
  if (typeof value === 'object') {
    const named = value as Props;
    if (typeof named.name === 'string') {
      return named.name;
    }
    return JSON.stringify(value);
  }
  if (typeof value === 'boolean') {
    return value ? 'yes' : 'no';
  }
  return String(value);
}

function shapeText(spec: unknown): string {
  if (!spec || typeof spec !== 'object') {
    return '';
  }
  const s = spec as Props;
  const shape = Array.isArray(s.shape)
    ? `[${(s.shape as unknown[]).map(d => (d === -1 ? 'N' : String(d))).join(', ')}]`
    : '';
  const order = Array.isArray(s.dim_order)
    ? ` (${(s.dim_order as unknown[]).join(', ')})`
    : '';
  const dtype = typeof s.data_type === 'string' ? ` ${s.data_type}` : '';
  return `${shape}${order}${dtype}`.trim();
}

function ioText(entry: unknown, key: 'input' | 'result'): string {
  if (!entry || typeof entry !== 'object') {
    return displayValue(entry);
  }
  const e = entry as Props;
  const parts = [typeof e.name === 'string' ? e.name : ''];
  const shape = shapeText(e[key]);
  if (shape) {
    parts.push(shape);
  }
  if (Array.isArray(e.bands) && e.bands.length > 0) {
    parts.push(`bands ${displayValue(e.bands)}`);
  }
  const classes = e['classification:classes'];
  if (Array.isArray(classes) && classes.length > 0) {
    parts.push(`${classes.length} classes`);
  }
  return parts.filter(Boolean).join(' · ');
}

function push(rows: IPropertyRow[], label: string, value: unknown): void {
  const text = displayValue(value);
  if (text) {
    rows.push({ label, value: text });
  }
}

/**
 * MLM (current) or ml-model (legacy v1.0.0) properties as readable rows.
 *
 * @param item - a STAC item
 * @returns rows; empty when the item describes no model
 */
export function modelRows(item: IStacItem): IPropertyRow[] {
  const p = item.properties as Props;
  const rows: IPropertyRow[] = [];
  push(rows, 'Name', p['mlm:name']);
  push(
    rows,
    'Architecture',
    p['mlm:architecture'] ?? p['ml-model:architecture']
  );
  push(rows, 'Tasks', p['mlm:tasks'] ?? p['ml-model:prediction_type']);
  push(rows, 'Learning approach', p['ml-model:learning_approach']);
  const framework = displayValue(p['mlm:framework']);
  const frameworkVersion = displayValue(p['mlm:framework_version']);
  push(
    rows,
    'Framework',
    framework && frameworkVersion
      ? `${framework} ${frameworkVersion}`
      : framework
  );
  const accelerator =
    p['mlm:accelerator'] ?? p['ml-model:training-processor-type'];
  if (accelerator !== undefined && accelerator !== null) {
    const constrained =
      p['mlm:accelerator_constrained'] === true ? ' (required)' : '';
    const count =
      typeof p['mlm:accelerator_count'] === 'number'
        ? ` ×${p['mlm:accelerator_count']}`
        : '';
    push(
      rows,
      'Accelerator',
      `${displayValue(accelerator)}${count}${constrained}`
    );
  }
  push(rows, 'Training OS', p['ml-model:training-os']);
  const total = p['mlm:total_parameters'];
  if (typeof total === 'number') {
    push(rows, 'Parameters', total.toLocaleString('en-US'));
  }
  push(rows, 'Pretrained', p['mlm:pretrained']);
  push(rows, 'Pretrained source', p['mlm:pretrained_source']);
  const inputs = Array.isArray(p['mlm:input']) ? p['mlm:input'] : [];
  inputs.forEach(entry => push(rows, 'Input', ioText(entry, 'input')));
  const outputs = Array.isArray(p['mlm:output']) ? p['mlm:output'] : [];
  outputs.forEach(entry => push(rows, 'Output', ioText(entry, 'result')));
  return rows;
}

/**
 * Earth-observation, label and scientific properties as readable rows.
 *
 * @param item - a STAC item
 * @returns rows
 */
export function dataRows(item: IStacItem): IPropertyRow[] {
  const p = item.properties as Props;
  const rows: IPropertyRow[] = [];
  const start = displayValue(p.start_datetime).slice(0, 10);
  const end = displayValue(p.end_datetime).slice(0, 10);
  if (start || end) {
    push(rows, 'Time range', start === end ? start : `${start} – ${end}`);
  }
  push(rows, 'Platform', p.platform);
  push(rows, 'Instruments', p.instruments);
  push(rows, 'GSD (m)', p.gsd);
  if (typeof p['eo:cloud_cover'] === 'number') {
    push(rows, 'Cloud cover', `${p['eo:cloud_cover']} %`);
  }
  push(rows, 'Bands', p['eo:bands']);
  push(rows, 'Label type', p['label:type']);
  push(rows, 'Label tasks', p['label:tasks']);
  push(rows, 'Label properties', p['label:properties']);
  const classes = p['label:classes'];
  if (Array.isArray(classes)) {
    push(
      rows,
      'Label classes',
      classes.map(c => displayValue((c as Props)?.classes ?? c))
    );
  }
  push(rows, 'Keywords', p.keywords);
  push(rows, 'License', p.license);
  push(rows, 'DOI', p['sci:doi']);
  push(rows, 'Citation', p['sci:citation']);
  return rows;
}

/**
 * Whether an asset is an ONNX model.
 *
 * @param key - asset key
 * @param asset - the asset
 * @returns true for ONNX
 */
export function isOnnx(key: string, asset: IStacAsset): boolean {
  return (
    asset.type === 'application/onnx' ||
    asset['mlm:artifact_type'] === 'onnx' ||
    /\.onnx$/i.test(key) ||
    /\.onnx(\?|$)/i.test(asset.href)
  );
}

/**
 * The assets of an item, models first.
 *
 * @param item - a full STAC item
 * @returns entries
 */
export function assetEntries(item: IStacItem): IAssetEntry[] {
  const entries = Object.entries(item.assets ?? {}).map(([key, asset]) => ({
    key,
    title: asset.title || key,
    type: asset.type ?? '',
    size: formatBytes(asset['file:size']),
    href: asset.href,
    onnx: isOnnx(key, asset)
  }));
  const rank = (e: IAssetEntry) => (e.onnx ? 0 : 1);
  return entries.sort((a, b) => rank(a) - rank(b));
}

const ITEM_URL = /\/collections\/([^/?#]+)\/items\/([^?#]+)/;

/**
 * Items this item links to by `derived_from` (and `related`), parsed from STAC item URLs.
 *
 * @param item - a STAC item
 * @returns related items with their collection and id
 */
export function relatedItems(item: IStacItem): IRelatedItem[] {
  const related: IRelatedItem[] = [];
  for (const link of item.links ?? []) {
    if (link.rel !== 'derived_from' && link.rel !== 'related') {
      continue;
    }
    const match = ITEM_URL.exec(link.href);
    if (!match) {
      continue;
    }
    const id = decodeURIComponent(match[2].replace(/\/$/, ''));
    const title = link.title?.replace(/^[a-z-]+:\s*/i, '') || id;
    related.push({
      rel: link.rel,
      collection: decodeURIComponent(match[1]),
      id,
      title
    });
  }
  return related;
}

/**
 * Workspace-relative path a download of an asset goes to: `<project name>/<asset key>`.
 * `..` and empty segments are dropped so the path stays inside the folder.
 *
 * @param item - the item
 * @param key - asset key
 * @returns a relative path
 */
export function downloadPath(item: IStacItem, key: string): string {
  const project = item.id.split('/').filter(Boolean).pop() ?? 'download';
  const clean = (path: string) =>
    path
      .split(/[\\/]+/)
      .filter(part => part && part !== '.' && part !== '..')
      .join('/');
  const file = clean(key.split('?')[0]) || 'asset';
  return `${clean(project) || 'download'}/${file}`;
}

/**
 * MLflow links of an item (tracking URI and registry), when the platform has MLflow and the
 * project enables it.
 *
 * @param item - the item
 * @param mlflowUrl - MLflow base URL from `info`, or null
 * @returns label and URL pairs
 */
export function mlflowLinks(
  item: IStacItem,
  mlflowUrl: string | null
): [string, string][] {
  const p = item.properties as Props;
  const links: [string, string][] = [];
  for (const link of item.links ?? []) {
    if (/mlflow/i.test(link.rel)) {
      links.push([link.title || link.rel, link.href]);
    }
  }
  if (mlflowUrl && p['sharinghub:mlflow'] !== 'disable') {
    const base = mlflowUrl.replace(/\/+$/, '');
    const tracking = `${base}/${item.id}/tracking/`;
    if (!links.some(([, href]) => href === tracking)) {
      links.push(['Tracking URI', tracking]);
    }
  }
  return links;
}

/**
 * The description without a leading Markdown heading that repeats the title (READMEs usually
 * start with one, and the view already shows the title).
 *
 * @param item - the item
 * @returns Markdown
 */
export function descriptionBody(item: IStacItem): string {
  const text = item.properties.description ?? '';
  const title = (item.properties.title ?? '').trim().toLowerCase();
  const match = /^\s*#\s+(.+?)\s*(\n|$)/.exec(text);
  if (match && title && match[1].trim().toLowerCase() === title) {
    return text.slice(match[0].length).replace(/^\s+/, '');
  }
  return text;
}
