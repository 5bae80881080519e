/** React hooks over the memery client: the catalog's status and a live search. */
import { showToast, Toast } from "@raycast/api";
import { useCallback, useEffect, useState } from "react";
import { toClientError } from "./feedback";
import type { SearchModeName } from "@memery/client/launcher";
import type { MemeQuery, MemeResult, MemeryClient, MemeryClientError, MemeryStatus, Transport } from "./memery-client";

export interface StatusState {
  status: MemeryStatus | undefined;
  isLoading: boolean;
  error: MemeryClientError | undefined;
  reload: () => void;
}

/**
 * Connects (starting `memery serve` when none runs, so the model is warm by the first query) and
 * loads the catalog's status (its indexed folders).
 */
export function useMemeryStatus(client: MemeryClient): StatusState {
  const [generation, setGeneration] = useState(0);
  const [state, setState] = useState<Omit<StatusState, "reload">>({
    status: undefined,
    isLoading: true,
    error: undefined,
  });
  useEffect(() => {
    const abort = new AbortController();
    setState((s) => ({ ...s, isLoading: true }));
    // The first start loads the model (a second or two; minutes if it must be downloaded): say so.
    let toast: Promise<Toast> | undefined;
    const slow = setTimeout(() => {
      toast = showToast({
        style: Toast.Style.Animated,
        title: "Starting memery…",
        message: "Loading the model; searches after this one are instant",
      });
    }, 800);
    const connected = client.connect().finally(() => {
      clearTimeout(slow);
      void toast?.then((t) => t.hide());
    });
    connected
      .then(async (via) => {
        const status = await client.status(abort.signal);
        // The CLI works but the server did not start: say why (when the CLI fails too, that error says it all).
        if (via === "cli" && client.serverFailure && !abort.signal.aborted) {
          void showToast({
            style: Toast.Style.Failure,
            title: "memery server did not start",
            message: `${client.serverFailure}\nSearches use the memery CLI instead (slower: the model loads each time).`,
          });
        }
        return status;
      })
      .then(
        (status) => !abort.signal.aborted && setState({ status, isLoading: false, error: undefined }),
        (e: unknown) =>
          !abort.signal.aborted && setState({ status: undefined, isLoading: false, error: toClientError(e) }),
      );
    return () => {
      clearTimeout(slow);
      abort.abort();
    };
  }, [client, generation]);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return { ...state, reload };
}

export interface SearchArgs {
  /** Nothing to search for yet (empty search bar). */
  query: MemeQuery | undefined;
  /** Folders to search; all indexed folders when undefined. */
  folders: string[] | undefined;
  n: number;
  threshold: number | undefined;
  /** hybrid, clip or text (text queries only). */
  mode?: SearchModeName;
  /** Wait this long after the last change before asking (default 120 ms). */
  delayMs?: number;
}

export interface SearchState {
  results: MemeResult[];
  isLoading: boolean;
  error: MemeryClientError | undefined;
  /** Whether the shown results answer the current query. */
  searched: boolean;
  via: Transport | undefined;
}

const IDLE: SearchState = { results: [], isLoading: false, error: undefined, searched: false, via: undefined };

/**
 * Results for `args`, updating as they change: a new query cancels the one in flight (its answer
 * is dropped), so the grid always shows the answer to what is typed now.
 */
export function useMemeSearch(client: MemeryClient, args: SearchArgs): SearchState {
  const [state, setState] = useState<SearchState>(IDLE);
  const key = JSON.stringify([args.query, args.folders, args.n, args.threshold, args.mode]);
  useEffect(() => {
    const { query, folders, n, threshold, mode } = args;
    if (!query) {
      setState(IDLE);
      return;
    }
    const abort = new AbortController();
    setState((s) => ({ ...s, isLoading: true }));
    const timer = setTimeout(() => {
      client
        .search({
          query,
          n,
          ...(folders ? { folders } : {}),
          ...(threshold !== undefined ? { threshold } : {}),
          ...(mode ? { mode } : {}),
          signal: abort.signal,
        })
        .then(
          (out) => {
            if (!abort.signal.aborted)
              setState({ results: out.results, isLoading: false, error: undefined, searched: true, via: out.via });
          },
          (e: unknown) => {
            if (abort.signal.aborted) return;
            setState({ results: [], isLoading: false, error: toClientError(e), searched: true, via: undefined });
          },
        );
    }, args.delayMs ?? 120);
    return () => {
      clearTimeout(timer);
      abort.abort();
    };
    // `key` stands for the arguments' content (a new array of the same folders is the same search).
  }, [client, key]);
  return state;
}
