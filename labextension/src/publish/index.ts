import { ILayoutRestorer, JupyterFrontEnd } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { LabIcon } from '@jupyterlab/ui-components';

import { CommandIDs } from '../commands';
import { PublishPanel } from './panel';

const publishIcon = new LabIcon({
  name: 'jupyter-mlops:publish',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16">' +
    '<path class="jp-icon3" fill="#616161" d="M11 16V7.8l-3.6 3.6L6 10l6-6 6 6-1.4 1.4L13 ' +
    '7.8V16h-2zm-7 4v-6h2v4h12v-4h2v6H4z"/></svg>'
});

/** What the Publish panel needs from the plugin. */
export interface IPublishSetup {
  app: JupyterFrontEnd;
  palette: ICommandPalette | null;
  restorer: ILayoutRestorer | null;
}

/**
 * Add the Publish panel to the left sidebar and its command `jupyter-mlops:open-publish`.
 *
 * @param setup - the application and optional services
 * @returns the panel
 */
export function setupPublish({
  app,
  palette,
  restorer
}: IPublishSetup): PublishPanel {
  const panel = new PublishPanel({
    serverSettings: app.serviceManager.serverSettings,
    contents: app.serviceManager.contents,
    openItem: (collection, id) =>
      void app.commands.execute(CommandIDs.openItem, { collection, id })
  });
  panel.id = 'jupyter-mlops-publish';
  panel.title.icon = publishIcon;
  panel.title.caption = 'Publish to the MLOps catalog';
  app.shell.add(panel, 'left', { rank: 852 });
  restorer?.add(panel, 'jupyter-mlops-publish');
  app.commands.addCommand(CommandIDs.openPublish, {
    label: 'Publish Model or Dataset',
    caption: 'Publish workspace files as a catalog project',
    execute: () => {
      app.shell.activateById(panel.id);
    }
  });
  palette?.addItem({ command: CommandIDs.openPublish, category: 'MLOps' });
  return panel;
}
