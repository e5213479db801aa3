/**
 * The Cairn console: sign in with your own API key, then approve, inspect and redrive. The key
 * is held in this page's memory only (see api.ts), so a reload or a new tab asks for it again.
 */
import "./styles.css";
import { render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { can, type Session } from "./api";
import { useResource } from "./data";
import { AccountPage } from "./pages/account";
import { ActivityPage } from "./pages/activity";
import { ApprovalPage, ApprovalsPage } from "./pages/approvals";
import { DeadLetterPage, DeadLettersPage } from "./pages/dead-letters";
import { MemoryPage, MemorySearchPage } from "./pages/memory";
import { SignIn } from "./pages/sign-in";
import { ItemPage, OrderPage, OrdersPage } from "./pages/work";
import { href, type Route, useRoute } from "./router";

const SECTIONS = [
  { path: "approvals", label: "Approvals", scope: "approvals:read" },
  { path: "work", label: "Work", scope: "work:read" },
  { path: "dead-letters", label: "Dead letters", scope: "work:read" },
  { path: "memory", label: "Memory", scope: "memory:read" },
  { path: "activity", label: "Activity", scope: null },
  { path: "account", label: "Account", scope: null },
] as const;

function App() {
  // Every workspace signed into during this page's life, by workspace id: switching back needs no
  // key again until the page is reloaded. Memory only.
  const [sessions, setSessions] = useState<Map<string, Session>>(new Map());
  const [current, setCurrent] = useState<string | null>(null);
  /** Set when the person chose a workspace they have no key for yet in this page. */
  const [wanted, setWanted] = useState<{ id: string; name: string } | null>(null);
  const session = current ? sessions.get(current) : undefined;

  const signedIn = (next: Session) => {
    setSessions((map) => new Map(map).set(next.me.workspace.id, next));
    setCurrent(next.me.workspace.id);
    setWanted(null);
  };
  const signOut = () => {
    setSessions(new Map());
    setCurrent(null);
    setWanted(null);
  };
  const switchTo = (workspace: { id: string; name: string }) => {
    if (sessions.has(workspace.id)) {
      setCurrent(workspace.id);
      setWanted(null);
    } else {
      setWanted(workspace);
      setCurrent(null);
    }
  };

  if (!session) {
    return (
      <SignIn
        onSignedIn={signedIn}
        wanted={wanted}
        others={[...sessions.values()]}
        onCancel={
          sessions.size ? () => switchTo([...sessions.values()][0]?.me.workspace ?? { id: "", name: "" }) : undefined
        }
      />
    );
  }
  return <Shell session={session} signOut={signOut} switchTo={switchTo} signedInTo={new Set(sessions.keys())} />;
}

function Shell(props: {
  session: Session;
  signOut: () => void;
  switchTo: (workspace: { id: string; name: string }) => void;
  signedInTo: Set<string>;
}) {
  const { session } = props;
  const route = useRoute();
  const section = route.path[0] ?? "approvals";
  const heading = useRef<HTMLDivElement>(null);
  const inbox = useResource(
    () =>
      can(session, "approvals:read")
        ? session.client.GET("/v1/approvals", { params: { query: { mine: "true", limit: 100 } } })
        : Promise.resolve(undefined),
    [session],
    15_000,
  );
  const toDecide = inbox.data?.items.length ?? 0;

  // A new page moves focus to its content, so keyboard and screen-reader users start there.
  const routeKey = `${route.path.join("/")}`;
  useEffect(() => {
    heading.current?.focus();
  }, [routeKey]);

  return (
    <>
      <button type="button" class="skip-link" onClick={() => heading.current?.focus()}>
        Skip to content
      </button>
      <header class="top">
        <span class="brand">Cairn</span>
        <nav class="main" aria-label="Sections">
          <ul>
            {SECTIONS.filter((item) => !item.scope || can(session, item.scope)).map((item) => (
              <li key={item.path}>
                <a href={href(item.path)} aria-current={section === item.path ? "page" : undefined}>
                  {item.label}
                  {item.path === "approvals" && toDecide > 0 ? (
                    <>
                      <span class="badge-count" aria-hidden="true">
                        {toDecide > 99 ? "99+" : toDecide}
                      </span>
                      <span class="visually-hidden"> ({toDecide} to decide)</span>
                    </>
                  ) : null}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="whoami" data-testid="whoami">
          <span>
            {session.me.user.name ?? session.me.user.email} · {session.me.role?.toLowerCase() ?? "no role"} in{" "}
            <strong>{session.me.workspace.name}</strong>
          </span>
          <button type="button" onClick={props.signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main>
        <div id="content" tabIndex={-1} ref={heading} />
        <Page route={route} {...props} />
      </main>
    </>
  );
}

function Page(props: {
  route: Route;
  session: Session;
  switchTo: (workspace: { id: string; name: string }) => void;
  signedInTo: Set<string>;
}) {
  const { route, session } = props;
  const [section = "approvals", id] = route.path;
  switch (section) {
    case "approvals":
      return id ? <ApprovalPage session={session} id={id} /> : <ApprovalsPage session={session} route={route} />;
    case "work":
      return id ? <OrderPage session={session} id={id} /> : <OrdersPage session={session} route={route} />;
    case "items":
      return id ? <ItemPage session={session} id={id} /> : null;
    case "dead-letters":
      return id ? <DeadLetterPage session={session} id={id} /> : <DeadLettersPage session={session} route={route} />;
    case "memory":
      return id ? <MemoryPage session={session} id={id} /> : <MemorySearchPage session={session} />;
    case "activity":
      return <ActivityPage session={session} route={route} />;
    case "account":
      return <AccountPage session={session} switchTo={props.switchTo} signedInTo={props.signedInTo} />;
    default:
      return (
        <p>
          There is no page here. <a href={href("approvals")}>Go to the approvals inbox</a>.
        </p>
      );
  }
}

const root = document.getElementById("app");
if (root) {
  root.textContent = "";
  render(<App />, root);
}
