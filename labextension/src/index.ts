import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { LabIcon } from '@jupyterlab/ui-components';

import { ItemView } from './catalog/item';
import { CatalogPanel, ICatalogOptions } from './catalog/panel';
import { itemSnippet } from './catalog/snippets';
import { CommandIDs } from './commands';
import { setupPublish } from './publish';
import { setupExperiments } from './trackingCommands';
import { IOpenItemArgs, IStacItem, PLUGIN_ID } from './tokens';

// Injected by the build from package.json.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const VERSION: string = require('../package.json').version;

const DEFAULTS: ICatalogOptions = {
  pageSize: 20,
  defaultCollections: [],
  tileUrl: ''
};

const catalogIcon = new LabIcon({
  name: 'jupyter-mlops:catalog',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16">' +
    '<path class="jp-icon3" fill="#616161" d="M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm6.9 6h-2.9' +
    'a15.7 15.7 0 0 0-1.4-3.6A8 8 0 0 1 18.9 8zM12 4a14 14 0 0 1 1.9 4h-3.8A14 14 0 0 1 12 4zM4.3 ' +
    '14a8 8 0 0 1 0-4h3.4a16.5 16.5 0 0 0 0 4H4.3zm.8 2h2.9c.3 1.3.8 2.5 1.4 3.6A8 8 0 0 1 5.1 16z' +
    'M8 8H5.1a8 8 0 0 1 4.3-3.6C8.8 5.5 8.3 6.7 8 8zm4 12a14 14 0 0 1-1.9-4h3.8A14 14 0 0 1 12 ' +
    '20zm2.3-6H9.7a14.7 14.7 0 0 1 0-4h4.6a14.7 14.7 0 0 1 0 4zm.3 5.6c.6-1.1 1.1-2.3 1.4-3.6h2.9' +
    'a8 8 0 0 1-4.3 3.6zm1.7-5.6a16.5 16.5 0 0 0 0-4h3.4a8 8 0 0 1 0 4h-3.4z"/></svg>'
});

function readOptions(
  settings: ISettingRegistry.ISettings | null
): ICatalogOptions {
  if (!settings) {
    return DEFAULTS;
  }
  const composite = settings.composite as Partial<ICatalogOptions>;
  return { ...DEFAULTS, ...composite };
}

/**
 * The jupyter-mlops frontend: the catalog panel in the left sidebar and its command.
 */
const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'MLOps for Earth observation: map search of SharingHub catalogs, MLflow and publishing.',
  autoStart: true,
  optional: [
    ISettingRegistry,
    ICommandPalette,
    ILayoutRestorer,
    IRenderMimeRegistry,
    INotebookTracker,
    IStatusBar
  ],
  activate: async (
    app: JupyterFrontEnd,
    settingRegistry: ISettingRegistry | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    rendermime: IRenderMimeRegistry | null,
    notebooks: INotebookTracker | null,
    statusBar: IStatusBar | null
  ) => {
    let settings: ISettingRegistry.ISettings | null = null;
    if (settingRegistry) {
      try {
        settings = await settingRegistry.load(PLUGIN_ID);
      } catch (error) {
        console.error('jupyter-mlops: cannot load settings', error);
      }
    }
    const panel = new CatalogPanel(
      app.serviceManager.serverSettings,
      VERSION,
      readOptions(settings),
      (collection, id) =>
        void app.commands.execute(CommandIDs.openItem, { collection, id })
    );
    const views = new Map<string, ItemView>();

    /** Put a ready cell for the item into the notebook the user worked in last. */
    const insertCode = (item: IStacItem): boolean => {
      const current = notebooks?.currentWidget;
      const url = panel.info?.sharinghub_url;
      if (!current) {
        Notification.warning('Open a notebook first, then insert the code.');
        return false;
      }
      if (!url) {
        Notification.warning('The platform is not connected yet.');
        return false;
      }
      const notebook = current.content;
      const active = notebook.activeCell;
      const empty =
        active?.model.type === 'code' &&
        active.model.sharedModel.getSource().trim() === '';
      if (!empty) {
        NotebookActions.insertBelow(notebook);
      }
      notebook.activeCell?.model.sharedModel.setSource(itemSnippet(item, url));
      app.shell.activateById(current.id);
      return true;
    };
    panel.id = 'jupyter-mlops-catalog';
    panel.title.icon = catalogIcon;
    panel.title.caption = 'MLOps catalog';
    settings?.changed.connect(() => panel.configure(readOptions(settings)));
    app.shell.add(panel, 'left', { rank: 850 });
    restorer?.add(panel, 'jupyter-mlops-catalog');
    void panel.connect();

    app.commands.addCommand(CommandIDs.openCatalog, {
      label: 'Open MLOps Catalog',
      caption: 'Search datasets and models on a map',
      execute: () => {
        app.shell.activateById(panel.id);
      }
    });
    palette?.addItem({ command: CommandIDs.openCatalog, category: 'MLOps' });
    setupPublish({ app, palette, restorer });

    setupExperiments({
      app,
      notebooks,
      palette,
      statusBar,
      restorer,
      info: () => panel.info
    });

    app.commands.addCommand(CommandIDs.openItem, {
      label: 'Open Catalog Item',
      caption: 'Show a catalog item: description, model, assets',
      execute: args => {
        const { collection, id } = args as unknown as IOpenItemArgs;
        const key = `${collection}/${id}`;
        let view = views.get(key);
        if (!view || view.isDisposed) {
          view = new ItemView({
            serverSettings: app.serviceManager.serverSettings,
            collection,
            id,
            rendermime,
            info: () => panel.info,
            openItem: (c, i) =>
              void app.commands.execute(CommandIDs.openItem, {
                collection: c,
                id: i
              }),
            insertCode,
            downloaded: () => {
              if (app.commands.hasCommand('filebrowser:refresh')) {
                void app.commands.execute('filebrowser:refresh');
              }
            }
          });
          views.set(key, view);
          app.shell.add(view, 'main');
          void view.load();
        }
        app.shell.activateById(view.id);
      }
    });

    app.commands.addCommand(CommandIDs.insertItemCode, {
      label: 'Insert Code for Catalog Item',
      caption: 'Insert a cell opening the item into the active notebook',
      isEnabled: () => !!notebooks?.currentWidget,
      execute: async args => {
        const { collection, id } = args as unknown as IOpenItemArgs;
        const view = views.get(`${collection}/${id}`);
        if (view?.item) {
          return insertCode(view.item);
        }
        return false;
      }
    });
  }
};

export default plugin;
