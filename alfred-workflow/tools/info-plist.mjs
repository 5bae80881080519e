/**
 * The source of alfred-workflow/info.plist: the workflow's objects, wiring and configuration sheet
 * as data, serialised to the XML plist Alfred reads. `npm run build:alfred` regenerates info.plist
 * from here before packaging; `node alfred-workflow/tools/info-plist.mjs` does it alone.
 *
 * Object and connection shapes follow what Alfred 5 writes when exporting a workflow. Script
 * objects use `type` 11 (/bin/zsh, run without the user's startup files) with `scriptargtype` 1:
 * the query arrives as "$1", never interpolated into the script text.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'plist';

const HERE = dirname(fileURLToPath(import.meta.url));
export const WORKFLOW_DIR = join(HERE, '..');

/** Modifier bitmasks of Alfred connections (NSEvent modifier flags). */
export const MOD = { none: 0, shift: 131072, ctrl: 262144, alt: 524288, cmd: 1048576, fn: 8388608 };

export const UID = {
  search: '791D585C-9083-437E-9F30-F893AA83835F',
  copyScript: '6FA30BCB-78CC-4FF8-ADA9-9F583C9FA4C3',
  copyNotify: '14421EBF-3027-44AB-A757-D3A3E17FC190',
  reveal: 'E69FD56E-763A-4918-8D1F-B2AF6D3E67F9',
  copyPath: '0FFDEDD2-2192-4A40-ABDB-894271136128',
  copyText: '53034B62-D673-486A-8D2E-363A72DC14AF',
  callSimilar: 'EF7A41CD-22B0-461C-A284-0A15595A8C98',
  similarTrigger: 'DC2D4666-68FA-4E63-B154-15A24CC1929E',
  gridKeyword: 'CF870222-240D-4C8B-985F-C546E49243DD',
  gridScript: '2B2BD6AC-1384-40F0-9F37-4895B52D352A',
  gridConfig: 'EEB221A3-1138-4ACA-8B54-5686186A4F0F',
  grid: '97964B1D-251B-4814-99EC-9330806D397C',
  indexKeyword: '5EE952C1-09A0-433F-AD52-1B5B5D4C3FC9',
  indexFileAction: 'D92C35EB-B63A-4540-92D5-A381FB163CA9',
  indexStartNotify: 'D74BF5F1-AA9D-4C48-BA7B-4263569FF495',
  indexScript: '746EE529-369B-4E37-94D5-0551C8298A5B',
  indexNotify: '3A8AF672-9214-4995-9885-8F9FCD2252F1',
  similarFileAction: 'CB7574E7-E99C-4CF0-887B-5D62A749B0F8',
  similarUniversalAction: '68E8FD2B-3F69-4ABB-9DEF-50B7DF7F1291',
};

/** The name of the File Action and Universal Action that search with a file as the query. */
export const SIMILAR_ACTION = 'Find similar memes';

/** The Script Filter's script: zsh finds node, then runs the bundled script with the query as "$1". */
export const SEARCH_SCRIPT = 'source ./scripts/find-node.zsh json || exit 0\nexec "$node" ./scripts/search.mjs "$1"';
export const GRID_SCRIPT = 'export memery_view=grid\nsource ./scripts/find-node.zsh json || exit 0\nexec "$node" ./scripts/search.mjs "$1"';
export const INDEX_SCRIPT = 'source ./scripts/find-node.zsh text || exit 0\nexec "$node" ./scripts/index.mjs "$1"';
export const COPY_SCRIPT = '/usr/bin/osascript -l JavaScript ./scripts/copy-image.js "$1"';

const ZSH = 11;

function runScript(script) {
  return { concurrently: false, escaping: 102, script, scriptargtype: 1, scriptfile: '', type: ZSH };
}

function notification(title, text, lastpathcomponent = false) {
  return { lastpathcomponent, onlyshowifquerypopulated: true, removeextension: false, text, title };
}

function connection(destinationuid, modifiers = MOD.none, modifiersubtext = '') {
  return { destinationuid, modifiers, modifiersubtext, vitoclose: false };
}

const README = `# memery for Alfred

Search your image folders by meaning, with CLIP running on your Mac: type \`meme\` and what you are looking for ("a cat in a box", "dramatic chipmunk"). Results come as you type, with thumbnails, ranked by memery.

## Keys

* **↩** copies the image to the clipboard as a file: paste it into Messages, Slack, Discord, Mail…
* **⌘↩** reveals it in Finder
* **⌥↩** copies its path
* **⇧↩** copies the text in the image (memery reads the words in images; the subtitle shows them)
* **⌃↩** finds similar images (the query becomes \`id:<n>\`; add words after it to steer)
* **fn↩** shows the results in a grid (or use the \`memegrid\` keyword)
* tapping **⇧** or **⌘Y** Quick Looks the image; **⌘C** copies its text (or the path, when it has none), **⌘L** shows the text in Large Type

\`memeindex\` indexes the configured folders (or the folder you type) and tells you when it is done. Folders also have an **Index with memery** file action.

**${SIMILAR_ACTION}**: a File Action on images, and a Universal Action on a file selected in Finder, searches with that image (indexed or not) and shows what looks like it; add words after its path to steer.

## Setup

Install memery (\`npm install -g memery\`), then set **Folders** in Configure Workflow. Alfred does not use your shell's PATH: \`node\` and \`memery\` are looked for in Homebrew, /usr/local, Volta, nvm and ~/.npm-global; set **Node path** and **memery path** if yours live elsewhere.

The first search starts \`memery serve\` in the background, which keeps the model loaded so that every keystroke is answered in milliseconds; until it is up, results come from \`memery search\` (slower).
`;

/**
 * Who made the workflow and where it lives, from package.json (one place for the repository's URL):
 * `author` (its name), else the repository's owner; the repository's https URL (without `git+` and
 * `.git`), else `homepage` without its fragment.
 */
export function packageAbout(pkg = readPackage()) {
  const repo = String(typeof pkg.repository === 'string' ? pkg.repository : (pkg.repository?.url ?? ''));
  const web = repo.replace(/^git\+/, '').replace(/\.git$/, '');
  const webaddress = /^https:\/\//.test(web) ? web : String(pkg.homepage ?? '').replace(/#.*$/, '');
  const author = typeof pkg.author === 'string' ? pkg.author.replace(/\s*[<(].*$/, '') : (pkg.author?.name ?? '');
  const owner = /^https:\/\/[^/]+\/([^/]+)\//.exec(webaddress)?.[1] ?? '';
  return { createdby: author || owner || String(pkg.name ?? ''), webaddress };
}

export function workflow(version, about = packageAbout()) {
  const objects = [
    {
      uid: UID.search,
      type: 'alfred.workflow.input.scriptfilter',
      version: 3,
      config: {
        alfredfiltersresults: false,
        alfredfiltersresultsmatchmode: 0,
        argumenttreatemptyqueryasnil: true,
        argumenttrimmode: 0,
        argumenttype: 0, // argument required
        escaping: 102,
        keyword: '{var:keyword}',
        queuedelaycustom: 3,
        queuedelayimmediatelyinitially: true,
        queuedelaymode: 0, // run after every keystroke…
        queuemode: 2, // …terminating the previous run
        runningsubtext: 'Searching…',
        script: SEARCH_SCRIPT,
        scriptargtype: 1, // the query as "$1"
        scriptfile: '',
        skipuniversalaction: true,
        subtext: 'Search your images by meaning: “a cat in a box”',
        title: 'Search images with memery',
        type: ZSH,
        withspace: true,
      },
    },
    { uid: UID.copyScript, type: 'alfred.workflow.action.script', version: 2, config: runScript(COPY_SCRIPT) },
    { uid: UID.copyNotify, type: 'alfred.workflow.output.notification', version: 1, config: notification('Image copied: paste it anywhere', '{query}', true) },
    { uid: UID.reveal, type: 'alfred.workflow.action.revealfile', version: 1, config: { path: '' } },
    {
      uid: UID.copyPath,
      type: 'alfred.workflow.output.clipboard',
      version: 3,
      config: { autopaste: false, clipboardtext: '{query}', ignoredynamicplaceholders: false, transient: false },
    },
    {
      uid: UID.copyText,
      type: 'alfred.workflow.output.clipboard',
      version: 3,
      config: { autopaste: false, clipboardtext: '{query}', ignoredynamicplaceholders: true, transient: false },
    },
    {
      uid: UID.callSimilar,
      type: 'alfred.workflow.output.callexternaltrigger',
      version: 1,
      config: { externaltriggerid: 'similar', passinputasargument: true, passvariables: false, workflowbundleid: 'self' },
    },
    { uid: UID.similarTrigger, type: 'alfred.workflow.trigger.external', version: 1, config: { availableviaurlhandler: false, triggerid: 'similar' } },
    {
      uid: UID.gridKeyword,
      type: 'alfred.workflow.input.keyword',
      version: 1,
      config: {
        argumenttype: 0,
        keyword: '{var:grid_keyword}',
        skipuniversalaction: true,
        subtext: 'Search your images by meaning and show them in a grid',
        text: 'Search images with memery (grid)',
        withspace: true,
      },
    },
    { uid: UID.gridScript, type: 'alfred.workflow.action.script', version: 2, config: runScript(GRID_SCRIPT) },
    {
      uid: UID.gridConfig,
      type: 'alfred.workflow.utility.json',
      version: 1,
      config: { json: '{\n  "alfredworkflow" : {\n    "arg" : "{query}",\n    "config" : {\n      "columncount" : "{var:grid_columns}"\n    }\n  }\n}' },
    },
    {
      uid: UID.grid,
      type: 'alfred.workflow.userinterface.grid',
      version: 1,
      config: {
        columncount: 5,
        filterable: true,
        fixedorder: true, // memery's ranking, not Alfred's
        imageaspect: 2,
        inputfile: '',
        inputtype: 0, // Script Filter JSON from the connected Run Script
        loadingtext: 'Searching…',
        showsubtitles: true,
        showtitles: true,
        subtitlesinfooter: true,
        titlesinfooter: false,
      },
    },
    {
      uid: UID.indexKeyword,
      type: 'alfred.workflow.input.keyword',
      version: 1,
      config: {
        argumenttype: 1,
        keyword: '{var:index_keyword}',
        skipuniversalaction: true,
        subtext: 'Index the configured folders, or the folder you type, for memery',
        text: 'Index images for memery',
        withspace: true,
      },
    },
    {
      uid: UID.indexFileAction,
      type: 'alfred.workflow.trigger.action',
      version: 1,
      config: { acceptsmulti: 0, filetypes: ['public.folder'], name: 'Index with memery' },
    },
    {
      uid: UID.indexStartNotify,
      type: 'alfred.workflow.output.notification',
      version: 1,
      config: { ...notification('memery is indexing…', 'You will be told when it is done'), onlyshowifquerypopulated: false },
    },
    { uid: UID.indexScript, type: 'alfred.workflow.action.script', version: 2, config: runScript(INDEX_SCRIPT) },
    { uid: UID.indexNotify, type: 'alfred.workflow.output.notification', version: 1, config: notification('memery', '{query}') },
    {
      uid: UID.similarFileAction,
      type: 'alfred.workflow.trigger.action',
      version: 1,
      config: { acceptsmulti: 0, filetypes: ['public.image'], name: SIMILAR_ACTION },
    },
    {
      uid: UID.similarUniversalAction,
      type: 'alfred.workflow.trigger.universalaction',
      version: 1,
      config: { acceptsfiles: true, acceptsmulti: 0, acceptstext: false, acceptsurls: false, name: SIMILAR_ACTION },
    },
  ];

  const actions = (source) => [
    connection(UID.copyScript),
    connection(UID.reveal, MOD.cmd, 'Reveal in Finder'),
    connection(UID.copyPath, MOD.alt, 'Copy the path'),
    connection(UID.callSimilar, MOD.ctrl, 'Find similar images'),
    connection(UID.copyText, MOD.shift, 'Copy the text in the image'),
    ...(source === 'search' ? [connection(UID.gridScript, MOD.fn, 'Show these results in a grid')] : []),
  ];
  const connections = {
    [UID.search]: actions('search'),
    [UID.grid]: actions('grid'),
    [UID.copyScript]: [connection(UID.copyNotify)],
    [UID.similarTrigger]: [connection(UID.search)],
    [UID.gridKeyword]: [connection(UID.gridScript)],
    [UID.gridScript]: [connection(UID.gridConfig)],
    [UID.gridConfig]: [connection(UID.grid)],
    [UID.indexKeyword]: [connection(UID.indexStartNotify), connection(UID.indexScript)],
    [UID.indexFileAction]: [connection(UID.indexStartNotify), connection(UID.indexScript)],
    [UID.indexScript]: [connection(UID.indexNotify)],
    // A file as the query: through the same external trigger as ⌃, into the search Script Filter.
    [UID.similarFileAction]: [connection(UID.callSimilar)],
    [UID.similarUniversalAction]: [connection(UID.callSimilar)],
  };

  const at = (xpos, ypos, note) => ({ ...(note ? { note } : {}), xpos, ypos });
  const uidata = {
    [UID.search]: at(40, 40, 'Per-keystroke search (server over the Unix socket, CLI fallback)'),
    [UID.similarTrigger]: at(40, 200),
    [UID.copyScript]: at(330, 20, '↩ copy the image as a file'),
    [UID.copyNotify]: at(560, 20),
    [UID.reveal]: at(330, 150, '⌘ reveal'),
    [UID.copyPath]: at(330, 280, '⌥ copy the path'),
    [UID.callSimilar]: at(330, 410, '⌃ similar images: reruns the search with id:<n>; the file actions with the file’s path'),
    [UID.copyText]: at(560, 280, '⇧ copy the text in the image (the item’s arg for ⇧)'),
    [UID.gridKeyword]: at(40, 560),
    [UID.gridScript]: at(330, 560, 'fn / grid keyword: the same results as Script Filter JSON'),
    [UID.gridConfig]: at(500, 560),
    [UID.grid]: at(640, 560, 'Grid View (Alfred 5.5+)'),
    [UID.indexKeyword]: at(40, 760),
    [UID.indexFileAction]: at(40, 900),
    [UID.indexStartNotify]: at(330, 720),
    [UID.indexScript]: at(330, 860),
    [UID.indexNotify]: at(560, 860),
    [UID.similarFileAction]: at(40, 1040, `${SIMILAR_ACTION}: File Action on images`),
    [UID.similarUniversalAction]: at(40, 1180, `${SIMILAR_ACTION}: Universal Action on files`),
  };

  const textfield = (variable, label, def, description, placeholder = '', required = false) => ({
    config: { default: def, placeholder, required, trim: true },
    description,
    label,
    type: 'textfield',
    variable,
  });
  const filepicker = (variable, label, description, placeholder) => ({
    config: { default: '', filtermode: 0, placeholder, required: false },
    description,
    label,
    type: 'filepicker',
    variable,
  });
  const userconfigurationconfig = [
    textfield('keyword', 'Search keyword', 'meme', 'Type it, a space and what you are looking for.', '', true),
    textfield('grid_keyword', 'Grid keyword', 'memegrid', 'The same search, shown in a grid (Alfred 5.5+). fn↩ on a result does it too.', '', true),
    textfield('index_keyword', 'Index keyword', 'memeindex', 'Indexes the folders below, or the folder typed after it.', '', true),
    {
      config: { default: '', required: false, trim: true, verticalsize: 4 },
      description: 'Folders to search, one a line (~ works). Empty: the folders in memery’s config.json; with the server running, everything memery has indexed.',
      label: 'Folders',
      type: 'textarea',
      variable: 'folders',
    },
    {
      config: { default: '20', pairs: [['12', '12'], ['20', '20'], ['30', '30'], ['50', '50'], ['100', '100']] },
      description: 'How many images a search shows.',
      label: 'Results',
      type: 'popupbutton',
      variable: 'result_count',
    },
    {
      config: { defaultvalue: 5, markercount: 9, maxvalue: 10, minvalue: 2, onlystoponmarkers: true, showmarkers: true },
      description: '',
      label: 'Grid columns',
      type: 'slider',
      variable: 'grid_columns',
    },
    filepicker('memery_path', 'memery path', 'The memery command (or its bin/memery.js). Empty: looked for next to node, in /opt/homebrew/bin, /usr/local/bin, ~/.volta/bin, ~/.nvm and ~/.npm-global/bin.', '/opt/homebrew/bin/memery'),
    filepicker('node_path', 'Node path', 'Node.js 20+. Empty: the one next to memery, then the usual install locations.', '/opt/homebrew/bin/node'),
    textfield('memery_home', 'memery home', '', 'Where memery keeps its catalog. Empty: MEMERY_HOME, else ~/Library/Application Support/memery.', '~/Library/Application Support/memery'),
    {
      config: { default: true, required: false, text: 'Start memery serve in the background when it is not running' },
      description: 'The server keeps the model loaded: each keystroke is answered in milliseconds instead of a second or more.',
      label: 'Server',
      type: 'checkbox',
      variable: 'start_server',
    },
  ];

  return {
    bundleid: 'dev.memery.alfred',
    category: 'Productivity',
    connections,
    createdby: about.createdby,
    description: 'Search your image folders by meaning (CLIP, on your Mac)',
    disabled: false,
    name: 'memery',
    objects,
    readme: README,
    uidata,
    userconfigurationconfig,
    variablesdontexport: [],
    version,
    webaddress: about.webaddress,
  };
}

// --- XML plist serialisation (the plist package) --------------------------------------------------

/** `value` with every dict's keys sorted, as Alfred writes them (plist.build keeps insertion order). */
const sortKeys = (v) =>
  Array.isArray(v) ? v.map(sortKeys) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])])) : v;

export function toPlistXml(value) {
  return `${build(sortKeys(value), { indent: '\t' })}\n`;
}

function readPackage() {
  return JSON.parse(readFileSync(join(WORKFLOW_DIR, '..', 'package.json'), 'utf8'));
}

export function packageVersion() {
  return readPackage().version;
}

export function infoPlistXml() {
  return toPlistXml(workflow(packageVersion()));
}

/** Writes alfred-workflow/info.plist; returns whether it changed. */
export function writeInfoPlist() {
  const file = join(WORKFLOW_DIR, 'info.plist');
  const xml = infoPlistXml();
  let old = '';
  try {
    old = readFileSync(file, 'utf8');
  } catch {
    /* first time */
  }
  if (old === xml) return false;
  writeFileSync(file, xml);
  return true;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(writeInfoPlist() ? 'alfred-workflow/info.plist written' : 'alfred-workflow/info.plist is up to date');
}
