// The JSON editor: CodeMirror 6 with JSON highlighting, bracket matching, folding, search, and a
// linter that marks syntax errors as you type (the Save buttons stay disabled while the text does
// not parse). Mod-S calls onSave.

import { useEffect, useRef } from 'preact/hooks';
import { EditorView, basicSetup } from 'codemirror';
import { EditorState, Compartment } from '@codemirror/state';
import { keymap } from '@codemirror/view';
import { json, jsonParseLinter } from '@codemirror/lang-json';
import { linter, lintGutter } from '@codemirror/lint';

export interface JsonEditorProps {
  /** The text; the editor owns it while the user types and reports it through onChange. */
  value: string;
  /**
   * Bump to replace the editor's text with `value` (a reload, a merge choice). The editor does not
   * follow `value` otherwise: effects run after the browser paints, so a value one render old
   * would overwrite keystrokes made since.
   */
  revision?: number;
  onChange?: (text: string) => void;
  onSave?: () => void;
  readOnly?: boolean;
  label: string;
  /** Lines of height at least (the editor grows with its content). */
  minLines?: number;
}

/** What JSON.parse says about `text`, with a line and column, or undefined when it parses. */
export function jsonError(text: string): string | undefined {
  try {
    JSON.parse(text);
    return undefined;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const m = /position (\d+)/.exec(msg);
    if (!m) return msg;
    const pos = Number(m[1]);
    const before = text.slice(0, pos).split('\n');
    return `${msg.replace(/ in JSON at position \d+.*$/, '')} at line ${before.length}, column ${(before[before.length - 1]?.length ?? 0) + 1}`;
  }
}

export function JsonEditor(props: JsonEditorProps) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | undefined>(undefined);
  const cbs = useRef(props);
  cbs.current = props;
  const readOnly = useRef(new Compartment());

  useEffect(() => {
    const v = new EditorView({
      parent: host.current!,
      state: EditorState.create({
        doc: props.value,
        extensions: [
          keymap.of([{ key: 'Mod-s', preventDefault: true, run: () => (cbs.current.onSave?.(), true) }]),
          basicSetup,
          json(),
          linter(jsonParseLinter(), { delay: 150 }),
          lintGutter(),
          readOnly.current.of([EditorState.readOnly.of(!!props.readOnly), EditorView.editable.of(!props.readOnly)]),
          EditorView.contentAttributes.of({ 'aria-label': props.label }),
          EditorView.updateListener.of((u) => {
            if (u.docChanged) cbs.current.onChange?.(u.state.doc.toString());
          }),
          EditorView.theme({ '&': { minHeight: `${(props.minLines ?? 8) * 1.4}em` }, '.cm-scroller': { fontFamily: 'ui-monospace, Menlo, Consolas, monospace' } }),
        ],
      }),
    });
    view.current = v;
    return () => v.destroy();
  }, []);

  // Text set from outside (a reload, a merge choice) replaces the document.
  useEffect(() => {
    const v = view.current;
    if (v && v.state.doc.toString() !== props.value) v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: props.value } });
  }, [props.revision]);

  useEffect(() => {
    view.current?.dispatch({ effects: readOnly.current.reconfigure([EditorState.readOnly.of(!!props.readOnly), EditorView.editable.of(!props.readOnly)]) });
  }, [props.readOnly]);

  return <div class="editor" ref={host} />;
}
