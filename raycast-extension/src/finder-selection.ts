/** The image selected in Finder, for "Find Similar to Finder Selection". */
import { getSelectedFinderItems } from "@raycast/api";
import { IMAGE_EXTENSIONS, imageFormatList } from "@memery/client/launcher";
import { statSync } from "node:fs";
import { basename, extname } from "node:path";

/** Whether `path` is a file of a type memery reads. */
export function isImageFile(path: string): boolean {
  if (!IMAGE_EXTENSIONS.has(extname(path).toLowerCase())) return false;
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The selected image, or why there is none (a title and what to do, for a toast and the empty view). */
export type FinderImage = { path: string } | { problem: string; detail: string };

const HOW = "Select an image in Finder, then run Find Similar to Finder Selection.";

/** The first image file among Finder's selected items. */
export async function selectedFinderImage(): Promise<FinderImage> {
  let paths: string[];
  try {
    paths = (await getSelectedFinderItems()).map((item) => item.path);
  } catch (e) {
    // Raycast throws when Finder is not the frontmost application.
    const why = e instanceof Error ? e.message : String(e);
    return { problem: "No Finder selection", detail: `${why.replace(/\.?$/, ".")} ${HOW}` };
  }
  if (paths.length === 0) return { problem: "Nothing selected in Finder", detail: HOW };
  const image = paths.find(isImageFile);
  if (image) return { path: image };
  const first = basename(paths[0] ?? "");
  return {
    problem: paths.length === 1 ? `${first} is not an image` : "No image in the Finder selection",
    detail: `memery searches by a ${imageFormatList()} file. ${HOW}`,
  };
}
