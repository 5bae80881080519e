/**
 * React hooks over the memery client, built on @raycast/utils' usePromise: the catalog's status and
 * a live search that waits for typing to pause and aborts the query it replaces.
 */
import { showToast, Toast } from "@raycast/api";
import { showFailureToast, usePromise } from "@raycast/utils";
import { setTimeout as delay } from "node:timers/promises";
import { useRef } from "react";
import { showErrorToast, toClientError } from "./feedback";
import type { SearchModeName } from "@memery/client/launcher";
import type {
  MemeQuery,
  MemeResult,
  MemeryClient,
  MemeryClientError,
  MemeryStatus,
  SearchOutcome,
  Transport,
} from "./memery-client";

export interface StatusState {
  status: MemeryStatus | undefined;
  isLoading: boolean;
  error: MemeryClientError | undefined;
  reload: () => void;
}

/**
 * Connects, starting `memery serve` when none runs (so the model is warm by the first query), and
 * reads the catalog's status (its indexed folders). A first start that takes a while says so.
 */
async function connectAndLoadStatus(client: MemeryClient, signal: AbortSignal | undefined): Promise<MemeryStatus> {
  // The first start loads the model (a second or two; minutes if it must be downloaded).
  let toast: Promise<Toast> | undefined;
  const slow = setTimeout(() => {
    toast = showToast({
      style: Toast.Style.Animated,
      title: "Starting memery…",
      message: "Loading the model; searches after this one are instant",
    });
  }, 800);
  let via: Transport;
  try {
    via = await client.connect();
  } finally {
    clearTimeout(slow);
    void toast?.then((t) => t.hide());
  }
  const status = await client.status(signal);
  // The CLI works but the server did not start: say why (when the CLI fails too, that error says it all).
  if (via === "cli" && client.serverFailure && !signal?.aborted) {
    void showFailureToast(new Error(client.serverFailure), {
      title: "memery server did not start",
      message: `${client.serverFailure}\nSearches use the memery CLI instead (slower: the model loads each time).`,
    });
  }
  return status;
}

/** The catalog's status for `client`, loaded when the command opens; `reload` asks again. */
export function useMemeryStatus(client: MemeryClient): StatusState {
  const abortable = useRef<AbortController | null>(null);
  const { data, isLoading, error, revalidate } = usePromise(
    (c: MemeryClient) => connectAndLoadStatus(c, abortable.current?.signal),
    [client],
    { abortable, onError: (e) => void showErrorToast(e) },
  );
  return {
    status: data,
    isLoading,
    error: error ? toClientError(error) : undefined,
    reload: () => void revalidate(),
  };
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

/**
 * Results for `args`, updating as they change (compared by content: a new array of the same folders
 * is the same search). Each search first waits `delayMs` so that typing does not send a query per
 * key; a new one aborts the one in flight (usePromise's abortable), whose answer is dropped, so the
 * grid always shows the answer to what is typed now.
 */
export function useMemeSearch(client: MemeryClient, args: SearchArgs): SearchState {
  const abortable = useRef<AbortController | null>(null);
  const delayMs = args.delayMs ?? 120;
  const { data, isLoading, error } = usePromise(
    async (
      query: MemeQuery,
      folders: string[] | undefined,
      n: number,
      threshold: number | undefined,
      mode: SearchModeName | undefined,
    ): Promise<SearchOutcome> => {
      const signal = abortable.current?.signal;
      // Rejects with an AbortError (which usePromise ignores) when a newer search replaces this one.
      await delay(delayMs, undefined, signal ? { signal } : {});
      return client.search({
        query,
        n,
        ...(folders ? { folders } : {}),
        ...(threshold !== undefined ? { threshold } : {}),
        ...(mode ? { mode } : {}),
        ...(signal ? { signal } : {}),
      });
    },
    // Run only with a query (execute): then args.query is defined.
    [args.query!, args.folders, args.n, args.threshold, args.mode],
    { abortable, execute: args.query !== undefined, onError: (e) => void showErrorToast(e) },
  );
  if (!args.query) return { results: [], isLoading: false, error: undefined, searched: false, via: undefined };
  return {
    results: data?.results ?? [],
    isLoading,
    error: error ? toClientError(error) : undefined,
    searched: !isLoading && (data !== undefined || error !== undefined),
    via: data?.via,
  };
}
