/**
 * What this extension offers other extensions: require IResourceStore in a plugin to read the
 * Substratus resources (kept current from the push channel) and to call the REST API.
 */
import { Token } from '@lumino/coreutils';

import { ResourceStore } from './model';

export type IResourceStore = ResourceStore;

export const IResourceStore = new Token<IResourceStore>(
  'jupyter-substratus:IResourceStore',
  'The Substratus resources of the current namespace, and the client of the REST API.'
);
