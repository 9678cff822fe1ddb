/**
 * "Log this notebook" (`jupyter-mlops:log-notebook`, a notebook toolbar button declared in the
 * settings schema): saves the notebook, asks its kernel for the variables it can log as
 * parameters, lets the user pick them, then records an MLflow run in the tracked project with
 * `jupyter_mlops.notebook_logging.log_notebook` executed silently in the kernel.
 */

import { JupyterFrontEnd } from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  Notification,
  showDialog
} from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { KernelMessage } from '@jupyterlab/services';
import { LabIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { CommandIDs } from './commands';
import {
  IKernelVariable,
  ILoggedRun,
  IReplyContent,
  VARIABLES_EXPRESSION,
  kernelPath,
  logNotebookExpression,
  loggedText,
  readLoggedRun,
  readVariables
} from './logNotebookState';
import { TrackingController } from './tracking';

/** Notebook-with-upload icon of the button. */
export const logNotebookIcon = new LabIcon({
  name: 'jupyter-mlops:log-notebook',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16">' +
    '<path class="jp-icon3" fill="#616161" d="M6 2h9l5 5v15H4V2h2zm8 1.5V8h4.5L14 3.5zM12 ' +
    '10l-4 4h3v4h2v-4h3l-4-4z"/></svg>'
});

/** Evaluate one expression silently in the notebook's kernel; the reply content. */
async function evaluate(
  panel: NotebookPanel,
  expression: string
): Promise<IReplyContent> {
  await panel.sessionContext.ready;
  const kernel = panel.sessionContext.session?.kernel;
  if (!kernel) {
    throw new Error('This notebook has no kernel.');
  }
  const future = kernel.requestExecute({
    code: '',
    silent: true,
    store_history: false,
    allow_stdin: false,
    stop_on_error: false,
    user_expressions: { result: expression }
  });
  const reply = (await future.done) as KernelMessage.IExecuteReplyMsg;
  return reply.content as IReplyContent;
}

/**
 * The dialog body: one checkbox per variable.
 */
class ParameterPicker extends Widget implements Dialog.IBodyWidget<string[]> {
  constructor(variables: IKernelVariable[]) {
    super();
    this.addClass('jp-mlops-log-params');
    const intro = document.createElement('p');
    intro.textContent = variables.length
      ? 'Variables to log as parameters of the run:'
      : 'This kernel has no int, float, str or bool variable to log as a parameter; ' +
        'the run records the notebook, its environment and its git commit.';
    this.node.append(intro);
    const list = document.createElement('ul');
    list.className = 'jp-mlops-log-params-list';
    // Checkboxes are the markers (the shared stylesheet has no rule for this dialog).
    list.style.listStyle = 'none';
    list.style.paddingLeft = '0';
    for (const variable of variables) {
      const item = document.createElement('li');
      const label = document.createElement('label');
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.value = variable.name;
      box.name = variable.name;
      const text = document.createElement('span');
      text.textContent = ` ${variable.name} (${variable.type}) = ${variable.repr}`;
      label.append(box, text);
      item.append(label);
      list.append(item);
    }
    this.node.append(list);
  }

  getValue(): string[] {
    return [
      ...this.node.querySelectorAll<HTMLInputElement>('input[type=checkbox]')
    ]
      .filter(box => box.checked)
      .map(box => box.value);
  }
}

/**
 * Register `jupyter-mlops:log-notebook`.
 *
 * @param app - the application
 * @param notebooks - the notebook tracker
 * @param controller - tracking states (the command is enabled while tracking)
 * @param palette - command palette
 */
export function setupLogNotebook(
  app: JupyterFrontEnd,
  notebooks: INotebookTracker,
  controller: TrackingController,
  palette: ICommandPalette | null
): void {
  const tracking = () => !!controller.state()?.active;
  app.commands.addCommand(CommandIDs.logNotebook, {
    label: 'Log this Notebook to MLflow',
    caption: () =>
      tracking()
        ? `Record a run in ${controller.state()?.project}: notebook, environment, git commit, parameters`
        : 'Log this notebook (start MLflow tracking first)',
    icon: logNotebookIcon,
    isEnabled: () => !!notebooks.currentWidget && tracking(),
    execute: async () => {
      const current = notebooks.currentWidget;
      if (!current || !controller.state(current)?.active) {
        return;
      }
      try {
        await current.context.save();
        const variables = readVariables(
          await evaluate(current, VARIABLES_EXPRESSION)
        );
        const answer = await showDialog({
          title: 'Log this notebook to MLflow',
          body: new ParameterPicker(variables),
          buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Log' })]
        });
        if (!answer.button.accept) {
          return;
        }
        const path = kernelPath(
          PageConfig.getOption('serverRoot'),
          current.context.path
        );
        const run: ILoggedRun = readLoggedRun(
          await evaluate(
            current,
            logNotebookExpression(path, answer.value ?? [])
          )
        );
        void controller.refresh(current).catch(() => undefined);
        Notification.success(loggedText(run), {
          autoClose: 8000,
          actions: [
            {
              label: 'Open in Experiments',
              callback: () =>
                void app.commands.execute(CommandIDs.openExperiments, {
                  project: run.project,
                  experiment: run.experiment
                })
            }
          ]
        });
      } catch (error) {
        Notification.error(`Log this notebook: ${(error as Error).message}`);
      }
    }
  });
  palette?.addItem({ command: CommandIDs.logNotebook, category: 'MLOps' });
  controller.changed.connect(() =>
    app.commands.notifyCommandChanged(CommandIDs.logNotebook)
  );
}
