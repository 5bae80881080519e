/**
 * Alfred's Script Filter JSON format (https://www.alfredapp.com/help/workflows/inputs/script-filter/json/),
 * as a zod schema: what `memery search --format alfred` and the Alfred workflow print, and what the tests check.
 */
import { z } from 'zod';

/** An icon: an image file, or the icon of a file (`fileicon`) or of a file type (`filetype`, a UTI). */
export const AlfredIconSchema = z
  .object({
    type: z.enum(['fileicon', 'filetype']).optional(),
    path: z.string().min(1),
  })
  .strict();

export const AlfredModifierSchema = z
  .object({
    valid: z.boolean().optional(),
    arg: z.union([z.string(), z.array(z.string())]).optional(),
    subtitle: z.string().optional(),
    icon: AlfredIconSchema.optional(),
    variables: z.record(z.string(), z.string()).optional(),
  })
  .strict();

export const AlfredItemSchema = z
  .object({
    /** Alfred learns from the uid; memery uses the file's path (stable across searches). */
    uid: z.string().min(1).optional(),
    title: z.string(),
    subtitle: z.string().optional(),
    arg: z.union([z.string(), z.array(z.string())]).optional(),
    icon: AlfredIconSchema.optional(),
    valid: z.boolean().optional(),
    match: z.string().optional(),
    autocomplete: z.string().optional(),
    /** 'file' makes Alfred treat the item as a file (actions, Quick Look); 'file:skipcheck' skips the existence check. */
    type: z.enum(['default', 'file', 'file:skipcheck']).optional(),
    mods: z.record(z.enum(['cmd', 'alt', 'ctrl', 'shift', 'fn', 'cmd+alt', 'cmd+shift', 'alt+shift', 'ctrl+shift']).or(z.string()), AlfredModifierSchema).optional(),
    action: z
      .union([
        z.string(),
        z.array(z.string()),
        z.object({ text: z.union([z.string(), z.array(z.string())]), url: z.string(), file: z.string(), auto: z.string() }).partial().strict(),
      ])
      .optional(),
    text: z.object({ copy: z.string(), largetype: z.string() }).partial().strict().optional(),
    quicklookurl: z.string().optional(),
    variables: z.record(z.string(), z.string()).optional(),
  })
  .strict();

export const AlfredScriptFilterSchema = z
  .object({
    items: z.array(AlfredItemSchema),
    /** Seconds (0.1 to 5) after which Alfred runs the script again. */
    rerun: z.number().min(0.1).max(5).optional(),
    variables: z.record(z.string(), z.string()).optional(),
    /** Keep the order given instead of Alfred's learned ordering. */
    skipknowledge: z.boolean().optional(),
    /**
     * Alfred 5.5+: keep this answer for `seconds` (5 to 86400) and show it instead of running the
     * script; `loosereload` shows it at once and reruns the script in the background once stale.
     * Alfred keeps one answer per Script Filter, not one per query, and forgets it only when it
     * expires (or on a workflow reload or an Alfred restart): for Script Filters whose items do not
     * depend on what is typed ("Alfred filters results"). memery's search filters answer each query
     * themselves, so they never set it.
     */
    cache: z.object({ seconds: z.number().int().min(5).max(86400), loosereload: z.boolean().optional() }).strict().optional(),
  })
  .strict();

export type AlfredModifier = z.infer<typeof AlfredModifierSchema>;
export type AlfredIcon = z.infer<typeof AlfredIconSchema>;
export type AlfredItem = z.infer<typeof AlfredItemSchema>;
export type AlfredScriptFilter = z.infer<typeof AlfredScriptFilterSchema>;
