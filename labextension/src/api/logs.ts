/**
 * A workload's log as lines, read as the stream comes (the details view, the sidebar's progress
 * bar and the loss comparison all read logs this way).
 */
import { Kind } from './types';
import { SubstratusClient } from './client';
import { LineBuffer } from '../logic/progress';

/**
 * Reads the log (following it when `follow`) and hands each batch of complete lines to
 * `onLines`; resolves when the stream ends, rejects with the API's error.
 */
export async function readLogLines(
  client: SubstratusClient,
  kind: Kind,
  name: string,
  onLines: (lines: string[]) => void,
  options: { follow?: boolean; signal?: AbortSignal } = {}
): Promise<void> {
  const { follow = true, signal } = options;
  const buffer = new LineBuffer();
  const emit = (lines: string[]) => lines.length > 0 && onLines(lines);
  const response = await client.logs(kind, name, follow, signal);
  const reader = response.body?.getReader();
  if (!reader) {
    emit(buffer.push(await response.text()).concat(buffer.flush()));
    return;
  }
  const decoder = new TextDecoder();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) {
      break;
    }
    emit(buffer.push(decoder.decode(value, { stream: true })));
  }
  emit(buffer.flush());
}
