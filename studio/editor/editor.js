// The studio's code editor: CodeMirror 6 (npm, pinned in tools/package.json), bundled by esbuild into
// studio/static/vendor/editor.js (`make studio-assets`) and served by the studio itself.
// window.TailorcastEditor.mount(textarea, {file, findings, readOnly}) replaces the textarea and keeps it
// filled for the form; findings ({line, message}) become diagnostics at their line, and while one types the draft is
// checked by the studio (nothing saved) and its problems replace them.
import { basicSetup, EditorView } from "codemirror";
import { EditorState } from "@codemirror/state";
import { yaml } from "@codemirror/lang-yaml";
import { html } from "@codemirror/lang-html";
import { linter, lintGutter, setDiagnostics } from "@codemirror/lint";

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

// As one types: the studio checks the draft (POST .../check, nothing saved) and the answer becomes the diagnostics.
function liveCheck(form, textarea) {
  return linter(async (view) => {
    const body = new FormData(form);
    body.set(textarea.name, view.state.doc.toString());
    const resp = await fetch(form.action.replace(/\/save$/, "/check"), { method: "POST", body, credentials: "same-origin" });
    if (!resp.ok) return [];
    const answer = await resp.json();
    document.body.dataset.liveCheck = answer.valid ? "valid" : answer.findings.length + " problems";
    return diagnostics(view.state.doc, answer.findings.filter((f) => f.file === textarea.dataset.file));
  }, { delay: 700 });
}

function mount(textarea, { file = "", findings = [], readOnly = false } = {}) {
  const view = new EditorView({
    state: EditorState.create({
      doc: textarea.value,
      extensions: [basicSetup, lintGutter(), EditorView.cspNonce.of(nonce()), ...(readOnly || !textarea.form ? [] : [liveCheck(textarea.form, textarea)]), ...language(file), EditorState.readOnly.of(readOnly), EditorView.lineWrapping,
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
