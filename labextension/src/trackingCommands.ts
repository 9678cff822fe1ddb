/**
 * Commands of tracking and experiments: `jupyter-mlops:track-notebook` (the notebook toolbar
 * button, declared in the settings schema's `jupyter.lab.toolbars`), and
 * `jupyter-mlops:open-experiments` (the experiments panel), plus the status bar item.
 */

import { ILayoutRestorer, JupyterFrontEnd } from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IStatusBar } from '@jupyterlab/statusbar';
import { LabIcon } from '@jupyterlab/ui-components';

import { checkAccess } from './api';
import { CommandIDs } from './commands';
import { ExperimentsPanel } from './experiments/panel';
import { IPlatformInfo } from './tokens';
import { TrackingController, TrackingStatus } from './tracking';
import { pickTrackingProject } from './trackingPicker';
import { setupLogNotebook } from './logNotebook';

/** The publish panel's command, when that part of the extension is present. */
const PUBLISH_COMMAND = 'jupyter-mlops:open-publish';

/** Line chart icon of the tracking button and the experiments panel. */
export const trackingIcon = new LabIcon({
  name: 'jupyter-mlops:tracking',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16">' +
    '<path class="jp-icon3" fill="#616161" d="M3 3h2v16h16v2H3V3zm4 12.6 4.3-4.3 3 3L19.6 9' +
    'l1.4 1.4-6.7 6.7-3-3L8.4 17 7 15.6z"/></svg>'
});

/** What the tracking commands need from the plugin. */
export interface IExperimentsSetup {
  /** The application. */
  app: JupyterFrontEnd;
  /** Notebooks (tracking needs them). */
  notebooks: INotebookTracker | null;
  /** Command palette. */
  palette: ICommandPalette | null;
  /** Status bar. */
  statusBar: IStatusBar | null;
  /** Layout restorer. */
  restorer: ILayoutRestorer | null;
  /** Platform description, once known. */
  info: () => IPlatformInfo | null;
}

/**
 * Register the tracking and experiments commands, the status item and the panel.
 *
 * @param setup - application parts
 * @returns the tracking controller, or null without notebooks
 */
export function setupExperiments(
  setup: IExperimentsSetup
): TrackingController | null {
  const { app, notebooks, palette, statusBar, info } = setup;
  const settings = app.serviceManager.serverSettings;
  const createProject = () =>
    app.commands.hasCommand(PUBLISH_COMMAND)
      ? () => void app.commands.execute(PUBLISH_COMMAND)
      : null;
  let panel: ExperimentsPanel | null = null;

  const choose = async (title: string, action: string) => {
    const choice = await pickTrackingProject(
      settings,
      '',
      createProject(),
      title,
      action
    );
    if (!choice) {
      return null;
    }
    const access = await checkAccess(settings, choice.project);
    return { path: access.path, id: access.id };
  };

  const openPanel = async (project?: string, experiment?: string) => {
    if (!panel || panel.isDisposed) {
      panel = new ExperimentsPanel({
        serverSettings: settings,
        info,
        pickProject: () => choose('Show experiments of a project', 'Show'),
        downloaded: () => {
          if (app.commands.hasCommand('filebrowser:refresh')) {
            void app.commands.execute('filebrowser:refresh');
          }
        }
      });
      panel.title.icon = trackingIcon;
      app.shell.add(panel, 'main');
    }
    app.shell.activateById(panel.id);
    const tracked = controller?.state();
    let target: { path: string; id: number } | null = null;
    if (project) {
      const access = await checkAccess(settings, project);
      target = { path: access.path, id: access.id };
    } else if (tracked?.project && tracked.project_id !== null) {
      target = { path: tracked.project, id: tracked.project_id };
      experiment = experiment ?? tracked.experiment ?? undefined;
    } else if (!panel.project) {
      target = await choose('Show experiments of a project', 'Show');
    }
    if (target) {
      await panel.showProject(target.path, target.id, experiment);
    } else {
      await panel.refresh();
    }
  };

  app.commands.addCommand(CommandIDs.openExperiments, {
    label: 'Open MLflow Experiments',
    caption:
      'Runs, metric charts, artifacts and registered models of a project',
    icon: trackingIcon,
    execute: async args => {
      try {
        await openPanel(
          (args.project as string | undefined) || undefined,
          (args.experiment as string | undefined) || undefined
        );
      } catch (error) {
        Notification.error(`Experiments: ${(error as Error).message}`);
      }
    }
  });
  palette?.addItem({ command: CommandIDs.openExperiments, category: 'MLOps' });

  if (!notebooks) {
    return null;
  }
  const controller = new TrackingController(notebooks);
  const tracking = () => !!controller.state()?.active;

  app.commands.addCommand(CommandIDs.trackNotebook, {
    label: () =>
      tracking() ? 'Stop MLflow Tracking' : 'Track Notebook with MLflow',
    caption: () =>
      tracking()
        ? `Stop logging to ${controller.state()?.project}`
        : "Log this notebook's MLflow runs to a model project (autolog on)",
    icon: trackingIcon,
    isToggled: tracking,
    isEnabled: () => !!notebooks.currentWidget,
    execute: async () => {
      const current = notebooks.currentWidget;
      if (!current) {
        return;
      }
      try {
        if (controller.state(current)?.active) {
          await controller.stop(current);
          Notification.info('MLflow tracking stopped.', { autoClose: 3000 });
          return;
        }
        const name = PathExt.basename(current.context.path, '.ipynb');
        const choice = await pickTrackingProject(
          settings,
          name,
          createProject()
        );
        if (!choice) {
          return;
        }
        const state = await controller.start(
          current,
          choice.project,
          choice.experiment
        );
        Notification.success(
          `Tracking to ${state.project}, experiment "${state.experiment}"` +
            (state.autolog.length
              ? ` (autolog: ${state.autolog.join(', ')})`
              : ''),
          { autoClose: 5000 }
        );
      } catch (error) {
        Notification.error(`MLflow tracking: ${(error as Error).message}`);
      }
    }
  });
  palette?.addItem({ command: CommandIDs.trackNotebook, category: 'MLOps' });
  setupLogNotebook(app, notebooks, controller, palette);
  let lastRun = '';
  controller.changed.connect(() => {
    app.commands.notifyCommandChanged(CommandIDs.trackNotebook);
    const state = controller.state();
    const run = `${state?.run_id}:${state?.run_status}`;
    // The panel follows the tracked notebook's runs: a new run appears when its cell ends.
    if (
      run !== lastRun &&
      panel &&
      !panel.isDisposed &&
      panel.project === state?.project
    ) {
      void panel.refresh();
    }
    lastRun = run;
  });

  if (statusBar) {
    const item = new TrackingStatus(controller, () => {
      void app.commands.execute(CommandIDs.openExperiments);
    });
    statusBar.registerStatusItem('jupyter-mlops:tracking-status', {
      item,
      align: 'left',
      rank: 5,
      isActive: tracking,
      activeStateChanged: controller.changed
    });
  }
  return controller;
}
