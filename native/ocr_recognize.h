// Text-line recognition after PaddleOCR (TextRecognizer + CTCLabelDecode): each detected box is
// cut from the decoded image by a perspective warp to an upright rectangle (turned 90 degrees when
// it is 1.5 times taller than wide), resized to height 48 keeping its aspect ratio, normalised to
// (x/255 - 0.5)/0.5 in BGR order, batched by width ratio (padded to the batch's widest; PaddleOCR
// also pads to at least 320 px, which minWidth restores), and decoded greedily: argmax per step,
// repeats collapsed, blanks (0) dropped.
#pragma once
#include <string>
#include <vector>

#include "ocr_geometry.h"
#include "ort_model.h"

namespace memery {
namespace ocr {

// The first four come from read()'s options (OcrReadOptionsSchema in ts/native/ocr.ts, where their
// defaults live); the rest are the model's.
struct RecParams {
  int batch = 0;            // crops per recogniser run (sorted by width ratio first)
  float dropScore = 0;      // lines with a lower mean character probability are dropped
  // A space goes between two characters when the space class reached this probability at a blank
  // step between them (0: only the spaces the model ranks first).
  float spaceScore = 0;
  int minWidth = 0;         // model input width floor (PaddleOCR pads to 320: rec_image_shape [3, 48, 320])
  int height = 48;          // model input height
  double maxPad = 1.25;     // crops batched together differ in width by at most this factor
  double maxRatio = 64.0;   // widest crop (width / height) read; wider ones are squeezed
};

struct Line {
  std::string text;
  float confidence = 0;  // mean probability of the kept characters
  Quad box;
};

// The CTC alphabet: index 0 is the blank, then one entry per dictionary line, then ' '.
struct Alphabet {
  std::vector<std::string> symbols;
  size_t space = 0;  // the index of ' ' (the last)
};
// Reads a dictionary file (one UTF-8 symbol per line). Throws memery::Error E_MODEL.
Alphabet ReadAlphabet(const std::string &path);

struct Crop {
  size_t box = 0;
  double h[9];            // upright crop pixel (u, v) -> source pixel
  double cw = 0, ch = 0;  // crop size before the quarter turn
  bool rotated = false;
  double ratio = 0;  // width / height as fed to the model
};

// The recognition of one image's boxes, in batches that may run on different threads at once
// (each writes only its own lines).
struct RecPlan {
  std::vector<Crop> crops;                           // sorted by ratio
  std::vector<std::pair<size_t, size_t>> batches;    // [start, start + n) of crops
  std::vector<Line> found;                           // per box
  std::vector<char> kept;                            // per box
  std::vector<double> runMs;                         // per batch: ONNX Runtime's Run alone (profiling)
};
RecPlan PlanRecognition(const std::vector<Quad> &boxes, const RecParams &p);
// Runs batch `b` of the plan on an RGB image (HWC, 8-bit). ONNX Runtime's Run is thread-safe: no lock.
void RecognizeBatch(OrtModel &rec, const Alphabet &alphabet, const uint8_t *rgb, int width, int height,
                    const std::vector<Quad> &boxes, const RecParams &p, RecPlan &plan, size_t b);
// The kept lines in the order of `boxes`.
std::vector<Line> CollectLines(RecPlan &plan);

// Recognises the text in `boxes` of an RGB image (HWC, 8-bit) on the calling thread. Returns the
// kept lines in the order of `boxes`.
std::vector<Line> Recognize(OrtModel &rec, const Alphabet &alphabet, const uint8_t *rgb, int width, int height,
                            const std::vector<Quad> &boxes, const RecParams &p);

}  // namespace ocr
}  // namespace memery
