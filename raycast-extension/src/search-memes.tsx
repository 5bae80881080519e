/**
 * "Search Memes": a grid of thumbnails that follows what you type. Enter pastes the image into the
 * app you came from; ⌘Y previews it; "Search Similar" finds images like it. An image with words in
 * it (memery reads them) shows a snippet of them under it, the whole text in its tooltip, and
 * offers "Copy Text".
 */
import { Action, ActionPanel, Grid, Icon, Keyboard, openExtensionPreferences } from "@raycast/api";
import { snippetText, textSnippet } from "@memery/client/launcher";
import { existsSync } from "node:fs";
import { basename, dirname } from "node:path";
import { useEffect, useMemo, useState, type ReactElement } from "react";
import { errorTitle, indexWithToast, showErrorToast } from "./feedback";
import { IndexFolderForm } from "./index-folder";
import { MemeryClientError, type ExampleImage, type MemeQuery, type MemeResult } from "./memery-client";
import { readSettings } from "./preferences";
import { useMemeryStatus, useMemeSearch } from "./use-memery";

export const ALL_FOLDERS = "__all__";

/** Score as shown under each image. */
export function formatScore(score: number): string {
  return score.toFixed(3);
}

/** The next, lower threshold to offer when nothing scored above the current one. */
export function lowerThreshold(t: number): number | undefined {
  const next = Math.round((t - 0.1) * 100) / 100;
  return next <= 0 ? undefined : next;
}

/** The words of an image as a short line around the matched ones (the snippet every memery client shows). */
export function textLine(r: Pick<MemeResult, "text" | "match">, width = 40): string {
  return snippetText(textSnippet(r.text, r.match, { width, lead: 2 }));
}

/** What is written under an image: its words (when it has some) or its folder, and the score. */
export function itemSubtitle(r: MemeResult): string {
  const words = textLine(r);
  return words ? `${words} · ${formatScore(r.score)}` : `${formatScore(r.score)} · ${basename(dirname(r.path))}`;
}

/** The tooltip of an image: where it is, its score, and all of its text. */
export function itemTooltip(r: MemeResult): string {
  return `${shortPath(r.path)}\nscore ${formatScore(r.score)}${r.text ? `\n\n${r.text}` : ""}`;
}

function shortPath(p: string): string {
  const home = process.env.HOME;
  return home && p.startsWith(`${home}/`) ? `~${p.slice(home.length)}` : p;
}

/** What the grid shows for an image: memery's cached thumbnail when it gave one, else the file itself. */
export function itemImage(r: MemeResult): string {
  return r.thumb ?? r.path;
}

function ItemActions(props: { result: MemeResult; common: ReactElement }) {
  const r = props.result;
  return (
    <ActionPanel title={basename(r.path)}>
      <ActionPanel.Section>
        <Action.Paste title="Paste Image" content={{ file: r.path }} />
        <Action.CopyToClipboard
          title="Copy Image"
          content={{ file: r.path }}
          shortcut={Keyboard.Shortcut.Common.Copy}
        />
        <Action.ToggleQuickLook shortcut={Keyboard.Shortcut.Common.ToggleQuickLook} />
      </ActionPanel.Section>
      <ActionPanel.Section>
        <Action.Push
          title="Search Similar"
          icon={Icon.MagnifyingGlass}
          shortcut={{ modifiers: ["cmd"], key: "m" }}
          target={
            <MemeGrid similarTo={{ id: r.id, path: r.path }} navigationTitle={`Similar to ${basename(r.path)}`} />
          }
        />
        <Action.ShowInFinder path={r.path} shortcut={{ modifiers: ["cmd", "shift"], key: "f" }} />
        <Action.OpenWith path={r.path} shortcut={Keyboard.Shortcut.Common.OpenWith} />
        <Action.CopyToClipboard title="Copy Path" content={r.path} shortcut={Keyboard.Shortcut.Common.CopyPath} />
        {r.text ? (
          <Action.CopyToClipboard
            title="Copy Text"
            icon={Icon.Text}
            content={r.text}
            shortcut={{ modifiers: ["cmd", "shift"], key: "t" }}
          />
        ) : null}
      </ActionPanel.Section>
      {props.common}
    </ActionPanel>
  );
}

export interface MemeGridProps {
  /** Show the images most like this one (itself first, when indexed) instead of a text search. */
  similarTo?: ExampleImage;
  /** Only for a pushed grid: a root command's title is the command's (Store guidelines). */
  navigationTitle?: string;
}

/** The grid: a text search, or (with `similarTo`) the images most like one image. */
export function MemeGrid(props: MemeGridProps) {
  const settings = useMemo(readSettings, []);
  const { client } = settings;
  const [text, setText] = useState("");
  const [folderChoice, setFolderChoice] = useState<string>(ALL_FOLDERS);
  const [threshold, setThreshold] = useState<number | undefined>(settings.threshold);
  const status = useMemeryStatus(client);

  const indexed = useMemo(() => (status.status?.folders ?? []).map((f) => f.path), [status.status]);
  const folders = useMemo(() => [...new Set([...settings.folders, ...indexed])], [settings.folders, indexed]);
  const selected = folderChoice === ALL_FOLDERS || !folders.includes(folderChoice) ? undefined : folderChoice;

  const query: MemeQuery | undefined = props.similarTo
    ? { similarTo: props.similarTo }
    : text.trim() !== ""
      ? { text }
      : undefined;
  const search = useMemeSearch(client, {
    query,
    // "All Folders": every indexed folder and every folder of the preferences (the CLI indexes those).
    folders: selected ? [selected] : folders.length > 0 ? folders : undefined,
    n: settings.n,
    threshold,
    mode: settings.mode,
  });

  // Failures are toasted by the hooks (usePromise's onError); the empty view explains them too.
  const error: MemeryClientError | undefined = search.error ?? status.error;

  // Folders of the preferences that are gone (moved, renamed, an unplugged disk).
  useEffect(() => {
    const gone = settings.folders.filter((f) => !existsSync(f));
    if (gone.length > 0) {
      void showErrorToast(
        new MemeryClientError(
          "folder-missing",
          `Folder not found: ${gone.map(shortPath).join(", ")}`,
          "Fix Image Folders in the extension preferences (the folder may have been moved or renamed).",
          "E_NOT_FOUND",
        ),
      );
    }
  }, [settings.folders]);

  async function indexFolder(folder: string) {
    const summary = await indexWithToast(client, folder);
    if (summary) status.reload();
  }

  const common = (
    <ActionPanel.Section>
      <Action.Push
        title="Index a Folder…"
        icon={Icon.Plus}
        shortcut={{ modifiers: ["cmd"], key: "i" }}
        target={<IndexFolderForm onIndexed={() => status.reload()} />}
      />
      {selected ? (
        <Action
          title={`Re-Index ${basename(selected)}`}
          icon={Icon.ArrowClockwise}
          shortcut={Keyboard.Shortcut.Common.Refresh}
          onAction={() => indexFolder(selected)}
        />
      ) : null}
      <Action title="Open Extension Preferences" icon={Icon.Gear} onAction={openExtensionPreferences} />
    </ActionPanel.Section>
  );

  const dropdown =
    folders.length > 0 && !props.similarTo ? (
      <Grid.Dropdown tooltip="Folder" storeValue onChange={setFolderChoice}>
        <Grid.Dropdown.Item title="All Folders" value={ALL_FOLDERS} icon={Icon.HardDrive} />
        <Grid.Dropdown.Section title="Folders">
          {folders.map((f) => (
            <Grid.Dropdown.Item key={f} title={shortPath(f)} value={f} icon={Icon.Folder} />
          ))}
        </Grid.Dropdown.Section>
      </Grid.Dropdown>
    ) : undefined;

  let empty: ReactElement | null = null;
  if (search.results.length === 0 && !search.isLoading && !status.isLoading) {
    if (error) {
      empty = (
        <Grid.EmptyView
          icon={Icon.ExclamationMark}
          title={errorTitle(error)}
          description={`${error.message}\n${error.hint}`}
          actions={
            <ActionPanel>
              <Action title="Open Extension Preferences" icon={Icon.Gear} onAction={openExtensionPreferences} />
              <Action title="Try Again" icon={Icon.ArrowClockwise} onAction={status.reload} />
              <Action.CopyToClipboard title="Copy Error" content={`${error.message}\n${error.hint}`} />
            </ActionPanel>
          }
        />
      );
    } else if (folders.length === 0) {
      empty = (
        <Grid.EmptyView
          icon={Icon.Folder}
          title="No folder indexed yet"
          description="Index a folder of images (⌘I), or add folders to Image Folders in the extension preferences."
          actions={
            <ActionPanel>
              <Action.Push
                title="Index a Folder…"
                icon={Icon.Plus}
                target={<IndexFolderForm onIndexed={() => status.reload()} />}
              />
              <Action title="Open Extension Preferences" icon={Icon.Gear} onAction={openExtensionPreferences} />
            </ActionPanel>
          }
        />
      );
    } else if (selected && !indexed.includes(selected)) {
      empty = (
        <Grid.EmptyView
          icon={Icon.Folder}
          title={`${basename(selected)} is not indexed yet`}
          description={`Index ${shortPath(selected)} to search it (press Enter).`}
          actions={
            <ActionPanel>
              <Action title={`Index ${basename(selected)}`} icon={Icon.Plus} onAction={() => indexFolder(selected)} />
              <Action title="Open Extension Preferences" icon={Icon.Gear} onAction={openExtensionPreferences} />
            </ActionPanel>
          }
        />
      );
    } else if (!selected && indexed.length === 0 && status.status) {
      empty = (
        <Grid.EmptyView
          icon={Icon.Folder}
          title="Your folders are not indexed yet"
          description="Index them once to search them (press Enter); later runs only read new or changed images."
          actions={
            <ActionPanel>
              {folders.map((f) => (
                <Action key={f} title={`Index ${basename(f)}`} icon={Icon.Plus} onAction={() => indexFolder(f)} />
              ))}
              <Action title="Open Extension Preferences" icon={Icon.Gear} onAction={openExtensionPreferences} />
            </ActionPanel>
          }
        />
      );
    } else if (!query) {
      empty = (
        <Grid.EmptyView
          icon={Icon.MagnifyingGlass}
          title="Describe the meme you want"
          description={`For example “this is fine dog” or “surprised cat”.${indexed.length === 0 ? " Nothing is indexed yet: press ⌘I to index a folder." : ""}`}
          actions={<ActionPanel>{common}</ActionPanel>}
        />
      );
    } else if (search.searched) {
      const lower = threshold !== undefined ? lowerThreshold(threshold) : undefined;
      empty = (
        <Grid.EmptyView
          icon={Icon.Image}
          title={threshold !== undefined ? `No image scores above ${threshold}` : "No matching images"}
          description={
            threshold !== undefined
              ? "Lower the threshold to see weaker matches (press Enter), or change Minimum Score in the preferences."
              : "Try other words, another folder, or re-index the folder if you added images."
          }
          actions={
            <ActionPanel>
              {threshold !== undefined ? (
                <Action
                  title={lower !== undefined ? `Lower Threshold to ${lower}` : "Show All Results"}
                  icon={Icon.ChevronDown}
                  onAction={() => setThreshold(lower)}
                />
              ) : null}
              {threshold !== undefined && lower !== undefined ? (
                <Action title="Show All Results" icon={Icon.Eye} onAction={() => setThreshold(undefined)} />
              ) : null}
              {common}
            </ActionPanel>
          }
        />
      );
    }
  }

  const sectionTitle = props.similarTo ? `Like ${basename(props.similarTo.path)}` : "Results";
  const via = search.via === "cli" ? "memery CLI" : search.via === "server" ? "memery server" : undefined;
  const by = props.similarTo
    ? ""
    : settings.mode === "text"
      ? " · words only"
      : settings.mode === "clip"
        ? " · pictures only"
        : "";

  return (
    <Grid
      columns={5}
      aspectRatio="1"
      fit={Grid.Fit.Contain}
      inset={Grid.Inset.Small}
      isLoading={search.isLoading || status.isLoading}
      throttle
      filtering={Boolean(props.similarTo)}
      {...(props.similarTo ? {} : { onSearchTextChange: setText })}
      searchBarPlaceholder={
        props.similarTo ? "Filter by file name or words" : "Describe a meme, e.g. “this is fine dog”"
      }
      {...(props.navigationTitle ? { navigationTitle: props.navigationTitle } : {})}
      searchBarAccessory={dropdown}
    >
      {empty}
      {search.results.length > 0 ? (
        <Grid.Section
          title={sectionTitle}
          subtitle={`${search.results.length}${via ? ` · ${via}` : ""}${by}${threshold !== undefined ? ` · score ≥ ${threshold}` : ""}`}
        >
          {search.results.map((r) => (
            <Grid.Item
              key={r.id}
              id={String(r.id)}
              content={{ value: { source: itemImage(r) }, tooltip: itemTooltip(r) }}
              title={basename(r.path)}
              subtitle={itemSubtitle(r)}
              {...(r.text ? { accessory: { icon: Icon.Text, tooltip: r.text } } : {})}
              keywords={r.text ? [r.text] : []}
              quickLook={{ path: r.path, name: basename(r.path) }}
              actions={<ItemActions result={r} common={common} />}
            />
          ))}
        </Grid.Section>
      ) : null}
    </Grid>
  );
}

export default function SearchMemes() {
  return <MemeGrid />;
}
