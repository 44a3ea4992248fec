/** Command ids of the extension; each is labelled in the palette. */
export namespace CommandIDs {
  export const openSidebar = 'substratus:open-sidebar';
  export const refresh = 'substratus:refresh';
  export const createDataset = 'substratus:create-dataset';
  export const importModel = 'substratus:import-model';
  export const fineTune = 'substratus:fine-tune';
  export const deployServer = 'substratus:deploy-server';
  export const createNotebook = 'substratus:create-notebook';
  export const details = 'substratus:details';
  export const logs = 'substratus:logs';
  export const delete_ = 'substratus:delete';
  export const rerun = 'substratus:rerun';
  export const suspend = 'substratus:suspend';
  export const resume = 'substratus:resume';
  export const openNotebook = 'substratus:open-notebook';
  export const exportNotebook = 'substratus:export-notebook';
}
