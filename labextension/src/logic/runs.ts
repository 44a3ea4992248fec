/**
 * Runs that compare: the fine-tunes of one base model.
 */
import { IResource } from '../api/types';

/** The other fine-tunes (Models with a dataset) of the same base model as `model`. */
export function sameBaseRuns(model: IResource, models: IResource[]): IResource[] {
  const base = model.spec.model?.name;
  if (!base) {
    return [];
  }
  return models.filter(
    m => m.metadata.name !== model.metadata.name && !!m.spec.dataset && m.spec.model?.name === base
  );
}
