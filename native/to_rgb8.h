// The colour steps shared by CLIP preprocessing (preprocess.cc) and OCR (ocr_image.cc): any
// libvips image to sRGB, 8 bits per band.
#pragma once
#include <vips/vips8>

namespace memery {

// Images in another colour space to sRGB: CMYK (its first 4 bands), Lab, XYZ, scRGB, HSV, LCh,
// CMC, Yxy. No ICC transform (as PIL's .convert("RGB")); other interpretations are returned as
// they are.
vips::VImage ToSrgbSpace(vips::VImage img);

// Every band of any format as 8 bits: 16-bit scaled, except 8-bit data stored in a 16-bit
// container (max <= 255, common in scans and scientific TIFFs), kept as is or it would turn
// black; float 0..1 (TIFF/FITS) scaled to 0..255. 16-bit and float images are decoded into
// memory first (their maximum is read before the cast).
vips::VImage To8Bit(vips::VImage img);

}  // namespace memery
