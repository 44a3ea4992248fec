/**
 * A prompt box for a ready Server: sends the prompt with its controls (max tokens, temperature,
 * streaming) and shows the answer, as it streams or at once.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { SubstratusClient } from '../api/client';
import { completionDelta, SseParser } from '../logic/sse';

/** A number the request sends when given; empty, the Server's default. */
function NumberControl(props: {
  label: string;
  bounds: { min: number; max?: number; step: number };
  value: string;
  onChange: (value: string) => void;
  trans: TranslationBundle;
}): JSX.Element {
  return (
    <label>
      {props.label}
      <input
        className="jp-mod-styled"
        type="number"
        {...props.bounds}
        value={props.value}
        placeholder={props.trans.__('default')}
        onChange={e => props.onChange(e.target.value)}
      />
    </label>
  );
}

export function PromptBox(props: {
  client: SubstratusClient;
  server: string;
  trans: TranslationBundle;
}): JSX.Element {
  const { trans } = props;
  const [prompt, setPrompt] = React.useState('');
  const [answer, setAnswer] = React.useState('');
  const [error, setError] = React.useState('');
  const [busy, setBusy] = React.useState(false);
  // Empty: the Server's own default.
  const [maxTokens, setMaxTokens] = React.useState('');
  const [temperature, setTemperature] = React.useState('');
  const [stream, setStream] = React.useState(true);
  const abort = React.useRef<AbortController>();

  React.useEffect(() => () => abort.current?.abort(), []);

  const send = async () => {
    abort.current?.abort();
    const controller = new AbortController();
    abort.current = controller;
    setAnswer('');
    setError('');
    setBusy(true);
    try {
      const options = {
        maxTokens: maxTokens ? Number(maxTokens) : undefined,
        temperature: temperature ? Number(temperature) : undefined,
        stream
      };
      const response = await props.client.complete(
        props.server,
        prompt,
        options,
        controller.signal
      );
      if (!stream) {
        setAnswer(completionDelta(await response.text()) ?? '');
        return;
      }
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      const parser = new SseParser();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) {
          break;
        }
        for (const event of parser.push(decoder.decode(value, { stream: true }))) {
          const delta = completionDelta(event.data);
          if (delta) {
            setAnswer(a => a + delta);
          }
        }
      }
    } catch (e) {
      if (!controller.signal.aborted) {
        setError(String((e as Error).message ?? e));
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="jp-substratus-Prompt">
      <textarea
        className="jp-mod-styled"
        aria-label={trans.__('Prompt')}
        rows={3}
        value={prompt}
        onChange={e => setPrompt(e.target.value)}
        onKeyDown={e => {
          if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
            void send();
          }
        }}
        placeholder={trans.__('Ask the model… (Ctrl+Enter sends)')}
      />
      <div className="jp-substratus-PromptControls">
        <NumberControl
          label={trans.__('Max tokens')}
          bounds={{ min: 1, step: 1 }}
          value={maxTokens}
          onChange={setMaxTokens}
          trans={trans}
        />
        <NumberControl
          label={trans.__('Temperature')}
          bounds={{ min: 0, max: 2, step: 0.1 }}
          value={temperature}
          onChange={setTemperature}
          trans={trans}
        />
        <label>
          <input type="checkbox" checked={stream} onChange={e => setStream(e.target.checked)} />
          {trans.__('Stream')}
        </label>
      </div>
      <div>
        <button
          className="jp-mod-styled jp-mod-accept"
          disabled={busy || !prompt}
          onClick={() => void send()}
        >
          {trans.__('Send')}
        </button>
        {busy && (
          <button className="jp-mod-styled" onClick={() => abort.current?.abort()}>
            {trans.__('Stop')}
          </button>
        )}
      </div>
      {error && <div className="jp-substratus-Error">{error}</div>}
      <pre className="jp-substratus-Answer" aria-live="polite">
        {answer}
      </pre>
    </div>
  );
}
