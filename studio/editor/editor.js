// The studio's code editor: CodeMirror 6 (npm, pinned in tools/package.json), bundled by esbuild into
// studio/static/vendor/editor.js (`make studio-assets`) and served by the studio itself.
// window.TailorcastEditor.mount(textarea, {file, findings, readOnly}) replaces the textarea and keeps it
// filled for the form; findings ({line, message}) become diagnostics at their line.
import { basicSetup, EditorView } from "codemirror";
import { EditorState } from "@codemirror/state";
import { yaml } from "@codemirror/lang-yaml";
import { html } from "@codemirror/lang-html";
import { lintGutter, setDiagnostics } from "@codemirror/lint";

function language(file) {
  if (/\.ya?ml$/.test(file)) return [yaml()];
  if (/\.html$/.test(file)) return [html()];
  return [];
}

function diagnostics(doc, findings) {
  return findings.map((f) => {
    const line = doc.line(Math.min(Math.max(f.line || 1, 1), doc.lines));
    return { from: line.from, to: Math.max(line.to, line.from), severity: "error", message: (f.path ? f.path + ": " : "") + f.message };
  });
}

function nonce() {
  const meta = document.querySelector("meta[name=csp-nonce]");
  return meta ? meta.content : "";
}

function mount(textarea, { file = "", findings = [], readOnly = false } = {}) {
  const view = new EditorView({
    state: EditorState.create({
      doc: textarea.value,
      extensions: [basicSetup, lintGutter(), EditorView.cspNonce.of(nonce()), ...language(file), EditorState.readOnly.of(readOnly), EditorView.lineWrapping,
        EditorView.contentAttributes.of({ "aria-label": file || "file" })],
    }),
  });
  textarea.style.display = "none";
  textarea.insertAdjacentElement("afterend", view.dom);
  view.dispatch(setDiagnostics(view.state, diagnostics(view.state.doc, findings)));
  if (findings.length && findings[0].line) {
    const line = view.state.doc.line(Math.min(findings[0].line, view.state.doc.lines));
    view.dispatch({ selection: { anchor: line.from }, effects: EditorView.scrollIntoView(line.from, { y: "center" }) });
  }
  textarea.form && textarea.form.addEventListener("submit", () => { textarea.value = view.state.doc.toString(); });
  window.tailorcastEditorView = view;  // for tests and the keyboard: the live editor
  document.body.dataset.editor = "codemirror";
  return view;
}

window.TailorcastEditor = { mount };
