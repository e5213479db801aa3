/**
 * Loading and refreshing: a resource loads when its inputs change and again every `pollMs` while
 * the page is visible (polling keeps an inbox current without a push channel); a paged list keeps
 * the cursors of the pages before it, so Previous and Next walk the API's keyset pagination.
 */
import { useCallback, useEffect, useRef, useState } from "preact/hooks";

export interface Resource<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

export const POLL_MS = 5_000;

export function useResource<T>(load: () => Promise<T>, inputs: unknown[], pollMs = 0): Resource<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({
    data: undefined,
    error: undefined,
    loading: true,
  });
  const loadRef = useRef(load);
  loadRef.current = load;
  const generation = useRef(0);

  const run = useCallback((keep: boolean) => {
    const mine = ++generation.current;
    setState((previous) => ({ data: keep ? previous.data : undefined, error: undefined, loading: true }));
    loadRef.current().then(
      (data) => {
        if (mine === generation.current) setState({ data, error: undefined, loading: false });
      },
      (error: unknown) => {
        if (mine === generation.current) setState((previous) => ({ data: previous.data, error, loading: false }));
      },
    );
  }, []);

  // The caller names the inputs that mean "load again".
  useEffect(() => {
    run(false);
    if (!pollMs) return;
    const timer = window.setInterval(() => {
      if (document.visibilityState === "visible") run(true);
    }, pollMs);
    return () => window.clearInterval(timer);
  }, [...inputs, pollMs]);

  return { ...state, reload: () => run(true) };
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface PagedList<T> extends Resource<Page<T>> {
  pageNumber: number;
  hasPrevious: boolean;
  hasNext: boolean;
  previous: () => void;
  next: () => void;
}

/** A cursor-paginated list; `inputs` (filters) going back to the first page when they change. */
export function usePagedList<T>(
  loadPage: (cursor: string | undefined) => Promise<Page<T>>,
  inputs: unknown[],
  pollMs = POLL_MS,
): PagedList<T> {
  const [cursors, setCursors] = useState<Array<string | undefined>>([undefined]);
  const key = JSON.stringify(inputs);
  const [lastKey, setLastKey] = useState(key);
  if (key !== lastKey) {
    setLastKey(key);
    setCursors([undefined]);
  }
  const cursor = key === lastKey ? cursors[cursors.length - 1] : undefined;
  const resource = useResource(() => loadPage(cursor), [key, cursor], pollMs);
  const nextCursor = resource.data?.nextCursor ?? null;
  return {
    ...resource,
    pageNumber: cursors.length,
    hasPrevious: cursors.length > 1,
    hasNext: nextCursor !== null,
    previous: () => setCursors((list) => (list.length > 1 ? list.slice(0, -1) : list)),
    next: () => {
      if (nextCursor) setCursors((list) => [...list, nextCursor]);
    },
  };
}
