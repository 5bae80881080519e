// Hand transcriptions of meme captions (read off the images in ../shared/corpus/memes) and the
// character error rate used by test/native-ocr.test.ts and scripts/bench/ocr.mjs.

/**
 * Every text line of each caption, in reading order. Typographic quotes are written as the
 * straight ones `normalise` maps them to. Other writing in the picture (a TV channel's logo) is
 * not part of the caption.
 */
export const CAPTIONS = {
  'Wholesome-Meme-1.jpg': ['My grandpa who knows nothing about', 'video games but loves me very much', 'and wants to relate to me:', 'ARE YA WINNING?'],
  'Wholesome-Meme-28.jpg': [
    'When you only have 1 item in line at the',
    'grocery store and the person in front of',
    'you lets you go ahead of them',
    'That was very cash money of you',
  ],
  'Wholesome-Meme-5.jpg': ['If you ever find', 'yourself cringing', 'at something you', 'did in the past, it', 'means you have', 'grown as a', 'person'],
  'Wholesome-Meme-63.jpg': ['When someone compliments', "your English and it's", 'your second language'],
  'Wholesome-Meme-36.jpg': ['Dads showing other dads the ribs', 'they grilled over the weekend'],
  'Wholesome-Meme-15.jpg': ['BOYS', 'THAT ONE COMPLIMENT', 'THEY GOT YEARS AGO.'],
  'Wholesome-Meme-45.jpg': ["When your best friend's parents say", `"you're not a guest anymore, you're`, 'family"'],
  'Wholesome-Meme-39.jpg': ["me: I'm gonna start", 'having fun on my days off', 'me on my days off:'],
  'Wholesome-Meme-64.jpg': ['Has a bee ever landed on you, and', 'instead of being scared, you', 'appreciate the possibility that you got', 'confused for a flower'],
};

/** Lower case, no whitespace, typographic quotes as straight ones. */
export function normalise(s) {
  return s
    .toLowerCase()
    .replace(/[\u2018\u2019\u201b\u2032]/g, "'")
    .replace(/[\u201c\u201d\u201f\u2033]/g, '"')
    .replace(/\s+/g, '');
}

/**
 * Edit distance between `ref` and the best-matching substring of `hyp`: leading and trailing
 * characters of `hyp` are free (other writing in the picture is not an error in the caption).
 */
export function substringEditDistance(ref, hyp) {
  const a = [...ref];
  const b = [...hyp];
  let prev = new Array(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    const cur = new Array(b.length + 1);
    cur[0] = i;
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return Math.min(...prev);
}

/** Lower case, typographic quotes as straight ones, every run of whitespace (line breaks too) as one space. */
export function normaliseSpaced(s) {
  return normalise(s.replace(/\s+/g, '\u0001')).replace(/\u0001/g, ' ').trim();
}

/**
 * CER over the captions; `texts` maps file name -> recognised text. `cer`, `edits`, `chars`,
 * `per: { name: rate }` ignore whitespace (what matching sees); `spaced` counts the spaces between
 * words too (what a person reads or copies), the caption's lines and the text's joined by a space.
 */
export function captionCer(texts) {
  let edits = 0;
  let chars = 0;
  let spacedEdits = 0;
  let spacedChars = 0;
  const per = {};
  for (const [name, lines] of Object.entries(CAPTIONS)) {
    if (!(name in texts)) continue;
    const ref = normalise(lines.join(''));
    const d = substringEditDistance(ref, normalise(texts[name] ?? ''));
    edits += d;
    chars += [...ref].length;
    per[name] = d / [...ref].length;
    const refSpaced = normaliseSpaced(lines.join(' '));
    spacedEdits += substringEditDistance(refSpaced, normaliseSpaced(texts[name] ?? ''));
    spacedChars += [...refSpaced].length;
  }
  return {
    cer: chars ? edits / chars : NaN,
    edits,
    chars,
    per,
    spaced: { cer: spacedChars ? spacedEdits / spacedChars : NaN, edits: spacedEdits, chars: spacedChars },
  };
}
