/**
 * Applying the push channel's change events to the lists the sidebar shows.
 */
import { IResource, Kind, KINDS } from '../api/types';

/** A change, in the shape of a Kubernetes watch event. */
export interface IChangeEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | string;
  object: IResource;
}

export type ResourceLists = Record<Kind, IResource[]>;

export function emptyLists(): ResourceLists {
  return { Dataset: [], Model: [], Server: [], Notebook: [] };
}

/** Parse one message of the push channel; undefined when it is not a change event. */
export function parseChangeEvent(data: string): IChangeEvent | undefined {
  // The shape of a watch event, or of the older {event, resource}; checked below.
  let value: { object?: IResource; resource?: IResource; type?: unknown; event?: unknown } | null;
  try {
    value = JSON.parse(data);
  } catch {
    return undefined;
  }
  const object = value?.object ?? value?.resource;
  const type = value?.type ?? value?.event;
  if (!object || typeof type !== 'string' || !object.metadata?.name) {
    return undefined;
  }
  if (!KINDS.includes(object.kind)) {
    return undefined;
  }
  return { type: type.toUpperCase(), object };
}

function byName(a: IResource, b: IResource): number {
  return a.metadata.name.localeCompare(b.metadata.name);
}

/** A new ResourceLists with the event applied (the input is not changed). */
export function applyChange(lists: ResourceLists, event: IChangeEvent): ResourceLists {
  const kind = event.object.kind;
  const name = event.object.metadata.name;
  const rest = lists[kind].filter(r => r.metadata.name !== name);
  const next = event.type === 'DELETED' ? rest : [...rest, event.object].sort(byName);
  return { ...lists, [kind]: next };
}

/** Replace one kind's list with a fresh listing, sorted. */
export function replaceKind(lists: ResourceLists, kind: Kind, items: IResource[]): ResourceLists {
  return { ...lists, [kind]: [...items].sort(byName) };
}
