/** Errors as toasts (the reason and the fix), and indexing with a progress toast. */
import { openExtensionPreferences, showToast, Toast } from "@raycast/api";
import { showFailureToast } from "@raycast/utils";
import { basename } from "node:path";
import { MemeryClientError, type IndexProgress, type IndexSummary, type MemeryClient } from "./memery-client";

/** Any thrown value as a MemeryClientError. */
export function toClientError(e: unknown): MemeryClientError {
  if (e instanceof MemeryClientError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new MemeryClientError("failed", message, "Run `memery status` in Terminal for details.");
}

/** A short title for each kind of failure. */
export function errorTitle(e: MemeryClientError): string {
  switch (e.kind) {
    case "memery-missing":
      return "memery is not installed";
    case "node-missing":
      return "Node.js not found";
    case "model-missing":
      return "CLIP model not available";
    case "folder-missing":
      return "Folder not found";
    case "server-failed":
      return "memery server did not start";
    case "bad-request":
      return "memery refused the request";
    case "cancelled":
      return "Cancelled";
    default:
      return "memery failed";
  }
}

/**
 * Shows a failure toast with the reason and the fix and an action that opens the preferences
 * (@raycast/utils' showFailureToast, which adds "Copy Logs", or "Report Error" in a Store install);
 * cancelled requests show nothing.
 */
export async function showErrorToast(e: unknown, title?: string): Promise<void> {
  const err = toClientError(e);
  if (err.kind === "cancelled") return;
  await showFailureToast(err, {
    title: title ?? errorTitle(err),
    message: `${err.message}${err.hint ? `\n${err.hint}` : ""}`,
    primaryAction: { title: "Open Extension Preferences", onAction: () => void openExtensionPreferences() },
  });
}

const PHASE: Record<IndexProgress["phase"], string> = {
  scan: "Scanning",
  hash: "Checking",
  encode: "Encoding",
  finish: "Finishing",
  ocr: "Reading text",
};

export function describeProgress(p: IndexProgress): string {
  return p.total > 0 ? `${PHASE[p.phase]} ${p.done}/${p.total}` : `${PHASE[p.phase]}…`;
}

export function describeSummary(s: IndexSummary): string {
  const parts = [`${s.found} images`];
  if (s.new) parts.push(`${s.new} new`);
  if (s.reembedded) parts.push(`${s.reembedded} changed`);
  if (s.moved) parts.push(`${s.moved} moved`);
  if (s.removed) parts.push(`${s.removed} removed`);
  if (s.failed) parts.push(`${s.failed} could not be read`);
  if (s.texts) parts.push(`text read in ${s.texts}`);
  return `${parts.join(", ")} in ${s.seconds.toFixed(1)} s`;
}

/** Indexes `folder` with an animated toast that follows the progress; resolves to the summary. */
export async function indexWithToast(client: MemeryClient, folder: string): Promise<IndexSummary | undefined> {
  const name = basename(folder) || folder;
  const toast = await showToast({ style: Toast.Style.Animated, title: `Indexing ${name}…` });
  const abort = new AbortController();
  toast.primaryAction = { title: "Stop", onAction: () => abort.abort() };
  try {
    const summary = await client.index(
      folder,
      (p) => {
        toast.message = describeProgress(p);
      },
      abort.signal,
    );
    toast.style = summary.failed > 0 && summary.found === summary.failed ? Toast.Style.Failure : Toast.Style.Success;
    toast.title = `Indexed ${name}`;
    toast.message = describeSummary(summary);
    toast.primaryAction = undefined;
    return summary;
  } catch (e) {
    const err = toClientError(e);
    if (err.kind === "cancelled") {
      toast.style = Toast.Style.Failure;
      toast.title = `Stopped indexing ${name}`;
      toast.message = "What was indexed so far is kept.";
      toast.primaryAction = undefined;
      return undefined;
    }
    await toast.hide();
    await showErrorToast(err, `Cannot index ${name}: ${errorTitle(err)}`);
    return undefined;
  }
}
