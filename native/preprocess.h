// Image decoding and CLIP preprocessing: libvips decodes (first page, 8-bit RGB, JPEG shrink-on-load
// within shrinkMargin), a port of PIL's bicubic resizes the shorter side to the model size and takes
// the centre crop (upscale.h), and normalisation with the model's mean/std gives CHW floats.
#pragma once
#include <exception>
#include <cstddef>
#include <cstdint>
#include <string>

#include "read_file.h"
#include "thumbnail.h"

namespace memery {

// Every field is set from JS (ReadSpec in options.h), always: the defaults live in one place,
// PreprocessSpecSchema (ts/native/preprocess-spec.ts), with the model's own mean/std and size.
struct PreprocessSpec {
  int size = 0;
  float mean[3] = {0.0f, 0.0f, 0.0f};
  float std[3] = {1.0f, 1.0f, 1.0f};
  // JPEG shrink-on-load, used only while the shrunk shorter side stays >= shrinkMargin * size.
  bool shrinkOnLoad = false;
  double shrinkMargin = 0.0;
  // Refuse images with more pixels than this (decompression bombs).
  double maxPixels = 0.0;
  bool autorotate = false;
};

// Start libvips once per process (threadsafe).
void EnsureVips();

struct ImageSize {
  int width = 0, height = 0;  // of the stored image (first page), before any resize
};

// Checks that `path` is a non-empty regular file that libvips has a loader for; returns the
// loader's name. Throws memery::Error (E_NOT_FOUND, E_IO, E_DECODE) naming the path.
const char *FindImageLoader(const std::string &path);

// The libvips loader for `len` bytes of an encoded image held in memory. Throws E_DECODE: "Cannot
// decode <what>: ..." (empty, or no loader), with `path` as the error's path (may be empty).
const char *FindBufferLoader(const uint8_t *data, size_t len, const std::string &what, const std::string &path);

// Decode `len` bytes of an encoded image (read from `path`, which names it in errors) and write the
// size x size RGB crop (HWC, uint8) into `out`. Throws memery::Error E_DECODE with the path.
// With `thumb` (size > 0), the same decode also makes its JPEG thumbnail (thumbnail.h): every row is
// then decoded, shrink-on-load keeps the long side at least thumb->size, and the crop's bytes are
// the same as without. A thumbnail that cannot be made leaves thumb->jpeg empty, never an error.
ImageSize LoadCrop(const uint8_t *data, size_t len, const std::string &path, const PreprocessSpec &spec, uint8_t *out,
                   ThumbnailRequest *thumb = nullptr);

// Read `path` once (ReadWholeFile, refusing files over maxFileBytes) and decode it from memory.
// Throws memery::Error with E_NOT_FOUND / E_IO / E_TOO_LARGE / E_DECODE and the path.
ImageSize LoadCrop(const std::string &path, const PreprocessSpec &spec, uint8_t *out,
                   uint64_t maxFileBytes = kDefaultMaxFileBytes);

// HWC uint8 -> CHW float, (v/255 - mean) / std.
void Normalize(const uint8_t *rgb, const PreprocessSpec &spec, float *chw);

// The reason in a libvips error: its first non-empty line (loaders repeat themselves and add
// noise on the following ones), or a generic one when libvips left none.
std::string VipsReason(const std::exception &e);

// Call at the end of any std::thread that used libvips.
void VipsThreadDone();

}  // namespace memery
