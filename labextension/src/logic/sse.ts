/**
 * Server-sent events parsing for streamed completions (OpenAI-compatible servers).
 */
import { LineBuffer } from './progress';

export interface ISseEvent {
  event?: string;
  data: string;
}

/** Feed chunks of an SSE stream; get the complete events out. */
export class SseParser {
  private _lines = new LineBuffer();
  private _data: string[] = [];
  private _event: string | undefined;

  push(chunk: string): ISseEvent[] {
    const events: ISseEvent[] = [];
    for (const line of this._lines.push(chunk)) {
      if (line === '') {
        if (this._data.length > 0) {
          events.push({ event: this._event, data: this._data.join('\n') });
        }
        this._data = [];
        this._event = undefined;
      } else if (line.startsWith('data:')) {
        this._data.push(line.slice(5).replace(/^ /, ''));
      } else if (line.startsWith('event:')) {
        this._event = line.slice(6).trim();
      }
    }
    return events;
  }
}

/** The text a completion event adds, for /v1/completions or /v1/chat/completions. */
export function completionDelta(data: string): string | undefined {
  if (data.trim() === '[DONE]') {
    return undefined;
  }
  try {
    const v = JSON.parse(data);
    const choice = v?.choices?.[0];
    return choice?.text ?? choice?.delta?.content ?? undefined;
  } catch {
    return undefined;
  }
}
