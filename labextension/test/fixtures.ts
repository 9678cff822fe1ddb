/** STAC items shaped like the embedded platform's demo items. */

import { IStacItem } from '../src/tokens';

/** The EuroSAT classifier: MLM properties, an ONNX model asset, a derived_from link. */
export const CLASSIFIER: IStacItem = {
  id: 'demo/eurosat-lulc-classifier',
  collection: 'ai-model',
  geometry: null,
  properties: {
    title: 'EuroSAT land-use classifier',
    description: '# EuroSAT\n\nA small MLP.',
    start_datetime: '2017-01-01T00:00:00Z',
    end_datetime: '2018-12-31T23:59:59Z',
    'mlm:name': 'eurosat-mlp',
    'mlm:architecture': 'MLP',
    'mlm:tasks': ['classification'],
    'mlm:framework': 'onnx',
    'mlm:framework_version': '1.23.2',
    'mlm:accelerator': 'amd64',
    'mlm:accelerator_constrained': false,
    'mlm:total_parameters': 778,
    'mlm:input': [
      {
        name: 'Sentinel-2 L1C reflectances',
        bands: ['B01', 'B02'],
        input: {
          shape: [-1, 13],
          dim_order: ['batch', 'bands'],
          data_type: 'float32'
        }
      }
    ],
    'mlm:output': [
      {
        name: 'class probabilities',
        result: {
          shape: [-1, 10],
          dim_order: ['batch', 'class'],
          data_type: 'float32'
        },
        'classification:classes': [
          { value: 0, name: 'AnnualCrop' },
          { value: 1, name: 'Forest' }
        ]
      }
    ],
    'sharinghub:mlflow': 'enable'
  },
  links: [
    {
      rel: 'self',
      href: 'http://127.0.0.1:1/api/stac/collections/ai-model/items/demo/eurosat-lulc-classifier'
    },
    {
      rel: 'derived_from',
      title: 'dataset: demo/eurosat-rgb-samples',
      href: 'http://127.0.0.1:1/api/stac/collections/dataset/items/demo/eurosat-rgb-samples'
    },
    { rel: 'license', href: 'https://spdx.org/licenses/MIT.html' }
  ],
  assets: {
    'classes.json': {
      href: 'http://127.0.0.1:1/api/download/demo/eurosat-lulc-classifier/repository/classes.json?ref=main',
      type: 'application/json',
      roles: ['data']
    },
    'model/eurosat-mlp.onnx': {
      href: 'http://127.0.0.1:1/api/download/demo/eurosat-lulc-classifier/repository/model/eurosat-mlp.onnx?ref=main',
      title: 'ONNX model',
      type: 'application/onnx',
      roles: ['mlm:model'],
      'file:size': 4321
    }
  }
};

/** A legacy ml-model v1.0.0 item, as upstream SharingHub 0.4 emits. */
export const LEGACY: IStacItem = {
  id: 'team/old-model',
  collection: 'ai-model',
  geometry: null,
  properties: {
    title: 'Old model',
    'ml-model:type': 'ml-model',
    'ml-model:learning_approach': 'supervised',
    'ml-model:prediction_type': 'segmentation',
    'ml-model:architecture': 'U-Net',
    'ml-model:training-processor-type': 'gpu',
    'ml-model:training-os': 'linux'
  },
  links: []
};

/** The Bolivia flood dataset: EO and scientific properties, no model. */
export const DATASET: IStacItem = {
  id: 'demo/sen1floods11-bolivia',
  collection: 'dataset',
  geometry: null,
  properties: {
    title: 'Sen1Floods11: Bolivia flood event',
    start_datetime: '2018-02-15T00:00:00Z',
    end_datetime: '2018-02-15T23:59:59Z',
    platform: 'sentinel-1',
    'eo:cloud_cover': 0,
    'label:type': 'raster',
    'label:tasks': ['segmentation'],
    'label:classes': [{ name: 'water', classes: ['dry', 'water'] }],
    'sci:doi': '10.1109/CVPRW50498.2020.00113',
    keywords: ['flood', 'sentinel-1']
  },
  links: [],
  assets: {
    'chips.csv': {
      href: 'http://127.0.0.1:1/api/download/demo/sen1floods11-bolivia/repository/chips.csv?ref=main',
      type: 'text/csv'
    }
  }
};
