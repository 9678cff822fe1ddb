import {
  accessLabel,
  assetEntries,
  dataRows,
  descriptionBody,
  downloadPath,
  formatBytes,
  mlflowLinks,
  modelRows,
  relatedItems
} from '../src/catalog/describe';
import { itemSnippet, stacRoot } from '../src/catalog/snippets';
import { IPropertyRow } from '../src/tokens';
import { CLASSIFIER, DATASET, LEGACY } from './fixtures';

const asMap = (rows: IPropertyRow[]) =>
  Object.fromEntries(rows.map(row => [row.label, row.value]));

describe('model table', () => {
  it('reads MLM properties into readable rows', () => {
    // When
    const rows = modelRows(CLASSIFIER);
    // Then
    expect(asMap(rows)).toMatchObject({
      Architecture: 'MLP',
      Tasks: 'classification',
      Framework: 'onnx 1.23.2',
      Accelerator: 'amd64',
      Parameters: '778'
    });
    const io = rows.filter(r => r.label === 'Input' || r.label === 'Output');
    expect(io.map(r => r.value)).toEqual([
      'Sentinel-2 L1C reflectances · [N, 13] (batch, bands) float32 · bands B01, B02',
      'class probabilities · [N, 10] (batch, class) float32 · 2 classes'
    ]);
  });

  it('reads legacy ml-model v1.0.0 properties too', () => {
    expect(asMap(modelRows(LEGACY))).toEqual({
      Architecture: 'U-Net',
      Tasks: 'segmentation',
      'Learning approach': 'supervised',
      Accelerator: 'gpu',
      'Training OS': 'linux'
    });
  });

  it('is empty for a dataset', () => {
    expect(modelRows(DATASET)).toEqual([]);
  });
});

describe('data table', () => {
  it('shows EO, label and scientific properties', () => {
    expect(asMap(dataRows(DATASET))).toMatchObject({
      'Time range': '2018-02-15',
      Platform: 'sentinel-1',
      'Cloud cover': '0 %',
      'Label type': 'raster',
      'Label classes': 'dry, water',
      DOI: '10.1109/CVPRW50498.2020.00113'
    });
  });
});

describe('assets, related items, links', () => {
  it('lists the ONNX model first with its size', () => {
    const [model, other] = assetEntries(CLASSIFIER);
    expect(model).toMatchObject({
      key: 'model/eurosat-mlp.onnx',
      title: 'ONNX model',
      size: '4.3 kB',
      onnx: true
    });
    expect(other.onnx).toBe(false);
  });

  it('parses derived_from links into collection and id', () => {
    expect(relatedItems(CLASSIFIER)).toEqual([
      {
        rel: 'derived_from',
        collection: 'dataset',
        id: 'demo/eurosat-rgb-samples',
        title: 'demo/eurosat-rgb-samples'
      }
    ]);
  });

  it('keeps download paths inside a project folder', () => {
    expect(downloadPath(CLASSIFIER, 'model/eurosat-mlp.onnx')).toBe(
      'eurosat-lulc-classifier/model/eurosat-mlp.onnx'
    );
    expect(downloadPath(CLASSIFIER, '../../etc/passwd')).toBe(
      'eurosat-lulc-classifier/etc/passwd'
    );
  });

  it('derives the MLflow tracking URI only when the platform has MLflow', () => {
    expect(mlflowLinks(CLASSIFIER, null)).toEqual([]);
    expect(mlflowLinks(CLASSIFIER, 'http://h/mlflow/')).toEqual([
      ['Tracking URI', 'http://h/mlflow/demo/eurosat-lulc-classifier/tracking/']
    ]);
  });

  it('formats sizes and access levels', () => {
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(2_500_000)).toBe('2.5 MB');
    expect(formatBytes(undefined)).toBe('');
    expect(accessLabel(2)).toBe('Read only');
    expect(accessLabel(9)).toBe('Level 9');
  });
});

describe('insert code', () => {
  it('opens the item with pystac-client and loads ONNX models with onnxruntime', () => {
    // When
    const code = itemSnippet(CLASSIFIER, 'http://127.0.0.1:5000/');
    // Then
    expect(stacRoot('http://127.0.0.1:5000/')).toBe(
      'http://127.0.0.1:5000/api/stac'
    );
    expect(code).toContain('Client.open("http://127.0.0.1:5000/api/stac")');
    expect(code).toContain(
      'catalog.search(collections=["ai-model"], ids=["demo/eurosat-lulc-classifier"])'
    );
    expect(code).toContain('ort.InferenceSession(');
    expect(code).toContain('item.assets["model/eurosat-mlp.onnx"].href');
  });

  it('has no onnxruntime part for a dataset', () => {
    const code = itemSnippet(DATASET, 'http://x');
    expect(code).toContain('ids=["demo/sen1floods11-bolivia"]');
    expect(code).not.toContain('onnxruntime');
  });
});

describe('description', () => {
  it('drops a first heading that repeats the title, keeps other headings', () => {
    const item = {
      ...CLASSIFIER,
      properties: {
        title: 'EuroSAT land-use classifier',
        description: '# EuroSAT land-use classifier\n\nA small MLP.\n\n## Usage'
      }
    };
    expect(descriptionBody(item)).toBe('A small MLP.\n\n## Usage');
    expect(
      descriptionBody({
        ...item,
        properties: { title: 'Other', description: '# Heading\ntext' }
      })
    ).toBe('# Heading\ntext');
  });
});
