/** Who you are (the key's user, role, scopes and workspace) and the workspaces you can switch to. */
import { can, type Session } from "../api";
import { href } from "../router";
import { Facts, Time } from "../ui";

export function AccountPage(props: {
  session: Session;
  switchTo: (workspace: { id: string; name: string }) => void;
  signedInTo: Set<string>;
}) {
  const { me, workspaces } = props.session;
  const others = workspaces.filter((workspace) => workspace.id !== me.workspace.id);
  return (
    <section aria-labelledby="account-title">
      <h1 id="account-title">Account</h1>
      <h2>You</h2>
      <Facts
        rows={[
          ["Name", me.user.name ?? "—"],
          ["Email", me.user.email],
          ["User id", <code key="u">{me.user.id}</code>],
          ["Role", me.role ? me.role.toLowerCase() : "not a member any more"],
        ]}
      />
      <h2>Workspace</h2>
      <Facts
        rows={[
          ["Name", me.workspace.name],
          ["Id", <code key="w">{me.workspace.id}</code>],
        ]}
      />
      <h2>This key</h2>
      <Facts
        rows={[
          ["Name", me.apiKey.name],
          ["Prefix", <code key="p">cairn_{me.apiKey.prefix}_…</code>],
          ["Scopes", me.apiKey.scopes.join(", ")],
          ["Expires", me.apiKey.expiresAt ? <Time value={me.apiKey.expiresAt} /> : "never"],
          ["Created", <Time key="c" value={me.apiKey.createdAt} />],
        ]}
      />
      {can(props.session, "admin") ? (
        <p>
          <a href={href("activity", { entityType: "api_key", entityId: me.apiKey.id })}>Activity of this key</a>
        </p>
      ) : null}
      <h2>Switch workspace</h2>
      {others.length === 0 ? (
        <p class="muted">You belong to no other workspace.</p>
      ) : (
        <>
          <p>
            An API key belongs to one workspace, so switching means signing in with a key of the other workspace (once
            per page: workspaces you have signed into are remembered until you reload or sign out).
          </p>
          <ul>
            {others.map((workspace) => (
              <li key={workspace.id}>
                {workspace.name} <span class="muted">({workspace.role?.toLowerCase() ?? "member"})</span>{" "}
                <button type="button" onClick={() => props.switchTo(workspace)}>
                  {props.signedInTo.has(workspace.id) ? `Switch to ${workspace.name}` : `Sign in to ${workspace.name}`}
                </button>
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
