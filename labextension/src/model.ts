/**
 * The resources the sidebar shows, kept current from the API: a full listing on start and
 * on demand, then the push channel's change events; a slow poll covers a lost channel.
 */
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { SubstratusClient } from './api/client';
import { IResource, IServerInfo, Kind, KINDS } from './api/types';
import {
  applyChange,
  emptyLists,
  parseChangeEvent,
  replaceKind,
  ResourceLists
} from './logic/events';

export class ResourceStore implements IDisposable {
  constructor(readonly client: SubstratusClient) {}

  get lists(): ResourceLists {
    return this._lists;
  }

  /** The server's backend, default namespace and facts (GET /), once known. */
  get info(): IServerInfo | undefined {
    return this._info;
  }

  /**
   * The server's info, asked for now when it is not known yet (the dialogs need its facts).
   * Callers use `store.info ?? (await store.loadInfo())`: with no await once it is known, a
   * dialog opens within the command that asked for it (the palette's focus handling needs that).
   */
  async loadInfo(): Promise<IServerInfo> {
    this._info ??= await this.client.info();
    return this._info;
  }

  get error(): string | undefined {
    return this._error;
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  find(kind: Kind, name: string): IResource | undefined {
    return this._lists[kind].find(r => r.metadata.name === name);
  }

  /** List every kind again. */
  async refresh(): Promise<void> {
    if (!this._info) {
      try {
        this._info = await this.client.info();
      } catch {
        // the listings below report what is wrong
      }
    }
    const results = await Promise.allSettled(KINDS.map(k => this.client.list(k)));
    let lists = this._lists;
    const errors: string[] = [];
    results.forEach((result, i) => {
      if (result.status === 'fulfilled') {
        lists = replaceKind(lists, KINDS[i], result.value);
      } else {
        errors.push(String(result.reason?.message ?? result.reason));
      }
    });
    this._lists = lists;
    this._error = errors.length ? errors[0] : undefined;
    this._changed.emit();
  }

  /** Put a resource the API just returned into its list (before the push event comes). */
  upsert(resource: IResource): void {
    this._apply({ type: 'MODIFIED', object: resource });
  }

  remove(resource: IResource): void {
    this._apply({ type: 'DELETED', object: resource });
  }

  /** Start listening: push channel plus a poll every `pollSeconds` (0: no poll). */
  start(pollSeconds: number): void {
    this._connect();
    this.setPollInterval(pollSeconds);
    void this.refresh();
  }

  /** Listen again (the namespace changed): a new push channel and a full listing. */
  reconnect(): void {
    this._source?.close();
    this._source = undefined;
    this._lists = emptyLists();
    this._info = undefined;
    this._connect();
    void this.refresh();
  }

  setPollInterval(seconds: number): void {
    if (this._timer) {
      clearInterval(this._timer);
      this._timer = undefined;
    }
    if (seconds > 0 && !this._disposed) {
      this._timer = setInterval(() => void this.refresh(), seconds * 1000);
    }
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this.setPollInterval(0);
    this._source?.close();
    Signal.clearData(this);
  }

  private _apply(event: Parameters<typeof applyChange>[1]): void {
    this._lists = applyChange(this._lists, event);
    this._changed.emit();
  }

  /** The push channel: server-sent events of Kubernetes-watch-shaped changes. */
  private _connect(): void {
    if (this._disposed || typeof EventSource === 'undefined') {
      return;
    }
    // EventSource sends no headers: the token (where one is used) goes in the query.
    const token = this.client.serverSettings.token;
    const url = this.client.url('events', token ? { token } : {});
    const source = new EventSource(url, { withCredentials: true });
    this._source = source;
    source.onmessage = msg => {
      const event = parseChangeEvent(msg.data);
      if (event) {
        this._apply(event);
      }
    };
    source.onerror = () => {
      // EventSource reconnects by itself (onopen lists again); when it gives up, start anew.
      if (source.readyState === EventSource.CLOSED && !this._disposed && this._source === source) {
        setTimeout(() => this._connect(), 5000);
      }
    };
    source.onopen = () => void this.refresh();
  }

  private _lists: ResourceLists = emptyLists();
  private _error: string | undefined;
  private _info: IServerInfo | undefined;
  private _changed = new Signal<this, void>(this);
  private _timer: ReturnType<typeof setInterval> | undefined;
  private _source: EventSource | undefined;
  private _disposed = false;
}
