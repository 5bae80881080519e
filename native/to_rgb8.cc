#include "to_rgb8.h"

using vips::VImage;

namespace memery {

VImage ToSrgbSpace(VImage img) {
  switch (img.interpretation()) {
    case VIPS_INTERPRETATION_CMYK:
      if (img.bands() > 4) img = img.extract_band(0, VImage::option()->set("n", 4));
      return img.colourspace(VIPS_INTERPRETATION_sRGB);
    case VIPS_INTERPRETATION_LAB: case VIPS_INTERPRETATION_LABQ: case VIPS_INTERPRETATION_LABS:
    case VIPS_INTERPRETATION_XYZ: case VIPS_INTERPRETATION_scRGB: case VIPS_INTERPRETATION_HSV:
    case VIPS_INTERPRETATION_LCH: case VIPS_INTERPRETATION_CMC: case VIPS_INTERPRETATION_YXY:
      return img.colourspace(VIPS_INTERPRETATION_sRGB);
    default:
      return img;
  }
}

VImage To8Bit(VImage img) {
  const VipsBandFormat fmt = img.format();
  if (fmt == VIPS_FORMAT_USHORT || fmt == VIPS_FORMAT_SHORT) {
    img = img.copy_memory();
    if (img.max() <= 255.0) return img.cast(VIPS_FORMAT_UCHAR);
    return img.cast(VIPS_FORMAT_UCHAR, VImage::option()->set("shift", true));
  }
  if (fmt == VIPS_FORMAT_FLOAT || fmt == VIPS_FORMAT_DOUBLE) {
    img = img.copy_memory();
    if (img.max() <= 1.0) img = img * 255.0;
    return img.cast(VIPS_FORMAT_UCHAR);
  }
  if (fmt != VIPS_FORMAT_UCHAR) return img.cast(VIPS_FORMAT_UCHAR);
  return img;
}

}  // namespace memery
