/**
 * One-click tracking: configures a notebook's kernel for MLflow by executing code in it
 * (`jupyter_mlops.notebook_tracking.start(...)`, which calls `jupyter_mlops.tracking.configure`
 * and turns autologging on), keeps the state each kernel reports, and shows it in the status
 * bar. The kernel gets its token from the token sources itself: no credential is ever part of
 * the code sent to it or of what it answers.
 */

import { KernelMessage } from '@jupyterlab/services';
import {
  INotebookTracker,
  NotebookActions,
  NotebookPanel
} from '@jupyterlab/notebook';
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { ITrackingState } from './experiments/types';
import {
  STATE_EXPRESSION,
  STOP_CODE,
  startCode,
  stateFromReply,
  statusText
} from './trackingState';

export { TRACKING_MIME } from './trackingState';

/**
 * Tracking state of the notebooks' kernels, and the calls that change it.
 */
export class TrackingController {
  /**
   * @param notebooks - the notebook tracker
   */
  constructor(private readonly notebooks: INotebookTracker) {
    notebooks.currentChanged.connect(() => this._changed.emit());
    notebooks.widgetAdded.connect((_, panel) => {
      const forget = () => {
        const before = this.states.size;
        this.forget(panel);
        if (this.states.size !== before) {
          this._changed.emit();
        }
      };
      panel.sessionContext.kernelChanged.connect(forget);
      panel.sessionContext.statusChanged.connect((_, status) => {
        if (
          status === 'restarting' ||
          status === 'autorestarting' ||
          status === 'dead'
        ) {
          forget();
        }
      });
    });
    // The run a cell started (autolog) shows up in the status bar once the cell is done.
    NotebookActions.executed.connect((_, { notebook }) => {
      const panel = this.notebooks.find(p => p.content === notebook);
      if (panel && this.state(panel)?.active) {
        void this.refresh(panel).catch(() => undefined);
      }
    });
  }

  /** Emitted when a kernel's state or the current notebook changes. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The state of a notebook's kernel (the current notebook by default), if tracked. */
  state(
    panel: NotebookPanel | null = this.notebooks.currentWidget
  ): ITrackingState | null {
    const id = panel?.sessionContext.session?.kernel?.id;
    return (id && this.states.get(id)) || null;
  }

  /**
   * Configure the notebook's kernel to log to a project.
   *
   * @param panel - the notebook
   * @param project - project path
   * @param experiment - experiment name without suffix
   * @returns the new state
   */
  async start(
    panel: NotebookPanel,
    project: string,
    experiment: string
  ): Promise<ITrackingState> {
    return this.execute(panel, startCode(project, experiment));
  }

  /** Stop tracking in the notebook's kernel. */
  async stop(panel: NotebookPanel): Promise<ITrackingState> {
    return this.execute(panel, STOP_CODE);
  }

  /** Ask the kernel for its state (latest run). */
  async refresh(panel: NotebookPanel): Promise<ITrackingState> {
    return this.execute(panel, '');
  }

  private async execute(
    panel: NotebookPanel,
    code: string
  ): Promise<ITrackingState> {
    await panel.sessionContext.ready;
    const kernel = panel.sessionContext.session?.kernel;
    if (!kernel) {
      throw new Error('This notebook has no kernel: start one, then track it.');
    }
    const future = kernel.requestExecute({
      code,
      silent: true,
      store_history: false,
      allow_stdin: false,
      stop_on_error: false,
      user_expressions: { state: STATE_EXPRESSION }
    });
    const reply = (await future.done) as KernelMessage.IExecuteReplyMsg;
    const state = stateFromReply(
      reply.content as Parameters<typeof stateFromReply>[0]
    );
    if (state.active) {
      this.states.set(kernel.id, state);
    } else {
      this.states.delete(kernel.id);
    }
    this._changed.emit();
    return state;
  }

  private forget(panel: NotebookPanel): void {
    // The kernel id may already be gone: drop states of kernels no notebook uses any more.
    const alive = new Set<string>();
    this.notebooks.forEach(p => {
      const id = p.sessionContext.session?.kernel?.id;
      if (id && p !== panel) {
        alive.add(id);
      }
    });
    for (const id of [...this.states.keys()]) {
      if (!alive.has(id)) {
        this.states.delete(id);
      }
    }
  }

  private readonly states = new Map<string, ITrackingState>();
  private readonly _changed = new Signal<this, void>(this);
}

/**
 * The status bar item: where the current notebook logs, and its latest run.
 */
export class TrackingStatus extends Widget {
  /**
   * @param controller - tracking states
   * @param open - open the experiments panel on click
   */
  constructor(
    private readonly controller: TrackingController,
    open: () => void
  ) {
    super();
    this.addClass('jp-mlops-TrackingStatus');
    this.node.setAttribute('role', 'button');
    this.node.tabIndex = 0;
    this.node.title = 'MLflow tracking of this notebook: open the experiments';
    this.node.addEventListener('click', open);
    this.node.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        open();
      }
    });
    controller.changed.connect(this.redraw, this);
    this.redraw();
  }

  /** Redraw from the controller. */
  redraw(): void {
    const state = this.controller.state();
    this.node.textContent = statusText(state);
    this.node.dataset.runStatus = state?.run_status ?? '';
  }
}
