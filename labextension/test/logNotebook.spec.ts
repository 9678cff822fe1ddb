import {
  ILoggedRun,
  LOGGED_MIME,
  VARIABLES_MIME,
  kernelPath,
  logNotebookExpression,
  loggedText,
  readLoggedRun,
  readVariables
} from '../src/logNotebookState';

const run: ILoggedRun = {
  run_id: 'abc',
  run_name: 'bright-fox',
  experiment_id: '3',
  experiment: 'nb (101)',
  project: 'demo/model',
  run_url: 'http://x/#/experiments/3/runs/abc',
  artifacts: ['notebook/a.ipynb', 'environment/requirements.txt'],
  params: { lr: '0.1', epochs: '3' },
  git: {
    'mlflow.source.git.commit': '0123456789abcdef',
    'jupyter_mlops.git.dirty': 'true'
  }
};

describe('log this notebook', () => {
  it('quotes the path and the names as Python literals', () => {
    // Given a path with quotes and a selection
    // When
    const code = logNotebookExpression('/home/u/it\'s "x".ipynb', ['lr', 'n']);

    // Then the kernel gets valid literals, nothing interpolated raw
    expect(code).toBe(
      "__import__('jupyter_mlops.notebook_logging').notebook_logging.log_notebook(" +
        '"/home/u/it\'s \\"x\\".ipynb", ["lr", "n"])'
    );
  });

  it('joins the server root and the notebook path, or falls back to the file name', () => {
    expect(kernelPath('/srv/work/', 'a/b.ipynb')).toBe('/srv/work/a/b.ipynb');
    expect(kernelPath('~/w', '/b.ipynb')).toBe('~/w/b.ipynb');
    expect(kernelPath('', 'a/b.ipynb')).toBe('b.ipynb');
  });

  it('reads the variables and the run from the kernel replies', () => {
    const variables = [{ name: 'lr', type: 'float', repr: '0.1' }];
    const reply = (mime: string, data: unknown) => ({
      status: 'ok',
      user_expressions: { result: { status: 'ok', data: { [mime]: data } } }
    });
    expect(readVariables(reply(VARIABLES_MIME, { variables }))).toEqual(
      variables
    );
    expect(readLoggedRun(reply(LOGGED_MIME, run))).toEqual(run);
  });

  it('turns a kernel error into its message', () => {
    // Given the kernel refused a list variable
    const reply = {
      status: 'ok',
      user_expressions: {
        result: {
          status: 'error',
          ename: 'BadRequestError',
          evalue: "Parameter 'layers' is a list"
        }
      }
    };

    // Then the error names it
    expect(() => readLoggedRun(reply)).toThrow(
      "BadRequestError: Parameter 'layers' is a list"
    );
  });

  it('says which run was logged, with its parameters and commit', () => {
    expect(loggedText(run)).toBe(
      'Notebook logged as run bright-fox with 2 parameters (git 0123456, dirty).'
    );
    expect(loggedText({ ...run, params: { a: '1' }, git: {} })).toBe(
      'Notebook logged as run bright-fox with 1 parameter.'
    );
  });
});
