import {
  alignSeries,
  byRun,
  compareRows,
  displayName,
  durationText,
  filterProjects,
  metricText,
  modelCandidates,
  orderByClause,
  projectName,
  runColumns,
  suggestedModelName,
  userTags
} from '../src/experiments/logic';
import { IMetric, IRun } from '../src/experiments/types';
import {
  STOP_CODE,
  TRACKING_MIME,
  startCode,
  stateFromReply,
  statusText
} from '../src/trackingState';

const run = (
  id: string,
  data: IRun['data'],
  status: IRun['info']['status'] = 'FINISHED'
): IRun => ({
  info: { run_id: id, run_name: `run-${id}`, experiment_id: '1', status },
  data
});

const point = (
  runId: string,
  step: number,
  value: number,
  timestamp = 1000 * step
): IMetric => ({
  key: 'loss',
  value,
  step,
  timestamp,
  run_id: runId
});

describe('project names', () => {
  it('adds the project suffix once and refuses another project', () => {
    // Given / When / Then
    expect(projectName('  iris  ', 101)).toBe('iris (101)');
    expect(projectName('iris (101)', 101)).toBe('iris (101)');
    expect(() => projectName('iris (7)', 101)).toThrow(
      /project 7, not project 101/
    );
    expect(() => projectName('  ', 101)).toThrow(/empty/);
  });

  it('shows names without the suffix', () => {
    expect(displayName('land cover (101)')).toBe('land cover');
    expect(displayName('plain')).toBe('plain');
  });

  it('suggests a registry name from the project and the logged model', () => {
    expect(suggestedModelName('demo/EuroSAT classifier', 'model')).toBe(
      'eurosat-classifier'
    );
    expect(suggestedModelName('demo/flood', 'unet')).toBe('flood-unet');
  });
});

describe('runs table', () => {
  it('collects param, metric and user tag columns, without MLflow system tags', () => {
    // Given
    const runs = [
      run('a', {
        params: [{ key: 'C', value: '1' }],
        metrics: [{ key: 'acc', value: 0.9, timestamp: 0 }],
        tags: [
          { key: 'mlflow.runName', value: 'x' },
          { key: 'project', value: '101' },
          { key: 'team', value: 'eo' }
        ]
      }),
      run('b', { params: [{ key: 'alpha', value: '2' }] })
    ];

    // When
    const columns = runColumns(runs);

    // Then
    expect(columns).toEqual({
      params: ['C', 'alpha'],
      metrics: ['acc'],
      tags: ['team']
    });
    expect(userTags(runs[0].data.tags)).toEqual([{ key: 'team', value: 'eo' }]);
  });

  it('writes MLflow order_by clauses, quoting names MLflow cannot parse bare', () => {
    expect(
      orderByClause({ kind: 'metrics', key: 'accuracy', desc: true })
    ).toBe('metrics.accuracy DESC');
    expect(
      orderByClause({ kind: 'params', key: 'max-depth', desc: false })
    ).toBe('params.`max-depth` ASC');
    expect(
      orderByClause({ kind: 'attributes', key: 'start_time', desc: true })
    ).toBe('attributes.start_time DESC');
  });

  it('formats durations and metric values', () => {
    expect(durationText(1000, 1850, 0)).toBe('850ms');
    expect(durationText(0, 5000, 0)).toBe('');
    expect(durationText(1000, 13_300, 0)).toBe('12.3s');
    expect(durationText(1000, 1000 + 245_000, 0)).toBe('4m 05s');
    expect(durationText(1000, undefined, 1000 + 7_260_000)).toBe('2h 01m');
    expect(metricText(0.123456)).toBe('0.1235');
    expect(metricText(42)).toBe('42');
    expect(metricText(undefined)).toBe('');
  });

  it('marks compared values that differ', () => {
    // Given
    const runs = [
      run('a', {
        params: [
          { key: 'C', value: '1' },
          { key: 'solver', value: 'lbfgs' }
        ]
      }),
      run('b', {
        params: [
          { key: 'C', value: '2' },
          { key: 'solver', value: 'lbfgs' }
        ]
      })
    ];

    // When
    const rows = compareRows(runs, 'params');

    // Then
    expect(rows).toEqual([
      { key: 'C', values: ['1', '2'], differs: true },
      { key: 'solver', values: ['lbfgs', 'lbfgs'], differs: false }
    ]);
  });
});

describe('chart series', () => {
  it('aligns runs with different steps on one x axis, gaps as null', () => {
    // Given: run a logged steps 0,1,2; run b steps 1,3 (in any order)
    const grouped = byRun([
      point('a', 2, 0.2),
      point('b', 3, 0.6),
      point('a', 0, 1),
      point('b', 1, 0.8),
      point('a', 1, 0.5)
    ]);

    // When
    const data = alignSeries(
      [
        { runId: 'a', label: 'a', points: grouped.get('a') ?? [] },
        { runId: 'b', label: 'b', points: grouped.get('b') ?? [] }
      ],
      'step'
    );

    // Then
    expect(data).toEqual([
      [0, 1, 2, 3],
      [1, 0.5, 0.2, null],
      [null, 0.8, null, 0.6]
    ]);
  });

  it('uses seconds since the epoch on the time axis', () => {
    const data = alignSeries(
      [
        {
          runId: 'a',
          label: 'a',
          points: [point('a', 0, 1, 5000), point('a', 1, 2, 6500)]
        }
      ],
      'time'
    );
    expect(data[0]).toEqual([5, 6.5]);
  });

  it('aligns 100,000 points of two runs', () => {
    const many = (id: string) =>
      Array.from({ length: 50_000 }, (_, i) =>
        point(id, i * 2 + (id === 'b' ? 1 : 0), i)
      );
    const data = alignSeries(
      [
        { runId: 'a', label: 'a', points: many('a') },
        { runId: 'b', label: 'b', points: many('b') }
      ],
      'step'
    );
    expect(data[0]).toHaveLength(100_000);
    expect(data[1][0]).toBe(0);
    expect(data[1][1]).toBeNull();
    expect(data[2][1]).toBe(0);
  });
});

describe('model candidates', () => {
  it('prefers MLflow 3 logged models', () => {
    const candidates = modelCandidates(run('r', {}), [
      { info: { model_id: 'm-1', name: 'model' } }
    ]);
    expect(candidates).toEqual([
      {
        label: 'model (m-1)',
        source: 'models:/m-1',
        modelId: 'm-1',
        name: 'model'
      }
    ]);
  });

  it('falls back to the MLflow 2 log-model history tag', () => {
    const tagged = run('r', {
      tags: [
        {
          key: 'mlflow.log-model.history',
          value: JSON.stringify([
            { artifact_path: 'model' },
            { artifact_path: 'onnx' }
          ])
        }
      ]
    });
    expect(modelCandidates(tagged, []).map(c => c.source)).toEqual([
      'runs:/r/onnx',
      'runs:/r/model'
    ]);
    const broken = run('r', {
      tags: [{ key: 'mlflow.log-model.history', value: '{' }]
    });
    expect(modelCandidates(broken, [])).toEqual([]);
  });
});

describe('project picker', () => {
  it('keeps projects matching every word, sorted by title', () => {
    const items = [
      { id: 'demo/flood', properties: { title: 'Flood threshold' } },
      {
        id: 'demo/eurosat',
        properties: { title: 'EuroSAT land-use classifier' }
      },
      { id: 'team/eurosat-v2', properties: {} }
    ];
    expect(filterProjects(items, 'eurosat').map(i => i.id)).toEqual([
      'demo/eurosat',
      'team/eurosat-v2'
    ]);
    expect(filterProjects(items, 'EUROSAT classifier').map(i => i.id)).toEqual([
      'demo/eurosat'
    ]);
    expect(filterProjects(items, '')).toHaveLength(3);
  });
});

describe('kernel tracking protocol', () => {
  it('sends project and experiment as Python literals, never anything else', () => {
    expect(startCode('demo/x', ' land "cover" ')).toBe(
      '__import__(\'jupyter_mlops.notebook_tracking\').notebook_tracking.start("demo/x", "land \\"cover\\"")'
    );
    expect(startCode('demo/x', '')).toMatch(/start\("demo\/x", None\)$/);
    expect(STOP_CODE).toMatch(/notebook_tracking\.stop\(\)$/);
  });

  it('reads the state from user_expressions, and errors as messages', () => {
    // Given
    const state = {
      active: true,
      project: 'demo/x',
      project_id: 3,
      tracking_uri: 'http://h/mlflow/demo/x/tracking/',
      experiment: 'nb (3)',
      experiment_id: '1',
      run_id: 'abcdef123456',
      run_name: null,
      run_status: 'RUNNING',
      autolog: ['sklearn'],
      resilient: false
    };

    // When
    const read = stateFromReply({
      status: 'ok',
      user_expressions: {
        state: { status: 'ok', data: { [TRACKING_MIME]: state } }
      }
    });

    // Then
    expect(read).toEqual(state);
    expect(statusText(read)).toBe(
      'MLflow: demo/x › nb › run abcdef12 (RUNNING)'
    );
    expect(statusText({ ...state, active: false })).toBe('');
    expect(() =>
      stateFromReply({
        status: 'error',
        ename: 'NotFoundError',
        evalue: 'No project x.'
      })
    ).toThrow('NotFoundError: No project x.');
    expect(() =>
      stateFromReply({
        status: 'error',
        ename: 'ModuleNotFoundError',
        evalue: 'x'
      })
    ).toThrow(/pip install jupyter-mlops\[tracking\]/);
  });
});
