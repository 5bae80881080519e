#!/usr/bin/env python3
"""Reference CLIP crops with PIL (the loader CLIP was trained with), for scripts/fidelity/shrink.mjs.

usage: pil_reference.py SHARED OUT [PHOTOS]
Writes OUT/big/*.jpg (1-29 MP JPEGs upscaled from SHARED/corpus images, where JPEG shrink-on-load
matters) and OUT/ref/<name>.png: convert("RGB"), shorter side to 224 with BICUBIC, longer side
int(224*long/short), centre crop with round() offsets. With PHOTOS (a folder of real photos), only
OUT/ref/<name>.png for each JPEG in it (the upscaled JPEGs are smooth; real photos have detail up to
their Nyquist frequency, where shrink-on-load differs most). Needs Debian's python3-pil.
"""
import os
import sys

from PIL import Image

S = 224


def reference(src, dst):
    im = Image.open(src).convert('RGB')
    w, h = im.size
    nw, nh = (S, int(S * h / w)) if w <= h else (int(S * w / h), S)
    im = im.resize((nw, nh), Image.BICUBIC)
    left, top = round((nw - S) / 2), round((nh - S) / 2)
    im.crop((left, top, left + S, top + S)).save(dst)


shared, out = sys.argv[1], sys.argv[2]
big, ref = os.path.join(out, 'big'), os.path.join(out, 'ref')
os.makedirs(ref, exist_ok=True)
if len(sys.argv) > 3:
    photos = sys.argv[3]
    names = [n for n in sorted(os.listdir(photos)) if n.lower().endswith(('.jpg', '.jpeg'))]
    for name in names:
        reference(os.path.join(photos, name), os.path.join(ref, name + '.png'))
    print(len(names))
    sys.exit(0)
os.makedirs(big, exist_ok=True)
photos = os.path.join(shared, 'corpus', 'photos')
memes = os.path.join(shared, 'corpus', 'memes')
sources = [os.path.join(photos, f) for f in ['astronaut.png', 'chelsea.png', 'coffee.png', 'rocket.jpg', 'motorcycle_left.png', 'camera.png']]
sources += [os.path.join(memes, f) for f in sorted(os.listdir(memes))[::8]]
i = 0
for src in sources:
    try:
        im = Image.open(src).convert('RGB')
    except Exception:
        continue
    for scale in (3.0, 5.5):
        w, h = im.size
        im.resize((int(w * scale), int(h * scale)), Image.BICUBIC).save(os.path.join(big, f'{i:02d}-{scale}.jpg'), quality=90)
        i += 1
for name in sorted(os.listdir(big)):
    reference(os.path.join(big, name), os.path.join(ref, name + '.png'))
print(i)
