// Copies an image to the clipboard as a file (what Finder's Copy does), so that chat apps
// (Messages, Slack, Discord, Mail…) paste the image itself, GIFs included, not its path.
//
//   /usr/bin/osascript -l JavaScript ./scripts/copy-image.js /path/to/image.png
//
// The pasteboard item carries the file URL (`public.file-url`, AppleScript's «class furl») and the
// file name as plain text (for text fields). Prints the path for the notification.
ObjC.import('AppKit');

function run(argv) {
  const path = argv[0];
  if (!path) throw new Error('No image given');
  if (!$.NSFileManager.defaultManager.fileExistsAtPath(path)) throw new Error(`Image not found: ${path}`);
  const url = $.NSURL.fileURLWithPath(path);
  const item = $.NSPasteboardItem.alloc.init;
  item.setStringForType(url.absoluteString, 'public.file-url');
  item.setStringForType(url.lastPathComponent, 'public.utf8-plain-text');
  const pasteboard = $.NSPasteboard.generalPasteboard;
  pasteboard.clearContents;
  if (!pasteboard.writeObjects($.NSArray.arrayWithObject(item))) throw new Error(`Could not copy ${path}`);
  return path;
}
