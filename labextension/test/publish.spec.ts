import {
  formField,
  IPublishForm,
  modelReference,
  publishRequest,
  versionLabel
} from '../src/publish/form';

const EMPTY: IPublishForm = {
  kind: 'model',
  name: '',
  namespace: '',
  description: '',
  visibility: '',
  license: '',
  keywords: '',
  start: '',
  end: '',
  related: '',
  files: [],
  mlflowModel: '',
  mlflowProject: '',
  bbox: null,
  architecture: '',
  tasks: [],
  framework: '',
  frameworkVersion: '',
  accelerator: ''
};

describe('publishRequest', () => {
  it('turns a filled model form into the publish body', () => {
    // Given a model form with every kind of field
    const form: IPublishForm = {
      ...EMPTY,
      name: ' Flood U-Net ',
      namespace: 'eo-team',
      license: 'MIT',
      keywords: 'flood, sentinel-1,,',
      start: '2020-01-01',
      related: 'group/floods\nai-model: group/base-model',
      files: ['models/unet.onnx'],
      bbox: [-66.1234567, -15, -64, -13],
      architecture: 'U-Net',
      tasks: ['segmentation'],
      accelerator: 'cuda'
    };
    // When
    const body = publishRequest(form);
    // Then
    expect(body).toEqual({
      name: 'Flood U-Net',
      kind: 'model',
      namespace: 'eo-team',
      license: 'MIT',
      keywords: ['flood', 'sentinel-1'],
      temporal: ['2020-01-01', null],
      related: { dataset: ['group/floods'], 'ai-model': ['group/base-model'] },
      files: ['models/unet.onnx'],
      bbox: [-66.123457, -15, -64, -13],
      mlm: {
        architecture: 'U-Net',
        tasks: ['segmentation'],
        accelerator: 'cuda'
      }
    });
  });

  it('sends no MLM fields for a dataset and leaves empty fields out', () => {
    const body = publishRequest({
      ...EMPTY,
      kind: 'dataset',
      name: 'Chips',
      architecture: 'x'
    });
    expect(body).toEqual({ name: 'Chips', kind: 'dataset' });
  });
});

describe('MLflow model version picker', () => {
  it('sends the chosen version and the project that holds it', () => {
    const body = publishRequest({
      ...EMPTY,
      name: 'Water',
      mlflowModel: modelReference('water-clf (7)', '3'),
      mlflowProject: 'team/water'
    });
    expect(body.mlflow_model).toBe('models:/water-clf (7)/3');
    expect(body.mlflow_project).toBe('team/water');
  });

  it('has no reference until a model and a version are chosen', () => {
    expect(modelReference('water-clf (7)', '')).toBe('');
    expect(modelReference('', '2')).toBe('');
  });

  it('labels versions with aliases, status and date', () => {
    expect(
      versionLabel({
        name: 'm',
        version: '4',
        aliases: ['champion'],
        status: 'PENDING_REGISTRATION',
        creation_timestamp: Date.UTC(2026, 10, 27, 12)
      })
    ).toBe('v4 · @champion · pending registration · 2026-11-27');
    expect(versionLabel({ name: 'm', version: '1', status: 'READY' })).toBe(
      'v1'
    );
  });

  it('shows errors about the source project on the picker', () => {
    expect(formField({ field: 'mlflow_project', message: '' })).toBe(
      'mlflowModel'
    );
  });
});

describe('formField', () => {
  it('maps server field names to form controls', () => {
    expect(formField({ field: 'mlm.tasks[0]', message: '' })).toBe('tasks');
    expect(formField({ field: 'mlm.framework_version', message: '' })).toBe(
      'frameworkVersion'
    );
    expect(formField({ field: 'temporal[1]', message: '' })).toBe('start');
    expect(formField({ field: 'files[0]', message: '' })).toBe('files');
    expect(formField({ field: 'geometry', message: '' })).toBe('bbox');
    expect(formField({ field: 'extensions', message: '' })).toBe('general');
  });
});
