/**
 * A test double of `@raycast/api` for the Raycast extension's tests (root vitest.config.ts aliases
 * the package to this file). Components render as host elements named after the API
 * ("Grid.Item", "Action.Push", ...) with their props, so react-test-renderer trees can be searched
 * by type and props; functions (toasts, clipboard, HUD, navigation) record their calls in `calls`.
 * It also has what the real @raycast/utils (used as it is) imports from @raycast/api: environment
 * and LaunchType, Toast, Clipboard, open, Cache, LocalStorage and the components; AI, OAuth and
 * MenuBarExtra are stubs that throw when used.
 */
import { createElement, type ReactNode } from 'react';

type Props = Record<string, unknown> & { children?: ReactNode };

function host<T extends object = object>(name: string, statics?: T): ((props: Props) => ReturnType<typeof createElement>) & T {
  const C = (props: Props) => createElement(name, props);
  C.displayName = name;
  return Object.assign(C, statics ?? ({} as T));
}

export interface ToastRecord {
  style: string;
  title: string;
  message?: string;
  primaryAction?: { title: string; onAction: () => void } | undefined;
  secondaryAction?: { title: string; onAction: () => void } | undefined;
  hide: () => Promise<void>;
}

/** What the extension asked Raycast to do, in order. */
export const calls = {
  toasts: [] as ToastRecord[],
  clipboardCopy: [] as unknown[],
  clipboardPaste: [] as unknown[],
  huds: [] as string[],
  pushed: [] as unknown[],
  opened: [] as unknown[],
  closeMainWindow: 0,
  openPreferences: 0,
  popToRoot: 0,
};

let preferences: Record<string, unknown> = {};
let finderSelection: string[] | Error = [];

/** Sets what getSelectedFinderItems() answers: these paths, or this error (Finder not frontmost). */
export function __setFinderSelection(selection: string[] | Error): void {
  finderSelection = selection;
}

/** Sets what getPreferenceValues() answers (and clears the recorded calls). */
export function __setPreferences(p: Record<string, unknown>): void {
  preferences = { ...p };
}

export function __reset(): void {
  calls.toasts.length = 0;
  calls.clipboardCopy.length = 0;
  calls.clipboardPaste.length = 0;
  calls.huds.length = 0;
  calls.pushed.length = 0;
  calls.opened.length = 0;
  calls.closeMainWindow = 0;
  calls.openPreferences = 0;
  calls.popToRoot = 0;
  finderSelection = [];
  Cache.clearAll();
}

export function getPreferenceValues<T>(): T {
  return { ...preferences } as T;
}

export const LaunchType = { UserInitiated: 'userInitiated', Background: 'background' };

export const environment = {
  extensionName: 'memery',
  commandName: 'search-memes',
  commandMode: 'view',
  launchType: LaunchType.UserInitiated,
  supportPath: '/tmp',
  assetsPath: '/tmp',
  isDevelopment: true,
  raycastVersion: '1.104.0',
};

export interface FileSystemItem {
  path: string;
}

export async function getSelectedFinderItems(): Promise<FileSystemItem[]> {
  if (finderSelection instanceof Error) throw finderSelection;
  return finderSelection.map((path) => ({ path }));
}

export async function open(target: string, application?: unknown): Promise<void> {
  calls.opened.push(application === undefined ? target : [target, application]);
}

/** Raycast's Cache, in memory (useCachedState and useCachedPromise of @raycast/utils keep their data in it). */
export class Cache {
  static readonly #stores = new Map<string, Map<string, string>>();
  static clearAll(): void {
    for (const store of Cache.#stores.values()) store.clear();
  }
  readonly #data: Map<string, string>;
  readonly #subscribers = new Set<(key: string | undefined, data: string | undefined) => void>();
  constructor(options: { namespace?: string; capacity?: number } = {}) {
    const ns = options.namespace ?? '';
    this.#data = Cache.#stores.get(ns) ?? new Map<string, string>();
    Cache.#stores.set(ns, this.#data);
  }
  get isEmpty(): boolean {
    return this.#data.size === 0;
  }
  get = (key: string): string | undefined => this.#data.get(key);
  has = (key: string): boolean => this.#data.has(key);
  set = (key: string, data: string): void => {
    this.#data.set(key, data);
    for (const s of this.#subscribers) s(key, data);
  };
  remove = (key: string): boolean => {
    const had = this.#data.delete(key);
    for (const s of this.#subscribers) s(key, undefined);
    return had;
  };
  clear = (options: { notifySubscribers?: boolean } = { notifySubscribers: true }): void => {
    this.#data.clear();
    if (options.notifySubscribers !== false) for (const s of this.#subscribers) s(undefined, undefined);
  };
  subscribe = (subscriber: (key: string | undefined, data: string | undefined) => void): (() => void) => {
    this.#subscribers.add(subscriber);
    return () => this.#subscribers.delete(subscriber);
  };
}

const local = new Map<string, string | number | boolean>();
export const LocalStorage = {
  getItem: async <T extends string | number | boolean>(key: string): Promise<T | undefined> => local.get(key) as T | undefined,
  setItem: async (key: string, value: string | number | boolean): Promise<void> => {
    local.set(key, value);
  },
  removeItem: async (key: string): Promise<void> => {
    local.delete(key);
  },
  allItems: async (): Promise<Record<string, string | number | boolean>> => Object.fromEntries(local),
  clear: async (): Promise<void> => local.clear(),
};

const unavailable = (what: string) => () => {
  throw new Error(`${what} is not part of the @raycast/api test double`);
};
export const AI = { ask: unavailable('AI.ask'), Model: {}, Creativity: {} };
export const OAuth = { PKCEClient: unavailable('OAuth.PKCEClient'), RedirectMethod: {} };

export const Toast = {
  Style: { Animated: 'animated', Success: 'success', Failure: 'failure' },
};

export async function showToast(options: Omit<ToastRecord, 'hide'>): Promise<ToastRecord> {
  const toast: ToastRecord = { ...options, hide: async () => {} };
  calls.toasts.push(toast);
  return toast;
}

export async function showHUD(title: string): Promise<void> {
  calls.huds.push(title);
}

export const Clipboard = {
  copy: async (content: unknown) => {
    calls.clipboardCopy.push(content);
  },
  paste: async (content: unknown) => {
    calls.clipboardPaste.push(content);
  },
  clear: async () => {},
  readText: async () => undefined,
};

export async function closeMainWindow(): Promise<void> {
  calls.closeMainWindow++;
}
export async function openExtensionPreferences(): Promise<void> {
  calls.openPreferences++;
}
export async function popToRoot(): Promise<void> {
  calls.popToRoot++;
}
export function useNavigation() {
  return { push: (el: unknown) => calls.pushed.push(el), pop: () => {} };
}

/** Icon.X is the string "X". */
export const Icon = new Proxy({}, { get: (_t, name) => String(name) }) as Record<string, string>;
export const Color = new Proxy({}, { get: (_t, name) => String(name) }) as Record<string, string>;

const sc = (modifiers: string[], key: string) => ({ modifiers, key });
export const Keyboard = {
  Shortcut: {
    Common: {
      Copy: sc(['cmd', 'shift'], 'c'),
      CopyDeeplink: sc(['cmd', 'shift'], 'c'),
      CopyName: sc(['cmd', 'opt'], 'c'),
      CopyPath: sc(['cmd', 'ctrl'], 'c'),
      Save: sc(['cmd'], 's'),
      Duplicate: sc(['cmd', 'shift'], 's'),
      Edit: sc(['cmd'], 'e'),
      MoveDown: sc(['cmd', 'shift'], 'arrowDown'),
      MoveUp: sc(['cmd', 'shift'], 'arrowUp'),
      New: sc(['cmd'], 'n'),
      Open: sc(['cmd'], 'o'),
      OpenWith: sc(['cmd', 'shift'], 'o'),
      Pin: sc(['cmd'], '.'),
      Refresh: sc(['cmd'], 'r'),
      Remove: sc(['ctrl'], 'd'),
      RemoveAll: sc(['ctrl', 'shift'], 'd'),
      ToggleQuickLook: sc(['cmd'], 'y'),
    },
  },
};

/** Grid and List render their search bar accessory (the dropdown) as a first child, so tests can find it. */
function withAccessory<T extends object>(name: string, statics: T): ((props: Props) => ReturnType<typeof createElement>) & T {
  const C = ({ children, ...props }: Props) => createElement(name, props, props.searchBarAccessory as ReactNode, children);
  C.displayName = name;
  return Object.assign(C, statics);
}

export const Grid = withAccessory('Grid', {
  Item: host('Grid.Item'),
  Section: host('Grid.Section'),
  EmptyView: host('Grid.EmptyView'),
  Dropdown: host('Grid.Dropdown', { Item: host('Grid.Dropdown.Item'), Section: host('Grid.Dropdown.Section') }),
  Fit: { Contain: 'contain', Fill: 'fill' },
  Inset: { Zero: 'zero', Small: 'small', Medium: 'medium', Large: 'large' },
});

export const List = withAccessory('List', {
  Item: host('List.Item'),
  Section: host('List.Section'),
  EmptyView: host('List.EmptyView'),
  Dropdown: host('List.Dropdown', { Item: host('List.Dropdown.Item'), Section: host('List.Dropdown.Section') }),
});

export const ActionPanel = host('ActionPanel', { Section: host('ActionPanel.Section'), Submenu: host('ActionPanel.Submenu') });

export const Action = host('Action', {
  Push: host('Action.Push'),
  CopyToClipboard: host('Action.CopyToClipboard'),
  Paste: host('Action.Paste'),
  ShowInFinder: host('Action.ShowInFinder'),
  OpenWith: host('Action.OpenWith'),
  Open: host('Action.Open'),
  OpenInBrowser: host('Action.OpenInBrowser'),
  ToggleQuickLook: host('Action.ToggleQuickLook'),
  SubmitForm: host('Action.SubmitForm'),
  Trash: host('Action.Trash'),
});

export const Form = host('Form', {
  TextField: host('Form.TextField'),
  FilePicker: host('Form.FilePicker'),
  Description: host('Form.Description'),
  Dropdown: host('Form.Dropdown', { Item: host('Form.Dropdown.Item') }),
  Checkbox: host('Form.Checkbox'),
  Separator: host('Form.Separator'),
});

export const Detail = host('Detail');

export const MenuBarExtra = Object.assign(unavailable('MenuBarExtra'), {
  Item: unavailable('MenuBarExtra.Item'),
  Section: unavailable('MenuBarExtra.Section'),
  Submenu: unavailable('MenuBarExtra.Submenu'),
});
