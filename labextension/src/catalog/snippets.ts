/**
 * Python code the "Insert code" button puts into a notebook: open the item with pystac-client
 * through the platform's STAC API and, for ONNX model assets, load the model with onnxruntime.
 * Pure string building, tested with jest.
 */

import { IStacItem } from '../tokens';
import { assetEntries, downloadPath } from './describe';

/** A Python string literal (JSON string escapes are valid Python escapes). */
export function pyString(value: string): string {
  return JSON.stringify(value);
}

/**
 * URL of the STAC API root of a SharingHub(-compatible) platform.
 *
 * @param sharinghubUrl - platform base URL from `info`
 * @returns `<base>/api/stac`
 */
export function stacRoot(sharinghubUrl: string): string {
  return `${sharinghubUrl.replace(/\/+$/, '')}/api/stac`;
}

/**
 * A ready notebook cell that opens the item (and loads its ONNX model, if it has one).
 *
 * @param item - the item
 * @param sharinghubUrl - platform base URL from `info`
 * @returns Python source
 */
export function itemSnippet(item: IStacItem, sharinghubUrl: string): string {
  const title = item.properties.title ?? item.id;
  const collection = item.collection
    ? `collections=[${pyString(item.collection)}], `
    : '';
  const lines = [
    `# ${title.replace(/\n/g, ' ')}: from the MLOps catalog`,
    'from pystac_client import Client',
    '',
    `catalog = Client.open(${pyString(stacRoot(sharinghubUrl))})`,
    `item = next(catalog.search(${collection}ids=[${pyString(item.id)}]).items())`,
    'print(item.id, "-", item.properties.get("title"))',
    'print("assets:", ", ".join(item.assets))'
  ];
  const model = assetEntries(item).find(entry => entry.onnx);
  if (model) {
    lines.push(
      '',
      '# Load the ONNX model with onnxruntime (downloaded next to the notebook once)',
      'import urllib.request',
      'from pathlib import Path',
      '',
      'import onnxruntime as ort',
      '',
      `model_path = Path(${pyString(downloadPath(item, model.key))})`,
      'if not model_path.exists():',
      '    model_path.parent.mkdir(parents=True, exist_ok=True)',
      `    urllib.request.urlretrieve(item.assets[${pyString(model.key)}].href, model_path)`,
      'session = ort.InferenceSession(str(model_path))',
      'for spec in session.get_inputs():',
      '    print("input:", spec.name, spec.shape, spec.type)',
      'for spec in session.get_outputs():',
      '    print("output:", spec.name, spec.shape, spec.type)'
    );
  }
  return lines.join('\n');
}
