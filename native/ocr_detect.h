// DB (differentiable binarization) post-processing of a text-detection probability map, after
// PaddleOCR's DBPostProcess + filter_tag_det_res + sorted_boxes: threshold, connected regions
// (8-connected), minimum-area rotated rectangle per region, box score (mean probability inside),
// unclip (grow by area * ratio / perimeter), back to the original image's pixels, reading order.
#pragma once
#include <vector>

#include "ocr_geometry.h"

namespace memery {
namespace ocr {

// The first four come from read()'s options (OcrReadOptionsSchema in ts/native/ocr.ts, where their
// defaults live).
struct DetParams {
  float thresh = 0;          // pixel threshold on the probability map
  float boxThresh = 0;       // drop boxes whose mean probability is lower
  float unclipRatio = 0;     // growth: offset distance = area * ratio / perimeter
  int maxCandidates = 0;     // regions considered, largest first
  int minSize = 3;           // drop boxes whose shorter side is below this (map pixels)
};

// `prob` is the [mapH, mapW] map for an image of srcW x srcH pixels. Returns quadrilaterals in
// source pixels, corners clockwise from top-left, in reading order.
std::vector<Quad> DbBoxes(const float *prob, int mapW, int mapH, int srcW, int srcH, const DetParams &p);

// PaddleOCR's sorted_boxes: by (top-left y, x), then neighbours whose y differ by < 10 px are put
// left to right.
void SortReadingOrder(std::vector<Quad> &boxes);

}  // namespace ocr
}  // namespace memery
