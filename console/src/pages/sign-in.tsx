/** Sign-in: the person's own API key, checked with GET /v1/me, kept in this page's memory only. */
import { useRef, useState } from "preact/hooks";
import { type Session, signIn } from "../api";
import { ErrorNotice } from "../ui";

export function SignIn(props: {
  onSignedIn: (session: Session) => void;
  /** The workspace the person chose to switch to (a key of that workspace is needed). */
  wanted: { id: string; name: string } | null;
  /** Workspaces already signed into in this page. */
  others: Session[];
  onCancel?: () => void;
}) {
  const input = useRef<HTMLInputElement>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    const field = input.current;
    const key = field?.value.trim() ?? "";
    if (!field || !key) {
      setError(new Error("Paste your API key first."));
      return;
    }
    // Out of the form at once: the key now lives only in the client the SDK builds around it.
    field.value = "";
    setBusy(true);
    setError(null);
    try {
      props.onSignedIn(await signIn(key));
    } catch (failure) {
      setError(failure);
      field.focus();
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="sign-in">
      <h1>Sign in to the Cairn console</h1>
      {props.wanted ? (
        <p>
          To switch to <strong>{props.wanted.name}</strong>, sign in with a key of that workspace: each API key belongs
          to exactly one workspace.
        </p>
      ) : (
        <p>Sign in with your own API key. What you can see and do here is what your key allows.</p>
      )}
      <form onSubmit={submit} method="post" noValidate aria-describedby="key-help">
        <div class="field">
          <label for="api-key">API key</label>
          <input
            id="api-key"
            name="api-key"
            type="password"
            ref={input}
            autocomplete="off"
            spellcheck={false}
            autoCapitalize="off"
            placeholder="cairn_…"
            size={46}
            required
            aria-invalid={error ? true : undefined}
          />
        </div>
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            {busy ? "Signing in…" : "Sign in"}
          </button>
          {props.onCancel ? (
            <button type="button" onClick={props.onCancel}>
              Back
            </button>
          ) : null}
        </div>
      </form>
      <ErrorNotice error={error} />
      <p id="key-help" class="muted">
        The console keeps your key only in this page's memory. It is never saved in the browser (no local or session
        storage, no cookie) and never put in an address, so{" "}
        <strong>reloading the page or opening a new tab asks for it again</strong>. Sign out forgets it at once.
      </p>
      {props.others.length > 0 ? (
        <p class="muted">
          Still signed in to: {props.others.map((session) => session.me.workspace.name).join(", ")} (switch back from
          Account).
        </p>
      ) : null}
    </main>
  );
}
